"""Chapter 7: logits → softmax → cross-entropy, at one real position of the trained sort model;
then the loss at initialisation next to ln 3 and the trained model's best val loss.

Every number is measured when the clip renders: the trained model's logits on the first
held-out sort problem, and an untrained GPT (seed 0) on the training run's first batch.
"""

import math

import torch
from bookscene import *
from palette import ACCENT, ACCENT_2, POSITIVE, ROLE, TEXT, TEXT_2

VAL_ROW = 0  # the first held-out sort problem
POSITION = 7  # its third sorted letter: after two A's the model must know the A's are done
CELL = 0.62


def trained_prediction():
    """The tokens up to POSITION, the trained model's logits there, and the true next token."""
    from model_src import prepare, trained

    sort = trained.get("sort")
    data = prepare.sort_data()
    row = data.val.reshape(-1, data.meta["seq_len"])[VAL_ROW].astype("int64").tolist()
    context = torch.tensor([row[: POSITION + 1]])
    with torch.no_grad():
        logits, _ = sort.model(context)  # (1, 1, vocab_size): the next-token scores
    return sort, row, logits[0, -1].tolist(), row[POSITION + 1]


def untrained_loss():
    """Loss of an untrained sort GPT on the training run's first batch, and how often
    a scored target repeats the letter before it (what an untrained model favours)."""
    from model_src import prepare, presets, train
    from model_src.model import GPT

    cfg = train.read_config_file(train.config_file_for("sort"))
    data = prepare.sort_data()
    generator = torch.Generator().manual_seed(train.DEFAULTS["seed"])
    x, y = prepare.sample_batch(
        data.train, data.meta, cfg["batch_size"], cfg["block_size"], generator
    )
    torch.manual_seed(0)
    model = GPT(presets.gpt_config("sort")).eval()
    with torch.no_grad():
        logits, loss = model(x, y)
    scored = y != -1
    p_repeat = logits.softmax(-1).gather(-1, x[..., None])[..., 0][scored].mean().item()
    repeats = ((y == x) & scored).sum().item()
    return loss.item(), p_repeat, repeats, scored.sum().item()


def value_cell(letter: str, text: str, color: str, width: float = 1.75):
    """A card for one vocabulary entry: the letter small and grey, its value beneath."""
    card = panel(width, 0.85, stroke=color)
    body = VGroup(label(letter, MIN_TEXT, TEXT_2), label(text, MIN_TEXT, color)).arrange(
        DOWN, buff=0.06
    )
    return VGroup(card, body.move_to(card))


def row_words(row: VGroup) -> str:
    """A row of value_cells as words: "A 1.23, B 4.56"."""
    return ", ".join(f"{c[1][0].original_text} {c[1][1].original_text}" for c in row)


def loss_bar(name: str, value: float, text: str, color: str, scale: float):
    """One row of the init comparison: name, a bar as long as the loss, the number."""
    value_bar = bar(value * scale, 0.42, color)
    value_text = label(text, 26, color).next_to(value_bar, RIGHT, buff=0.2)
    name_text = label(name, MIN_TEXT, TEXT).next_to(value_bar, LEFT, buff=0.3)
    said(name_text, f"{name} = {text}")  # the transcript's line for the bar
    return VGroup(name_text, value_bar, value_text)


