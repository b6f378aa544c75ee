"""The RL chapter: one step of REINFORCE on the sort task, from the run's own record.

A prompt, the group of answers the model sampled for it at a recorded step, the checker's
rewards, the advantages (reward minus the group's mean), which answers the update makes
likelier and which less likely; then pass@1 and pass@k (k = rl_runs.K) over the whole run.
"""

from bookscene import *
from palette import ACCENT, ACCENT_2, POSITIVE, ROLE, TEXT, TEXT_2

LETTERS = "ABC"
ROW_HEIGHT = 0.52
CELL = 0.42


def letters_row(ids: list[int], color: str) -> VGroup:
    """A sequence of letters, each in a small card."""
    cells = VGroup()
    for i in ids:
        card = Square(CELL, stroke_color=color, stroke_width=2, fill_color=PANEL, fill_opacity=1)
        cells.add(VGroup(card, label(LETTERS[i], MIN_TEXT, color, mono=True).move_to(card)))
    return cells.arrange(RIGHT, buff=0.05)


def word(ids: list[int]) -> str:
    """A sequence as its letters, for the transcript: [2, 1, 0] as CBA."""
    return "".join(LETTERS[i] for i in ids)


def mixed_group(replay: list[dict]) -> dict:
    """The first recorded group with right and wrong answers in it: one with a lesson."""
    return next(s for s in replay if "rewards" in s and 0 < sum(s["rewards"]) < len(s["rewards"]))


def rewards_in_words(shot: dict) -> str:
    """The rewards as the column beside the answers shows them, and which answers earn 1:
    the exact sort of the prompt, the checker's one right answer."""
    rewards, answers = shot["rewards"], shot["answers"]
    right = {word(a) for a, r in zip(answers, rewards, strict=True) if r}
    assert right == {word(sorted(shot["prompt"]))}, "a reward of 1 is the exact sort"
    column = " ".join("1" if r else "0" for r in rewards)
    earned = sum(1 for r in rewards if r)
    return (
        f"rewards, top to bottom: {column}; {earned} of {len(rewards)} answers earn 1,"
        f" each {right.pop()}, the prompt sorted"
    )


