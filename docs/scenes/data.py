"""Chapter 1: a sort problem becomes integers, and get_batch cuts it into x and y.

Everything shown is a real batch: the first row that prepare.sample_batch draws from
the sort training split with the training run's own seed, batch size and block size.
"""

import torch
from bookscene import *
from palette import ACCENT, ACCENT_2, ROLE, TEXT_2

CELL = 0.95  # twelve cells span most of the frame's width


def load_batch_row():
    """The first (x, y) row of the first training batch, and what it needs to be read."""
    from model_src import prepare, train

    cfg = train.read_config_file(train.config_file_for("sort"))
    data = prepare.sort_data()
    generator = torch.Generator().manual_seed(train.DEFAULTS["seed"])
    x, y = prepare.sample_batch(
        data.train, data.meta, cfg["batch_size"], cfg["block_size"], generator
    )
    return x[0].tolist(), y[0].tolist(), data.meta, cfg


def spoken(values) -> str:
    """A row of ids as the transcript says it: "−1" with a true minus, as the cell shows."""
    return " ".join(str(v).replace("-", "−") for v in values)


def cells(values, color, size=36):
    """A row of token cells with the values written in them."""
    row = VGroup()
    for value in values:
        box = panel(CELL, CELL, stroke=color)
        row.add(VGroup(box, label(str(value), size, color).move_to(box)))
    return row.arrange(RIGHT, buff=0.12)


class DataBatchScene(BookScene):
    def construct(self):
        x, y, meta, cfg = load_batch_row()
        itos, prompt_len = meta["itos"], meta["prompt_len"]
        row_ids = [*x, y[-1]]  # the whole stored row: x plus the one token only y sees
        self.show_title("Data: text → integers", "one sort problem, as get_batch serves it")
        letters, prompt, answer = self.show_problem(itos, row_ids, prompt_len)
        ids, legend = self.encode(itos, row_ids, letters)
        shifted, arrows, shift_note = self.shift_targets(
            x, y, row_ids, ids, (legend, prompt, answer)
        )
        mask_note = self.mask_prompt(y, shifted, arrows, shift_note)
        shape = caption(
            f"x, y: {cfg['batch_size']} × {cfg['block_size']}   (batch_size × block_size)",
            30,
            ACCENT,
        )
        shape.next_to(mask_note, DOWN, buff=0.35)
        self.play(Write(shape), run_time=1.0)
        self.wait(2.0)
        self.mark_poster()  # the whole picture, just before the takeaway card
        self.takeaway(
            "The target is the input shifted left by one.",
            "Every position predicts the next token; the sort task scores\n"
            "only the positions whose next token is determined.",
        )

    def show_problem(self, itos: dict, row_ids: list[int], prompt_len: int):
        """The stored row as letters: the prompt, then its sorted answer."""
        letters = cells([itos[i] for i in row_ids], ROLE["ids"]).move_to(UP * 0.6)
        prompt = label("prompt", 28, TEXT_2).next_to(letters[:prompt_len], UP, buff=0.2)
        answer = label("sorted", 28, TEXT_2).next_to(letters[prompt_len:], UP, buff=0.2)
        shown = "".join(itos[i] for i in row_ids)
        said(prompt, f"prompt {shown[:prompt_len]}, sorted {shown[prompt_len:]}")
        self.play(
            LaggedStart(*[FadeIn(c, shift=0.1 * DOWN) for c in letters], lag_ratio=0.08),
            FadeIn(prompt),
            FadeIn(answer),
            run_time=1.6,
        )
        self.wait(0.8)
        return letters, prompt, answer

    def encode(self, itos: dict, row_ids: list[int], letters: VGroup):
        """Each letter becomes its integer, by the vocabulary shown."""
        vocab = ", ".join(f"{s} → {i}" for i, s in sorted(itos.items()))
        legend = caption(f"vocabulary: {vocab}", 32, ROLE["ids"]).move_to(DOWN * 1.2)
        ids = cells(row_ids, ROLE["ids"]).move_to(letters)
        said(ids[0], f"the row as ids: {spoken(row_ids)}")  # the cells replace the letters
        self.play(FadeIn(legend))
        self.play(
            *[ReplacementTransform(a, b) for a, b in zip(letters, ids, strict=True)], run_time=1.2
        )
        self.wait(0.8)
        return ids, legend

    def shift_targets(self, x, y, row_ids, ids: VGroup, leaving: tuple):
        """x is the row without its last token; y is the row without its first. The
        vocabulary and the row's labels (``leaving``) go."""
        x_row = cells(x, ROLE["ids"]).move_to(UP * 1.2 + LEFT * (CELL + 0.12) / 2)
        y_row = cells(y, ACCENT_2).next_to(x_row, DOWN, buff=1.1)
        x_name = label("x", 40, ROLE["ids"]).next_to(x_row, LEFT, buff=0.3)
        y_name = label("y", 40, ACCENT_2).next_to(y_row, LEFT, buff=0.3)
        said(x_name, f"x, the row without its last id: {spoken(x)}")
        said(y_name, f"y, the row without its first id: {spoken(row_ids[1:])}")
        self.play(
            *[FadeOut(mobject) for mobject in leaving],
            ReplacementTransform(ids[:-1], x_row[:]),
            FadeOut(ids[-1]),
            FadeIn(x_name),
            run_time=1.2,
        )
        shifted = cells(row_ids[1:], ACCENT_2).move_to(y_row)
        self.play(
            TransformFromCopy(x_row[1:], shifted[:-1]),
            FadeIn(shifted[-1]),
            FadeIn(y_name),
            run_time=1.4,
        )
        arrows = VGroup(
            *[
                side_arrow(a.get_bottom(), b.get_top(), ACCENT)
                for a, b in zip(x_row, shifted, strict=True)
            ]
        )
        shift_note = caption("y[t] is the token after x[t]: the one to predict", 28, TEXT_2)
        shift_note.next_to(y_row, DOWN, buff=0.45)
        self.play(
            LaggedStart(*[GrowArrow(a) for a in arrows], lag_ratio=0.06),
            FadeIn(shift_note),
            run_time=1.4,
        )
        self.wait(1.2)
        return shifted, arrows, shift_note

    def mask_prompt(self, y, shifted: VGroup, arrows: VGroup, shift_note: Text) -> Text:
        """The prompt letters are random: their targets are -1, which the loss skips."""
        masked = [i for i, target in enumerate(y) if target == -1]
        minus = VGroup(*[label("−1", 32, TEXT_2).move_to(shifted[i]) for i in masked])
        mask_note = caption(
            f"prompt targets → −1: not scored ({len(masked)} of {len(y)})", 28, TEXT_2
        ).move_to(shift_note)
        start = self.renderer.time
        self.play(
            *[FadeOut(shifted[i][1]) for i in masked],
            *[shifted[i][0].animate.set_stroke(TEXT_2) for i in masked],
            FadeIn(minus),
            FadeOut(arrows[: len(masked)]),
            swap(shift_note, mask_note),
            run_time=1.2,
        )
        self.beat(f"y now: {spoken(y)}", at=start)  # the row in words, after the caption
        self.wait(0.8)
        return mask_note
