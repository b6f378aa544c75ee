"""Chapter 13: new tokens are new rows, a conversation is ids and a mask, LoRA adds a
small adapter, and a mixture keeps a skill that fine-tuning on one task forgets.

Everything shown is measured: the row lengths of the sort model's wte grown by
chat.grow (seeded as finetune_runs.py's first run), a conversation rendered by chat.render,
the parameter counts of lora.py's adapter on block 0's c_attn, and the held-out
accuracies of finetune_runs.py's runs (the mean of every compared seed, and the mixture
minus # alone paired by seed, verdicts.py's statistic).
"""

from bookscene import *
from palette import ACCENT, ACCENT_2, POSITIVE, ROLE, TEXT_2

CELL = 0.78  # sixteen tokens across the frame
REQUEST = ("↑", "CABBAC")  # the conversation the clip renders


def load():
    from model_src import chat, lora
    from model_src.experiments import finetune_runs

    grown = finetune_runs.start_model("chat", finetune_runs.SEEDS[0])  # the sort model, grown
    rows = grown.transformer.wte.weight.detach().norm(dim=1).tolist()
    ids, trained = chat.render(chat.conversation(*REQUEST))
    linear = grown.transformer.h[0].attn.c_attn
    adapter = lora.LoRALinear(linear, finetune_runs.RUNS["LoRA r=8"]["rank"])
    runs = {
        (n, s): finetune_runs.get(n, s)["accuracy"]
        for n in ("#", "mixture")
        for s in finetune_runs.COMPARED_SEEDS
    }
    return chat, rows, ids, trained, linear, adapter, runs


def token_cell(text: str, color: str) -> VGroup:
    box = panel(CELL, CELL, stroke=color)
    return VGroup(box, label(text, MIN_TEXT, color, mono=True).move_to(box))


def bars_in_column(entries: VGroup) -> None:
    """Each entry is (label, bar): start every bar just right of the widest label."""
    left = max(entry[0].get_right()[0] for entry in entries) + 0.3
    for entry in entries:
        entry[1].shift(RIGHT * (left - entry[1].get_left()[0]))


def short(token: str) -> str:
    """A token as a cell holds it: <assistant> as <a>."""
    return f"<{token[1]}>" if token.startswith("<") else token


