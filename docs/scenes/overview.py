"""Chapter 0: one held-out sort problem through the whole trained model, letters in,
the next letter out.

Everything shown is measured when the clip renders: the book's sample input (a row of
the sort validation split, presets.sample_input), every stage's output as forward hooks
catch it (drawn as a heat map, positions across, channels down), and the trained
model's scores for the last position.
"""

import itertools

import torch
from bookscene import *
from palette import ACCENT, POSITIVE, ROLE, TEXT, TEXT_2

CELL = 0.62
MAP_WIDTH, MAP_HEIGHT = 1.3, 1.9  # a (T, C) heat map: 11 positions across, 48 channels down
LEVELS = 6  # shades per sign
HEAD_ROW = 0.2  # drawn height of one row of the head's map: 3 rows at scale would be a line
# (module, title, role colour) for the stages the data passes, in order
STAGES = (
    ("transformer.drop", "wte + wpe", ROLE["x"]),  # drop's output is the embeddings' sum
    ("transformer.h.0", "block 0", ROLE["x"]),
    ("transformer.h.1", "block 1", ROLE["x"]),
    ("transformer.h.2", "block 2", ROLE["x"]),
    ("transformer.ln_f", "ln_f", ROLE["x"]),
    ("lm_head", "lm_head", ROLE["logits"]),
)


def run_once():
    """The trained run, the input ids (1, T) and every stage's output (1, T, ...)."""
    from model_src import presets, trained

    sort = trained.get("sort")
    model = sort.model
    idx = presets.sample_input("sort")
    outputs = {}
    hooks = [
        model.get_submodule(name).register_forward_hook(
            lambda m, i, out, name=name: outputs.update({name: out})
        )
        for name, _, _ in STAGES
    ]
    try:
        with torch.no_grad():
            # with targets the head scores every position, not just the last; any will do
            model(idx, torch.roll(idx, -1, dims=1))
    finally:
        for hook in hooks:
            hook.remove()
    return sort, idx, outputs


def dims(shape) -> str:
    return "×".join(map(str, shape))


def heat_map(values: torch.Tensor, color: str, height: float) -> VGroup:
    """values (T, n) as a grid, positions across and channels down, saturating at 3
    standard deviations of the stage."""
    T, n = values.shape
    cells = heat_grid(values.T, MAP_WIDTH / T, height / n, color, 3 * values.std().item(), LEVELS)
    frame = SurroundingRectangle(cells[0], buff=0.03, color=color, stroke_width=2)
    return VGroup(cells, frame)


def token_cells(texts, color, size=26):
    row = VGroup()
    for text in texts:
        box = panel(CELL, CELL, stroke=color)
        row.add(VGroup(box, label(text, size, color).move_to(box)))
    return row.arrange(RIGHT, buff=0.06)


