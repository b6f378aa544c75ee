"""Chapter 9: the autoregressive loop, then temperature.

The trained sort model completes one held-out prompt greedily, a token at a time, each
choice appended and fed back in; the probabilities shown are the model's own. Then the
char model's real next-character distribution after the chapter's prompt, sharpened and
flattened by temperature.
"""

import torch
from bookscene import *
from palette import ACCENT, ACCENT_2, POSITIVE, ROLE, TEXT, TEXT_2

VAL_ROW = 1  # a held-out sort problem (chapter 7's clip uses row 0)
TEMPERATURES = (0.5, 1.0, 2.0)  # the chapter's temperature chart shows these (a test checks)
PROMPT = "I will "  # and asks about the character after this prompt (a test checks)
TOP = 5
CELL = 0.62
BAR = 2.4  # length of a bar at probability 1


@torch.no_grad()
def greedy_steps(sort, prompt: list[int], n: int) -> list[tuple[int, list[float], int]]:
    """Per generated token: context length, next-token probabilities, the token taken."""
    idx = torch.tensor([prompt])
    steps = []
    for _ in range(n):
        context = idx[:, -sort.model.config.block_size :]  # the model sees at most block_size
        logits, _ = sort.model(context)
        probs = logits[0, -1].softmax(-1)
        token = int(probs.argmax())
        steps.append((context.size(1), probs.tolist(), token))
        idx = torch.cat((idx, torch.tensor([[token]])), dim=1)
    return steps


@torch.no_grad()
def next_char_logits(char, text: str) -> torch.Tensor:
    """The char model's scores for the character after `text`: (vocab_size,)."""
    logits, _ = char.model(torch.tensor([char.encode(text)]))  # (1, 1, vocab_size)
    return logits[0, -1]


def shown(text: str) -> str:
    """A token as the book prints it (model_src/visible.py): whitespace drawn, so token
    boundaries show."""
    from model_src import visible

    return visible.token(text)


def prob_bars(
    names,
    probs,
    color: str,
    highlight: int | None = None,
    length: float = BAR,
    room: float = BAR,
    digits: int = 5,
):
    """Horizontal bars, one per name: the name, a bar `length` long at p = 1, and p
    written `room` to the right of where the bars start."""
    rows = VGroup()
    for i, (name, p) in enumerate(zip(names, probs, strict=True)):
        tint = ACCENT if i == highlight else color
        name_text = label(name, MIN_TEXT, TEXT, mono=True)
        rows.add(
            VGroup(name_text, bar(p * length, 0.3, tint), label(f"{p:.{digits}f}", MIN_TEXT, tint))
        )
    for row in rows:
        row[1].next_to(row[0], RIGHT, buff=0.25)
        row[2].move_to(row[1].get_left() + RIGHT * (room + 0.2 + 0.12 * digits))
    return rows.arrange(DOWN, aligned_edge=LEFT, buff=0.2)