class RLStepScene(BookScene):
    def construct(self):
        from model_src.experiments import rl_runs

        record = rl_runs.get("REINFORCE", rl_runs.SEEDS[0])
        shot = mixed_group(record["replay"])
        title = self.show_title(
            "Learning from a checker",
            f"step {shot['step']} of {rl_runs.STEPS}: one prompt, {rl_runs.GROUP} sampled answers",
        )
        prompt, prompt_group = self.show_prompt(shot["prompt"])
        rows, sampled = self.sample_answers(shot["answers"], prompt, prompt_group)
        marks, reward_head, checked = self.check_answers(shot, rows, sampled)
        bars, centred = self.centre_rewards(shot, rows, marks, reward_head, checked, sampled)
        self.show_update(shot["advantages"], bars, centred, sampled)
        # the whole run: pass@1 and pass@k, step by step
        self.play(*[FadeOut(m) for m in self.mobjects if m is not title], run_time=0.6)
        self.show_run(record, title)

    def show_prompt(self, prompt_ids: list[int]) -> tuple[VGroup, VGroup]:
        prompt = letters_row(prompt_ids, ROLE["ids"])
        prompt_label = label("prompt", MIN_TEXT, TEXT_2).next_to(prompt, UP, buff=0.15)
        said(prompt_label, f"prompt {word(prompt_ids)}")
        prompt_group = VGroup(prompt_label, prompt).to_edge(LEFT, buff=0.6).shift(UP * 0.2)
        self.play(FadeIn(prompt_group), run_time=0.8)
        return prompt, prompt_group

    def sample_answers(self, answers, prompt: VGroup, prompt_group: VGroup):
        """The group of answers, an arrow from the prompt to each; returns the rows and
        the caption, where every later caption goes."""
        rows = VGroup(*[letters_row(a, TEXT) for a in answers])
        rows.arrange(DOWN, buff=ROW_HEIGHT - CELL).next_to(prompt_group, RIGHT, buff=1.4)
        rows.shift(DOWN * 0.35)
        arrows = VGroup(*[side_arrow(prompt.get_right(), row.get_left()) for row in rows])
        sampled = caption("The model writes a group of answers.", 26).to_edge(DOWN, buff=0.4)
        start = self.renderer.time
        self.play(
            LaggedStart(*[Create(a) for a in arrows], lag_ratio=0.1),
            LaggedStart(*[FadeIn(r, shift=0.2 * RIGHT) for r in rows], lag_ratio=0.1),
            FadeIn(sampled),
            run_time=2.0,
        )
        # the rows in words, after the caption that brings them
        self.beat(f"the answers, top to bottom: {', '.join(word(a) for a in answers)}", at=start)
        return rows, sampled

    def check_answers(self, shot: dict, rows: VGroup, sampled: Text):
        """Each answer's reward beside it; the right answers turn green."""
        rewards = shot["rewards"]
        marks = VGroup(
            *[
                label("1" if r else "0", 26, POSITIVE if r else TEXT_2).next_to(
                    row, RIGHT, buff=0.3
                )
                for r, row in zip(rewards, rows, strict=True)
            ]
        )
        reward_head = label("reward", MIN_TEXT, TEXT_2).next_to(marks, UP, buff=0.2)
        checked = caption("A checker pays 1 for an exact sort.", 26).move_to(sampled)
        start = self.renderer.time
        self.play(swap(sampled, checked), FadeIn(reward_head), FadeIn(marks), run_time=1.2)
        self.beat(rewards_in_words(shot), at=start)  # the column in words, after the caption
        for r, row in zip(rewards, rows, strict=True):
            if r:  # the right answers' letters and cards turn green; the cards stay dark
                for card, letter in row:
                    card.set_stroke(POSITIVE)
                    letter.set_color(POSITIVE)
        self.wait(0.8)
        return marks, reward_head, checked

    def centre_rewards(self, shot: dict, rows, marks, reward_head, checked, sampled):
        """The advantages as bars around the group's mean."""
        rewards, advantages = shot["rewards"], shot["advantages"]
        mean = sum(rewards) / len(rewards)
        zero_x = marks.get_right()[0] + 1.6
        bars = VGroup()
        for a, mark in zip(advantages, marks, strict=True):
            b = bar(abs(a) * 1.6, 0.3, POSITIVE if a > 0 else TEXT_2)
            b.move_to([zero_x + a * 0.8, mark.get_center()[1], 0])
            bars.add(b)
        axis = Line([zero_x, rows.get_top()[1], 0], [zero_x, rows.get_bottom()[1], 0])
        axis.set_stroke(TEXT_2, 2)
        adv_head = caption(f"advantage = reward − {mean:.2f}", MIN_TEXT, ACCENT_2)
        adv_head.next_to(reward_head, RIGHT, buff=0.5).align_to(reward_head, DOWN)
        centred = caption("Each reward minus the group's mean.", 26).move_to(sampled)
        self.play(swap(checked, centred), Create(axis), run_time=1.0)
        # the formula heads the bars and comes with them: the captions say the sentence
        # first, then the formula that puts a number on it
        self.play(
            LaggedStart(
                *[GrowFromEdge(b, LEFT if b.get_center()[0] > zero_x else RIGHT) for b in bars],
                lag_ratio=0.08,
            ),
            FadeIn(adv_head),
            run_time=1.5,
        )
        return bars, centred

    def show_update(self, advantages: list[float], bars: VGroup, centred: Text, sampled: Text):
        """The update: up for the better answers, down for the worse."""
        pushes = VGroup(
            *[
                label(
                    "↑ likelier" if a > 0 else "↓ less likely",
                    MIN_TEXT,
                    POSITIVE if a > 0 else TEXT_2,
                ).next_to(b, RIGHT, buff=0.2)
                for a, b in zip(advantages, bars, strict=True)
            ]
        )
        pushed = caption("The update raises what beat its group.", 26).move_to(sampled)
        self.play(swap(centred, pushed), FadeIn(pushes, shift=0.1 * UP), run_time=1.2)
        self.mark_poster()
        self.wait(2.0)

    def show_run(self, record: dict, title: VGroup) -> None:
        """pass@1 and pass@k of the held-out prompts, step by step, under a subtitle that
        now speaks of the whole run, not of the one step shown before."""
        from model_src.experiments import rl_runs

        replay = record["replay"]
        axes = Axes(
            x_range=[0, rl_runs.STEPS, 20],
            y_range=[0, 1, 0.25],
            x_length=8,
            y_length=3.8,
            tips=False,
            axis_config={"color": TEXT_2, "stroke_width": 2},
        ).shift(DOWN * 0.2 + LEFT * 0.8)
        ticks = VGroup(
            *[
                label(f"{v:.0%}", MIN_TEXT, TEXT_2).next_to(axes.c2p(0, v), LEFT, buff=0.15)
                for v in (0, 0.5, 1)
            ],
            *[
                label(str(s), MIN_TEXT, TEXT_2).next_to(axes.c2p(s, 0), DOWN, buff=0.12)
                for s in range(0, rl_runs.STEPS + 1, 50)
            ],
        )
        step_name = label("RL step", MIN_TEXT, TEXT_2).next_to(axes, DOWN, buff=0.55)
        k = f"pass@{rl_runs.K}"
        whole = f"the whole run: pass@1 and {k} on the held-out prompts"
        subtitle = label(whole, MIN_TEXT, TEXT_2).move_to(title[1])
        self.beat(f"{title[0].original_text}: {whole}")
        self.play(
            swap(title[1], subtitle), Create(axes), FadeIn(ticks), FadeIn(step_name), run_time=1.0
        )
        lines, ends = VGroup(), VGroup()
        for key, color in (("pass@1", ACCENT), (k, ROLE["x"])):
            line = axes.plot_line_graph(
                [s["step"] for s in replay],
                [s[key] for s in replay],
                line_color=color,
                add_vertex_dots=False,
                stroke_width=4,
            )
            first, last = replay[0][key], replay[-1][key]
            end = caption(f"{key}\n{first:.0%} → {last:.0%}", MIN_TEXT, color, line_spacing=1.0)
            end.next_to(axes.c2p(rl_runs.STEPS, last), RIGHT, buff=0.25)
            lines.add(line)
            ends.add(end)
        # drawn and said pass@1 first, as the chapter reads them; the names stacked as
        # their lines end, the higher on top
        column = VGroup(*sorted(ends, key=lambda end: -end.get_center()[1]))
        column.arrange(DOWN, aligned_edge=LEFT, buff=0.4).next_to(axes, RIGHT, buff=0.3)
        self.play(Create(lines[0]), FadeIn(ends[0]), run_time=2.0, rate_func=linear)
        self.play(Create(lines[1]), FadeIn(ends[1]), run_time=2.0, rate_func=linear)
        self.wait(2.0)
        self.takeaway(
            "RL makes the answers the model can already\nwrite the ones it writes most often.",
            f"Seed {rl_runs.SEEDS[0]}'s run, held out:\npass@1 {replay[0]['pass@1']:.0%} → "
            f"{replay[-1]['pass@1']:.0%}, {k} {replay[0][k]:.0%} → {replay[-1][k]:.0%}, "
            f"in {rl_runs.STEPS} steps.",
        )