class PipelineScene(BookScene):
    def construct(self):
        sort, idx, outputs = run_once()
        cfg = sort.model.config
        itos, prompt_len = sort.meta["itos"], sort.meta["prompt_len"]
        ids = idx[0].tolist()
        last_logits = outputs["lm_head"][0, -1]
        predicted = int(last_logits.argmax())
        x_shape = dims(outputs["transformer.h.0"].shape)
        self.show_title("The whole pipeline, on one sort problem")
        id_row, id_name, legend = self.show_ids(itos, ids, prompt_len, dims(idx.shape))
        columns, narration, key = self.show_stages(cfg, outputs, id_row, x_shape)
        rows = self.show_forecast(cfg, itos, last_logits, predicted, columns[-1][1], key)
        self.append(itos, ids, prompt_len, predicted, (id_row, id_name, legend), rows, narration)
        self.wait(2.0)
        self.mark_poster()  # the whole picture, just before the takeaway card
        self.takeaway(
            "Token ids in, next-token scores out.",
            f"{dims(idx.shape)} ids become {x_shape} vectors, refined by {cfg.n_layer} blocks;\n"
            f"the head scores the {cfg.vocab_size} letters at every position "
            f"({dims(outputs['lm_head'].shape)}).",
        )

    def show_ids(self, itos: dict, ids: list[int], prompt_len: int, idx_shape: str):
        """Letters, then the ids the model reads."""
        letters = [itos[i] for i in ids]
        letter_row = (
            token_cells(letters, ROLE["ids"]).move_to([0, 2.05, 0]).to_edge(LEFT, buff=1.35)
        )
        prompt = label("held-out prompt", MIN_TEXT, TEXT_2).next_to(
            letter_row[:prompt_len], UP, 0.1
        )
        answer = label("sorted so far", MIN_TEXT, TEXT_2).next_to(letter_row[prompt_len:], UP, 0.1)
        shown = "".join(letters)
        said(prompt, f"held-out prompt {shown[:prompt_len]}, sorted so far {shown[prompt_len:]}")
        self.play(
            LaggedStart(*[FadeIn(c, shift=0.1 * DOWN) for c in letter_row], lag_ratio=0.05),
            FadeIn(prompt),
            FadeIn(answer),
            run_time=1.2,
        )
        id_row = token_cells([str(i) for i in ids], ROLE["ids"]).move_to(letter_row)
        id_name = VGroup(
            label("idx", MIN_TEXT, ROLE["ids"]), label(idx_shape, MIN_TEXT, TEXT_2, True)
        )
        id_name.arrange(DOWN, buff=0.06).next_to(id_row, LEFT, buff=0.25)
        vocab = ", ".join(f"{s} → {i}" for i, s in sorted(itos.items()))
        legend = label(vocab, MIN_TEXT, ROLE["ids"]).next_to(letter_row, RIGHT, buff=0.5)
        self.play(
            *[ReplacementTransform(a, b) for a, b in zip(letter_row, id_row, strict=True)],
            FadeIn(id_name),
            FadeIn(legend),
            run_time=1.0,
        )
        self.wait(0.5)
        return id_row, id_name, legend

    def show_stages(self, cfg, outputs: dict, id_row: VGroup, x_shape: str):
        """Every stage's real output: the same 1×11×48 until the head makes it 1×11×3.
        Returns the stages' columns, the narration line and the maps' key."""
        columns = []
        gap = 0.62
        for i, (name, title, color) in enumerate(STAGES):
            values = outputs[name][0]  # (T, n)
            height = MAP_HEIGHT if values.size(1) == cfg.n_embd else HEAD_ROW * values.size(1)
            x = (i - (len(STAGES) - 1) / 2) * (MAP_WIDTH + gap)
            heat = heat_map(values, color, height).move_to([x, -0.2, 0])
            shape = label(dims(outputs[name].shape), MIN_TEXT, TEXT_2, mono=True)
            columns.append(
                Group(
                    label(title, MIN_TEXT, color).move_to([x, 0.98, 0]),
                    heat,
                    shape.next_to(heat, DOWN, buff=0.15),
                )
            )
        feed = main_arrow(
            [columns[0].get_x(), id_row.get_bottom()[1], 0], columns[0][0].get_top(), ROLE["ids"]
        )
        arrows = [
            main_arrow(a[1].get_right(), [b[1].get_left()[0], a[1].get_y(), 0])
            for a, b in itertools.pairwise(columns)
        ]
        narration = label("", MIN_TEXT)
        steps = [
            f"wte + wpe: each id becomes a {cfg.n_embd}-wide vector, plus its position's",
            "block 0: attention and MLP add to every vector",
            "block 1: the same shape in and out",
            f"block 2: the shape is still {x_shape}",
            "ln_f: the stream itself normalised, once, at the end",
            f"lm_head: a score for each of the {cfg.vocab_size} letters, at every position",
        ]
        incoming = [feed, *arrows]
        for arrow, column, step in zip(incoming, columns, steps, strict=True):
            text = caption(step, MIN_TEXT, TEXT).move_to([0, -2.3, 0]).to_edge(LEFT, buff=0.6)
            self.play(
                GrowArrow(arrow),
                FadeIn(column, shift=0.1 * RIGHT),
                FadeOut(narration),
                FadeIn(text),
                run_time=0.75,
            )
            narration = text
            self.wait(0.35)
        key = caption(
            f"each map: {cfg.block_size} positions across, channels down;\n"
            "bright = large, grey = negative",
            MIN_TEXT,
            TEXT_2,
        ).next_to(narration, DOWN, buff=0.2, aligned_edge=LEFT)
        self.play(FadeIn(key), run_time=0.5)
        self.wait(1.2)
        return columns, narration, key

    def show_forecast(self, cfg, itos, last_logits, predicted: int, head_map, key) -> VGroup:
        """The last position's scores, as probabilities: the forecast for the next letter."""
        probs = last_logits.softmax(-1).tolist()
        column_width = MAP_WIDTH / cfg.block_size
        last = Rectangle(width=column_width + 0.06, height=head_map.height + 0.06)
        last.set_stroke(ACCENT, 3).move_to(head_map[0].get_right() + LEFT * column_width / 2)
        rows = VGroup()
        left = 2.2
        for i, (logit, p) in enumerate(zip(last_logits.tolist(), probs, strict=True)):
            color = POSITIVE if i == predicted else TEXT_2
            y = -2.75 - 0.42 * i  # under the narration line
            logit_text = number(logit, "+.2f")
            bar = Rectangle(width=max(1.4 * p, 0.02), height=0.26, stroke_width=0)
            rows.add(
                VGroup(
                    label(itos[i], MIN_TEXT, color).move_to([left, y, 0]),
                    label(logit_text, MIN_TEXT, ROLE["logits"], mono=True).move_to(
                        [left + 0.9, y, 0]
                    ),
                    bar.set_fill(color, 1).move_to([left + 1.6, y, 0], aligned_edge=LEFT),
                    label(f"{p:.4f}", MIN_TEXT, color, mono=True).move_to([left + 3.9, y, 0]),
                )
            )
            said(rows[-1], f"{itos[i]}: logit {logit_text}, probability {p:.4f}")
        heading = caption("last position: logits → softmax", MIN_TEXT, TEXT)
        heading.next_to(rows, LEFT, buff=0.4)
        to_rows = side_arrow(last.get_bottom(), [last.get_x(), rows.get_top()[1], 0], ACCENT)
        self.play(Create(last), GrowArrow(to_rows), FadeIn(heading), FadeOut(key), run_time=0.8)
        self.play(
            LaggedStart(*[FadeIn(r, shift=0.1 * DOWN) for r in rows], lag_ratio=0.15),
            run_time=1.0,
        )
        self.wait(1.2)
        return rows

    def append(self, itos, ids, prompt_len: int, predicted: int, id_part, rows, narration):
        """The likeliest letter is appended: the sequence grows by one. ``id_part``: the
        id row, its name and the vocabulary legend."""
        id_row, id_name, legend = id_part
        next_cell = token_cells([itos[predicted]], POSITIVE)[0]
        next_cell.next_to(id_row, RIGHT, buff=0.06)
        answer_ids = [*ids[prompt_len:], predicted]
        correct = answer_ids == sorted(ids[:prompt_len])
        verdict = caption(
            f"answer {''.join(itos[i] for i in answer_ids)}:\n"
            + ("sorted ✓" if correct else "not sorted ✗"),
            MIN_TEXT,
            POSITIVE if correct else ACCENT,
        )
        appended = caption(f"the likeliest letter, {itos[predicted]}, is appended", MIN_TEXT, TEXT)
        appended.move_to(narration, aligned_edge=LEFT)
        self.play(
            FadeOut(legend),
            FadeOut(id_name),
            TransformFromCopy(rows[predicted][0], next_cell),
            swap(narration, appended),
            run_time=1.0,
        )
        letters_again = token_cells([*[itos[i] for i in ids], itos[predicted]], ROLE["ids"])
        letters_again.move_to(VGroup(id_row, next_cell))
        verdict.next_to(letters_again, RIGHT, buff=0.3)
        self.play(
            *[
                ReplacementTransform(a, b)
                for a, b in zip([*id_row, next_cell], letters_again, strict=True)
            ],
            FadeIn(verdict),
            run_time=1.0,
        )