class SamplingScene(BookScene):
    def construct(self):
        from model_src import prepare, trained

        sort, char = trained.get("sort"), trained.get("char")
        data = prepare.sort_data()
        prompt_len, seq_len = data.meta["prompt_len"], data.meta["seq_len"]
        row = data.val.reshape(-1, seq_len)[VAL_ROW].astype("int64").tolist()
        steps = greedy_steps(sort, row[:prompt_len], seq_len - prompt_len)
        letters = [sort.meta["itos"][i] for i in range(sort.meta["vocab_size"])]

        title = self.show_title(
            "Sampling: one token at a time", "the trained sort model completes a held-out prompt"
        )
        slots, model = self.show_prompt(letters, row[:prompt_len], seq_len)
        block_size = sort.model.config.block_size
        generated, feedback = self.generate(steps, letters, slots, model, block_size)
        right = [t for *_, t in steps] == row[prompt_len:]
        verdict = caption(
            "sorted correctly ✓" if right else "differs from the true answer",
            MIN_TEXT,
            POSITIVE if right else ROLE["loss"],
        )
        verdict.next_to(slots, RIGHT, buff=0.3)
        self.play(
            generated.animate.set_color(POSITIVE),
            *[s.animate.set_stroke(POSITIVE) for s in slots[prompt_len:]],
            *[FadeOut(m) for m in feedback],
            FadeIn(verdict),
            run_time=0.8,
        )
        self.wait(1.2)
        self.show_temperature(char, title)
        self.mark_poster()  # the whole picture, just before the takeaway card
        self.takeaway(
            "Generation is a loop: predict, append, feed back.",
            "Greedy takes the likeliest token. Temperature reshapes the odds\n"
            "before sampling: below 1 sharper, above 1 flatter.",
        )

    def show_prompt(self, letters: list[str], prompt_ids: list[int], seq_len: int):
        """The row's slots, the prompt in the first ones, and the model below."""
        prompt_len = len(prompt_ids)
        slots = VGroup(*[panel(CELL, CELL, stroke=TEXT_2) for _ in range(seq_len)])
        slots.arrange(RIGHT, buff=0.1).move_to(UP * 1.5 + LEFT * 0.8)
        slots[prompt_len:].set_stroke(opacity=0.35)  # empty until generated
        prompt = VGroup(
            *[
                label(letters[t], 26, ROLE["ids"]).move_to(slots[i])
                for i, t in enumerate(prompt_ids)
            ]
        )
        names = VGroup(
            label("prompt", MIN_TEXT, TEXT_2).next_to(slots[:prompt_len], UP, buff=0.15),
            label("generated", MIN_TEXT, TEXT_2).next_to(slots[prompt_len:], UP, buff=0.15),
        )
        names[0].set_y(names[1].get_y())
        said(prompt, "prompt: " + "".join(letters[t] for t in prompt_ids))
        model = VGroup(panel(3.0, 0.9, stroke=ROLE["x"], stroke_width=3))
        model.add(label("sort GPT", 26, ROLE["x"]).move_to(model[0])).move_to([-4.2, -1.3, 0])
        self.play(FadeIn(slots), FadeIn(prompt), FadeIn(names), FadeIn(model), run_time=1.0)
        return slots, model

    def generate(self, steps, letters, slots: VGroup, model: VGroup, block_size: int):
        """Step by step: the context read, the model's probabilities, the likeliest letter
        appended. Returns the letters generated and the feedback arrow with its note."""
        prompt_len = len(slots) - len(steps)
        bars = prob_bars(letters, steps[0][1], ROLE["probs"]).move_to([0.9, -1.3, 0])
        to_probs = main_arrow(model.get_right(), bars.get_left() + LEFT * 0.15)
        feed_back = CurvedArrow(
            bars.get_right() + RIGHT * 0.55 + UP * 0.3,
            slots.get_right() + RIGHT * 0.25,
            angle=PI / 2,
            color=ACCENT,
            stroke_width=3,
        )
        feed_note = caption(
            "append\nthe likeliest,\nfeed it back", MIN_TEXT, ACCENT, line_spacing=1.0
        )
        feed_note.next_to(feed_back, RIGHT, buff=0.15)
        window = caption(
            f"the model reads the last ≤ {block_size} tokens (block_size): here the whole row fits",
            MIN_TEXT,
            TEXT_2,
        ).move_to(DOWN * 3.05)
        generated = VGroup()
        brace = to_model = counter = None  # what the previous step showed
        for step, (context_len, probs, token) in enumerate(steps):
            new_brace = Brace(slots[:context_len], DOWN, buff=0.08, color=TEXT_2)
            new_arrow = main_arrow(new_brace.get_tip(), model.get_top())
            new_bars = prob_bars(letters, probs, ROLE["probs"], highlight=token)
            new_bars.move_to(bars)
            new_counter = label(f"step {step + 1}/{len(steps)}", MIN_TEXT, TEXT_2)
            new_counter.next_to(slots, LEFT, buff=0.3)
            said(
                new_counter,
                f"{new_counter.original_text}: the likeliest next token is {letters[token]}, "
                f"p = {float(probs[token]):.5f}",
            )
            if step == 0:
                self.play(GrowFromCenter(new_brace), GrowArrow(new_arrow), run_time=0.6)
                self.play(  # the captions say what the model reads, then what it gives
                    GrowArrow(to_probs),
                    FadeIn(window),
                    FadeIn(new_bars),
                    FadeIn(new_counter),
                    run_time=0.8,
                )
                self.play(Create(feed_back), FadeIn(feed_note), run_time=0.6)
            else:
                self.play(
                    ReplacementTransform(brace, new_brace),
                    ReplacementTransform(to_model, new_arrow),
                    swap(bars, new_bars),
                    swap(counter, new_counter),
                    run_time=0.6,
                )
            brace, to_model, bars, counter = new_brace, new_arrow, new_bars, new_counter
            slot = slots[prompt_len + step]
            letter = label(letters[token], 26, ROLE["ids"]).move_to(slot)
            self.play(
                TransformFromCopy(bars[token][0], letter),
                slot.animate.set_stroke(ACCENT, width=3, opacity=1),
                run_time=0.6,
            )
            generated.add(letter)
        return generated, (feed_back, feed_note)

    def show_temperature(self, char, title: VGroup) -> None:
        """Temperature: divide the logits by τ before the softmax."""
        logits = next_char_logits(char, PROMPT)
        order = logits.topk(TOP).indices.tolist()  # dividing by τ > 0 keeps the order
        chars = [shown(char.meta["itos"][i]) for i in order]
        temp_title = VGroup(
            caption("Temperature: softmax(logits / τ)", 36),
            caption("the char model's next character, top 5", MIN_TEXT, TEXT_2),
        )
        temp_title.arrange(DOWN, buff=0.12).move_to(title)
        context_line = VGroup(
            label("".join(shown(ch) for ch in PROMPT), MIN_TEXT, TEXT, mono=True),
            label("?", MIN_TEXT, ACCENT_2, mono=True),
        ).arrange(RIGHT, buff=0.08)
        context_line.move_to(UP * 1.6)
        said(context_line, f"after “{PROMPT}”: which character next?")
        columns = VGroup()
        tempered = [(logits / t).softmax(-1)[order].tolist() for t in TEMPERATURES]
        length = 1.9 / max(max(probs) for probs in tempered)  # one scale for all three
        for temperature, probs in zip(TEMPERATURES, tempered, strict=True):
            head = label(f"τ = {temperature}", 26, ACCENT_2 if temperature == 1 else TEXT)
            odds = ", ".join(f"{ch} {p:.3f}" for ch, p in zip(chars, probs, strict=True))
            said(head, f"τ = {temperature}: {odds}")  # the column's name says the column
            columns.add(
                VGroup(
                    head, prob_bars(chars, probs, ROLE["probs"], length=length, room=1.9, digits=3)
                ).arrange(DOWN, buff=0.3)
            )
        columns.arrange(RIGHT, buff=0.5).move_to(DOWN * 0.9)
        note = caption(
            "low τ: sharper, nearly greedy;  high τ: flatter, more surprising", MIN_TEXT, TEXT_2
        ).move_to(DOWN * 3.15)
        self.play(
            FadeOut(*[m for m in self.mobjects if m is not title]),
            swap(title, temp_title),
            run_time=0.8,
        )
        self.play(FadeIn(context_line), run_time=0.6)
        for column in columns:
            self.play(
                FadeIn(column[0]),
                *[GrowFromEdge(r[1], LEFT) for r in column[1]],
                *[FadeIn(r[0]) for r in column[1]],
                *[FadeIn(r[2]) for r in column[1]],
                run_time=0.7,
            )
        self.play(FadeIn(note), run_time=0.5)
        self.wait(2.0)