class LossScene(BookScene):
    def construct(self):
        sort, row, logits, target = trained_prediction()
        init_loss, p_repeat, repeats, scored = untrained_loss()
        probs = torch.tensor(logits).softmax(-1).tolist()
        letters = [sort.meta["itos"][i] for i in range(len(logits))]

        title = self.show_title(
            "Logits → softmax → loss", "the trained sort model at one position of the sorted half"
        )
        seq = self.show_context(sort.meta, row)
        logit_row, logit_name = self.show_logits(letters, logits, seq)
        prob_row, softmax = self.show_softmax(letters, probs, logit_row, logit_name)
        self.show_cross_entropy(letters, probs, target, prob_row, softmax)
        self.compare_with_init(sort, init_loss, (p_repeat, repeats, scored), title)
        self.mark_poster()  # the whole picture, just before the takeaway card
        self.takeaway(
            "The loss is −log of the probability\nthe model gives the right token.",
            f"Untrained, it guesses about uniformly: loss ≈ ln 3 = {math.log(3):.4f}.\n"
            f"Trained: {sort.best_val_loss:.5f} on held-out problems.",
        )

    def show_context(self, meta: dict, row) -> VGroup:
        """The context, its last letter highlighted, and the unknown next one."""
        itos, prompt_len = meta["itos"], meta["prompt_len"]
        seq = VGroup()
        for i, token in enumerate(row[: POSITION + 1]):
            box = panel(
                CELL,
                CELL,
                stroke=ACCENT if i == POSITION else TEXT_2,
                stroke_width=4 if i == POSITION else 2,
            )
            seq.add(VGroup(box, label(itos[token], 26, ROLE["ids"]).move_to(box)))
        unknown = panel(CELL, CELL, stroke=ACCENT_2)
        seq.add(VGroup(unknown, label("?", 26, ACCENT_2).move_to(unknown)))
        seq.arrange(RIGHT, buff=0.1)
        seq.shift(UP * 1.6 + RIGHT * (0.8 - seq[POSITION].get_x()))
        prompt = label("prompt", MIN_TEXT, TEXT_2).next_to(seq[:prompt_len], UP, buff=0.15)
        answer = label("sorted so far", MIN_TEXT, TEXT_2).next_to(seq[prompt_len:], UP, buff=0.15)
        prompt.set_y(answer.get_y())  # "p" hangs below the line: align centres, not bottoms
        shown = [itos[token] for token in row[: POSITION + 1]]
        said(
            prompt,
            f"prompt {''.join(shown[:prompt_len])}, sorted so far "
            f"{''.join(shown[prompt_len:])}: which letter next?",
        )
        self.play(
            LaggedStart(*[FadeIn(c, shift=0.1 * DOWN) for c in seq], lag_ratio=0.06),
            FadeIn(prompt),
            FadeIn(answer),
            run_time=1.4,
        )
        return seq

    def show_logits(self, letters: list[str], logits, seq: VGroup) -> tuple[VGroup, Text]:
        """Logits: one score per letter, read out at the highlighted position."""
        logit_row = VGroup(
            *[
                value_cell(s, number(z, ".2f"), ROLE["logits"])
                for s, z in zip(letters, logits, strict=True)
            ]
        )
        logit_row.arrange(RIGHT, buff=0.2).move_to([seq[POSITION].get_x(), 0.2, 0])
        logit_name = label("logits z", MIN_TEXT, ROLE["logits"]).next_to(logit_row, LEFT, buff=0.4)
        said(logit_name, "logits z: " + row_words(logit_row))  # the row's name says the row
        to_logits = main_arrow(seq[POSITION].get_bottom(), logit_row.get_top())
        model_note = label("trained model", MIN_TEXT, TEXT_2).next_to(to_logits, RIGHT, buff=0.15)
        self.play(GrowArrow(to_logits), FadeIn(model_note), run_time=0.8)
        self.play(FadeIn(logit_row, shift=0.1 * DOWN), FadeIn(logit_name), run_time=0.9)
        self.wait(0.8)
        return logit_row, logit_name

    def show_softmax(self, letters, probs, logit_row: VGroup, logit_name: Text):
        """Softmax: exponentiate and normalise, so the scores become probabilities."""
        prob_row = VGroup(
            *[value_cell(s, f"{p:.5f}", ROLE["probs"]) for s, p in zip(letters, probs, strict=True)]
        )
        prob_row.arrange(RIGHT, buff=0.2).move_to([logit_row.get_x(), -1.4, 0])
        prob_name = label("probs p", MIN_TEXT, ROLE["probs"]).next_to(prob_row, LEFT, buff=0.4)
        prob_name.align_to(logit_name, RIGHT)
        said(prob_name, "probs p: " + row_words(prob_row))
        to_probs = main_arrow(logit_row.get_bottom(), prob_row.get_top())
        softmax = MathTex(r"p_i = \frac{e^{z_i}}{\sum_j e^{z_j}}", font_size=34, color=TEXT)
        said(softmax, "softmax: p_i = e^(z_i) / Σ_j e^(z_j)")
        softmax.next_to(logit_row, RIGHT, buff=0.5).set_y(to_probs.get_y())
        self.play(GrowArrow(to_probs), Write(softmax), run_time=1.0)
        self.play(
            *[TransformFromCopy(a, b) for a, b in zip(logit_row, prob_row, strict=True)],
            FadeIn(prob_name),
            run_time=1.2,
        )
        self.wait(0.8)
        return prob_row, softmax

    def show_cross_entropy(self, letters, probs, target: int, prob_row, softmax) -> None:
        """Cross-entropy: only the probability of the true next letter counts."""
        loss = -math.log(probs[target])
        target_cell = prob_row[target]
        target_note = caption(f"target: {letters[target]}", MIN_TEXT, ACCENT_2)
        target_note.next_to(prob_row, RIGHT, buff=0.3)
        loss_text = caption(
            f"loss = −log p({letters[target]}) = −log {probs[target]:.5f} = {loss:.5f}",
            MIN_TEXT,
            ROLE["loss"],
        )
        loss_box = panel(loss_text.width + 0.6, 0.75, stroke=ROLE["loss"], stroke_width=3)
        loss_box.move_to([target_cell.get_x(), -3.05, 0])
        loss_text.move_to(loss_box)
        to_loss = main_arrow(target_cell.get_bottom(), loss_box.get_top(), ROLE["loss"])
        formula = MathTex(r"\ell = -\log p_{\text{target}}", font_size=34, color=TEXT)
        said(formula, "ℓ = −log p(target)")
        formula.move_to(softmax, aligned_edge=LEFT).set_y(to_loss.get_y())
        self.play(
            target_cell[0].animate.set_stroke(ACCENT_2, width=4),
            FadeIn(target_note),
            *[c.animate.set_opacity(0.35) for i, c in enumerate(prob_row) if i != target],
            run_time=0.8,
        )
        self.play(GrowArrow(to_loss), Write(formula), run_time=0.9)
        self.play(FadeIn(loss_box), Write(loss_text), run_time=1.0)
        self.wait(2.0)

    def compare_with_init(self, sort, init_loss: float, repeats: tuple, title: VGroup) -> None:
        """How far training came: ln 3 (a uniform guess) and an untrained model's real loss;
        ``repeats``: the untrained model's p(repeat), the repeats and the scored targets."""
        p_repeat, repeated, scored = repeats
        stage = [m for m in self.mobjects if m is not title]
        init_title = VGroup(
            caption("Loss at initialisation", 36),
            caption("the mean of −log p(target) over a batch", MIN_TEXT, TEXT_2),
        )
        init_title.arrange(DOWN, buff=0.12).move_to(title)
        scale = 4.5
        rows = VGroup(
            loss_bar("uniform guess: ln 3", math.log(3), f"{math.log(3):.4f}", TEXT_2, scale),
            loss_bar(
                "untrained GPT (seed 0)",
                init_loss,
                f"{init_loss:.4f}",
                ROLE["loss"],
                scale,
            ),
            loss_bar(
                "trained: best val loss",
                sort.best_val_loss,
                f"{sort.best_val_loss:.5f}",
                POSITIVE,
                scale,
            ),
        )
        for i, bar_row in enumerate(rows):  # bars start on one line, under each other
            bar_row.shift([-0.4 - bar_row[1].get_left()[0], 1.2 - 1.1 * i, 0])
        note = caption(
            f"A little under ln 3: tied embeddings make even an untrained model\n"
            f"lean towards repeating its input letter (p = {p_repeat:.2f}, not 0.33),\n"
            f"and {repeated} of these {scored} scored targets are repeats.",
            MIN_TEXT,
            TEXT_2,
            line_spacing=1.1,
        ).move_to(DOWN * 2.4 + RIGHT * 0.3)
        self.play(FadeOut(*stage), swap(title, init_title), run_time=0.8)
        for bar_row in rows:
            self.play(
                FadeIn(bar_row[0]), GrowFromEdge(bar_row[1], LEFT), FadeIn(bar_row[2]), run_time=0.8
            )
        self.play(FadeIn(note), run_time=0.8)
        self.wait(2.5)
