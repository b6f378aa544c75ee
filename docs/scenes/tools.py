"""Chapter 14: the engine's loop with a tool.

The trained calculator model (the first seed's, named on screen) completes a held-out
problem greedily, one token per step: the tokens it writes stream into the row, its call
is recognised when it writes ">", the calculator's answer comes back and is forced in, a
token per step, and the model ends the answer. Then the same prompt with the tool
switched off. Every token is the engine's own (model_src/engine.py), run while the clip
renders.
"""

from bookscene import *
from palette import ACCENT, ACCENT_2, POSITIVE, ROLE, TEXT, TEXT_2

PROBLEM = 0  # the held-out problem shown (the chapter's step-by-step cell runs it too)
CELL = 0.5
FORCED = ROLE["logits"]  # tokens the engine wrote


def run_steps(tool: bool) -> tuple[str, list[tuple[str, bool]], list]:
    """The prompt, then (token, forced) per step of the engine, and the calls it ran."""
    import torch

    from model_src import arithmetic, engine, kv_cache
    from model_src.experiments import arithmetic_runs

    model = arithmetic_runs.get("calculator", arithmetic_runs.shown_seed("calculator"))["model"]
    a, b = arithmetic.held_out()[PROBLEM].tolist()
    prompt = arithmetic.prompt(a, b)
    tokens = arithmetic.TOKENIZER
    seq = engine.Completion(ids=tokens.encode(prompt), forced=[False] * len(prompt))
    new, cache, steps = torch.tensor([seq.ids]), None, []
    calculator = engine.calculate if tool else None
    with torch.no_grad():
        while not seq.finished and len(seq.ids) < model.config.block_size:
            logits, cache = kv_cache.forward(model, new, cache)
            token = engine.advance(seq, logits[0, -1], tokens, calculator, 0.0, None)
            steps.append((tokens.vocab[token], seq.forced[-1]))
            new = torch.tensor([[token]])
    return prompt, steps, seq.calls


def slot_row(n: int) -> VGroup:
    slots = VGroup(*[panel(CELL, CELL * 1.2, stroke=TEXT_2) for _ in range(n)])
    return slots.arrange(RIGHT, buff=0.06)


class ToolsScene(BookScene):
    def construct(self):
        prompt, steps, calls = run_steps(tool=True)
        self.show_title("Tools: a calculator in the sampling loop", "the trained model, greedy")

        slots = slot_row(len(prompt) + len(steps)).move_to(UP * 1.3)
        slots[len(prompt) :].set_stroke(opacity=0.35)
        written = VGroup(
            *[
                label(ch, 26, ROLE["ids"], mono=True).move_to(slots[i])
                for i, ch in enumerate(prompt)
            ]
        )
        said(written, f"the prompt: {prompt}")
        model = VGroup(panel(3.2, 0.9, stroke=ROLE["x"], stroke_width=3))
        model.add(label("calculator GPT", 26, ROLE["x"]).move_to(model[0]))
        model.move_to([-4.3, -1.0, 0])
        tool = VGroup(panel(4.2, 1.6, stroke=ACCENT_2, stroke_width=3))
        tool.add(label("calculator", 26, ACCENT_2).move_to(tool[0].get_top() + DOWN * 0.3))
        tool.move_to([3.6, -1.3, 0])
        self.play(FadeIn(slots), FadeIn(written), FadeIn(model), FadeIn(tool), run_time=0.8)

        note = caption("each step: the model reads one token, writes the next", MIN_TEXT, TEXT_2)
        note.move_to(DOWN * 3.1)
        self.play(FadeIn(note), run_time=0.5)
        opened = None
        for i, (ch, forced) in enumerate(steps):
            slot = slots[len(prompt) + i]
            colour = FORCED if forced else ACCENT
            token = label(ch, 26, colour if forced else TEXT, mono=True).move_to(slot)
            source = tool[1] if forced else model
            self.play(
                FadeIn(token, target_position=source),
                slot.animate.set_stroke(colour, width=3, opacity=1),
                run_time=0.3 if not forced else 0.45,
            )
            written.add(token)
            if ch == "<" and not forced and opened is None:
                opened = len(prompt) + i
            if ch == ">" and not forced and opened is not None:
                note = self.show_call(slots[opened : len(prompt) + i + 1], calls[0], tool, note)
                opened = None
        sampled = sum(not forced for _, forced in steps)
        done = caption(
            f"the model wrote {sampled} tokens; the engine forced "
            f"{len(steps) - sampled}, read like written ones",
            MIN_TEXT,
            POSITIVE,
        )
        done.move_to(note)
        said(done, f"the row: {prompt}{''.join(ch for ch, _ in steps)}; {done.original_text}")
        self.play(swap(note, done), run_time=0.8)
        self.mark_poster()
        self.wait(1.2)
        self.tool_off(slots[len(prompt)], VGroup(model, tool), done)
        self.takeaway(
            "The model writes the call;\nthe engine runs it and forces the answer in.",
            "Trained with the answer masked,\nit learned the call, not the sum.",
        )

    def show_call(self, span, call, tool, note):
        """The call is recognised: its text goes to the calculator, the answer comes back."""
        brace = Brace(span, DOWN, buff=0.08, color=ACCENT_2)
        heard = caption(f"call recognised: “{call.expression}”", MIN_TEXT, ACCENT_2)
        heard.next_to(brace, DOWN, buff=0.1)
        parsed = label(f"{call.expression} = {call.result}", 26, TEXT, mono=True)
        parsed.move_to(tool[0].get_center() + DOWN * 0.25)
        said(parsed, f"the calculator: {parsed.original_text}")
        self.play(GrowFromCenter(brace), FadeIn(heard), run_time=0.6)
        self.play(FadeIn(parsed, target_position=heard), run_time=0.7)  # no text morph
        tool.add(parsed)  # it leaves with the calculator
        forced = caption("the answer is forced in, one token per step", MIN_TEXT, FORCED)
        forced.move_to(note)
        self.play(swap(note, forced), FadeOut(brace), FadeOut(heard), run_time=0.6)
        return forced

    def tool_off(self, first_answer_slot, panels, note):
        """The same prompt with the tool switched off: what the model writes is all there is."""
        from model_src.experiments import arithmetic_runs

        _, steps, _ = run_steps(tool=False)
        row = slot_row(len(steps))
        row.move_to([first_answer_slot.get_left()[0] + row.width / 2, -0.6, 0])
        off = VGroup(
            *[
                label(ch, 26, TEXT, mono=True).move_to(slot)
                for (ch, _), slot in zip(steps, row, strict=True)
            ]
        )
        head = label("tool off", MIN_TEXT, ROLE["loss"]).next_to(row, LEFT, buff=0.3)
        tail = "".join(ch for ch, _ in steps).split(">", 1)[-1]
        sum_written = any(ch.isdigit() for ch in tail)
        seed = arithmetic_runs.shown_seed("calculator")
        verdict = caption(
            f"tool off, seed {seed}'s model writes “{tail}” after its call"
            + ("" if sum_written else ": no sum"),
            MIN_TEXT,
            ROLE["loss"],
        )
        verdict.move_to(note)
        self.play(FadeOut(panels), FadeIn(row), FadeIn(head), run_time=0.6)
        self.play(LaggedStart(*[FadeIn(t) for t in off], lag_ratio=0.25), run_time=1.5)
        self.play(swap(note, verdict), run_time=0.8)
        self.wait(1.5)