class FinetuneScene(BookScene):
    def construct(self):
        chat, rows, ids, trained, linear, adapter, runs = load()
        self.show_title(
            "Fine-tuning: from sorter to assistant", "new tokens, a loss mask, adapters"
        )
        self.grow_table(chat, rows)
        self.mask(chat, ids, trained)
        self.adapter(linear, adapter)
        self.forgetting(runs)
        self.takeaway(
            "Fine-tuning is the same loop on conversations:\n"
            "the mask decides what the model learns to write.",
            "New tokens start as short random rows; a model keeps\n"
            "only the skills its loss keeps asking for.",
        )

    def grow_table(self, chat, rows):
        old = len(chat.LETTERS)
        scale = 3.2 / max(rows)
        table = VGroup()
        for i, (token, length) in enumerate(zip(chat.VOCAB, rows, strict=True)):
            color = ROLE["ids"] if i < old else ACCENT
            name = label(token, MIN_TEXT, color, mono=True)
            table.add(VGroup(name, bar(length * scale, 0.32, color)).arrange(RIGHT, buff=0.3))
        table.arrange(DOWN, buff=0.14, aligned_edge=LEFT).move_to(DOWN * 0.2)
        bars_in_column(table)
        head = caption("length of each row of wte", MIN_TEXT, TEXT_2).next_to(table, UP, buff=0.3)
        self.play(FadeIn(head), FadeIn(table[:old]), run_time=1.0)
        note = caption(
            f"{len(chat.VOCAB) - old} new tokens: new rows, short and random",
            MIN_TEXT,
            ACCENT,
        ).next_to(table, DOWN, buff=0.35)
        self.play(LaggedStart(*[FadeIn(e, shift=0.1 * LEFT) for e in table[old:]]), FadeIn(note))
        self.wait(1.6)
        self.play(FadeOut(VGroup(head, table, note)), run_time=0.6)

    def mask(self, chat, ids, trained):
        tokens = [chat.VOCAB[i] for i in ids]
        inputs = VGroup(*[token_cell(short(t), ROLE["ids"]) for t in tokens[:-1]])
        inputs.arrange(RIGHT, buff=0.06).move_to(UP * 0.9)
        targets = VGroup()
        for t, scored in zip(tokens[1:], trained[1:], strict=True):
            targets.add(token_cell(short(t), POSITIVE) if scored else token_cell("−1", TEXT_2))
        targets.arrange(RIGHT, buff=0.06).next_to(inputs, DOWN, buff=0.5)
        x_label = label("x", 28, ROLE["ids"]).next_to(inputs, LEFT, buff=0.25)
        y_label = label("y", 28, POSITIVE).next_to(targets, LEFT, buff=0.25)
        # the rows in words, as the cells show them (the cells come on one by one)
        said(x_label, f"x, what the model reads: {' '.join(tokens[:-1])}")
        shown = [t if scored else "−1" for t, scored in zip(tokens[1:], trained[1:], strict=True)]
        said(y_label, f"y, its targets: {' '.join(shown)}")
        self.play(LaggedStart(*[FadeIn(c) for c in inputs], lag_ratio=0.05), FadeIn(x_label))
        self.play(LaggedStart(*[FadeIn(c) for c in targets], lag_ratio=0.05), FadeIn(y_label))
        scored = sum(trained[1:])
        note = caption(
            f"the loss sees {scored} of {len(targets)} targets: the reply and <end>",
            MIN_TEXT,
            POSITIVE,
        ).next_to(targets, DOWN, buff=0.5)
        self.play(FadeIn(note))
        self.wait(2.0)
        self.play(FadeOut(VGroup(inputs, targets, x_label, y_label, note)), run_time=0.6)

    def adapter(self, linear, adapter):
        out_f, in_f = linear.weight.shape
        rank = adapter.lora_A.size(0)
        full = sum(p.numel() for p in linear.parameters())
        small = adapter.lora_A.numel() + adapter.lora_B.numel()
        w = panel(2.4, 3.6, stroke=TEXT_2)
        w_text = label(f"W  {out_f}×{in_f}\nfrozen", MIN_TEXT, TEXT_2).move_to(w)
        a = panel(2.4, 0.4, stroke=ACCENT)
        b = panel(0.4, 3.6, stroke=ACCENT)
        a_text = label(f"A  {rank}×{in_f}", MIN_TEXT, ACCENT).next_to(a, UP, buff=0.1)
        b_text = label(f"B  {out_f}×{rank}", MIN_TEXT, ACCENT).next_to(b, DOWN, buff=0.1)
        plus = label("+", 36)
        group = VGroup(VGroup(w, w_text), plus, b, VGroup(a, a_text)).arrange(RIGHT, buff=0.4)
        group.move_to(DOWN * 0.2)
        b_text.next_to(b, DOWN, buff=0.1)
        # the picture in words: W + B A
        said(w, f"a weight W, {out_f} × {in_f}, frozen")
        thin = f"B, {out_f} × {rank}, A, {rank} × {in_f}"
        said(b, f"plus B A, the adapter's two thin matrices: {thin}")
        self.play(FadeIn(group[0]), run_time=0.8)
        self.play(FadeIn(plus), FadeIn(b), FadeIn(b_text), FadeIn(group[3]), run_time=1.0)
        note = caption(
            f"c_attn: {full:,} parameters frozen, {small:,} trained (rank {rank})",
            MIN_TEXT,
            ACCENT_2,
        ).to_edge(DOWN, buff=0.6)
        self.play(FadeIn(note))
        self.wait(1.8)
        self.play(FadeOut(VGroup(group, b_text, note)), run_time=0.6)

    def forgetting(self, runs):
        from model_src.experiments import finetune_runs, verdicts

        seeds = finetune_runs.COMPARED_SEEDS
        head = caption(
            f"held-out accuracy after fine-tuning, mean of {len(seeds)} seeds", MIN_TEXT, TEXT_2
        )
        head.move_to(UP * 2.3)
        chart, final = VGroup(), {}
        for name, title in (("#", "on # alone"), ("mixture", "on # and ↑")):
            for task in ("↑", "#"):
                final[name, task] = [runs[name, s][task][-1] for s in seeds]
                mean = sum(final[name, task]) / len(seeds)
                color = ROLE["ids"] if task == "↑" else ACCENT
                line = label(f"{title}: {task}  {mean:.0%}", MIN_TEXT, color)
                # in words, what the picture's layout says: the row's run, then its task
                said(line, f"fine-tuned {title}, scored on {task}: {mean:.0%}")
                chart.add(VGroup(line, bar(4.0 * mean, 0.3, color)).arrange(RIGHT, buff=0.3))
        chart.arrange(DOWN, buff=0.3, aligned_edge=LEFT).next_to(head, DOWN, buff=0.5)
        bars_in_column(chart)
        paired = VGroup(caption("mixture minus # alone, paired by seed:", MIN_TEXT, TEXT_2))
        for task in ("↑", "#"):
            gap = verdicts.shares(final["mixture", task], final["#", task])
            paired.add(caption(f"on {task}: {gap.statistic()}", MIN_TEXT, TEXT_2))
        paired.arrange(DOWN, buff=0.15, aligned_edge=LEFT).next_to(chart, DOWN, buff=0.5)
        self.play(FadeIn(head), LaggedStart(*[FadeIn(e) for e in chart], lag_ratio=0.3))
        self.play(FadeIn(paired))
        self.wait(1.5)
        self.mark_poster()
        self.wait(1.0)
