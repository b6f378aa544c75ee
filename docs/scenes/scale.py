"""Chapter 10: loss against parameters, on log axes, from the book's own scaling sweep.

Each point is one size of the char model trained by model_src/sweep.py (same data, same
steps, same schedule): its mean loss over the sweep's seeds, with a bar from the lowest
seed's to the highest's; the dashed line is a least-squares power law through the means.
"""

import math

import numpy as np
from bookscene import *
from palette import ACCENT, ACCENT_2, POSITIVE, ROLE, TEXT, TEXT_2

TICK_STEP = 0.2  # loss ticks, in loss units


def params_text(n: float) -> str:
    return f"{n / 1e6:.3g}M" if n >= 1e6 else f"{n / 1e3:.3g}K"


class ScalingScene(BookScene):
    def construct(self):
        from model_src import sweep
        from model_src.experiments import wording

        points = sweep.run()
        params = np.array([p["params"] for p in points], dtype=float)
        losses = np.array([p["val_loss"] for p in points])
        seconds = sum(p["train_seconds"] for p in points)
        self.show_title(
            "Loss against model size",
            f"{len(points)} sizes of the char model, {len(sweep.SEEDS)} seeds each, "
            f"{sweep.STEPS} steps: {seconds:.0f} s of training in all",
        )
        decades = range(math.floor(np.log10(params.min())), math.ceil(np.log10(params.max())) + 1)
        every_loss = np.array([loss for p in points for loss in p["val_losses"]])
        axes, key = self.draw_axes(decades, every_loss)  # room for every seed's bar
        dots, notes = self.plot_sizes(points, axes, key)
        fit_gap = self.draw_fit(params, losses, decades, axes, dots, notes)
        self.wait(2.5)
        self.mark_poster()  # the whole picture, just before the takeaway card
        self.takeaway(
            f"In this sweep, the mean loss of {len(sweep.SEEDS)} seeds lies\n"
            f"within {wording.within(fit_gap)} of a power of model size.",
            f"{params_text(params[0])} → {params_text(params[-1])} parameters "
            f"took the val loss from {losses[0]:.2f} to {losses[-1]:.2f}.\n"
            "Larger studies (Kaplan et al., 2020) find a\n"
            "straight line over many more decades.",
        )

    def draw_axes(self, decades: range, losses: np.ndarray) -> tuple[Axes, Text]:
        """Log axes with their ticks and names, and the key of the sizes' names."""
        low = math.floor(losses.min() / TICK_STEP) * TICK_STEP
        high = math.ceil(losses.max() / TICK_STEP + 0.5) * TICK_STEP  # room for labels
        axes = Axes(
            x_range=[decades[0], decades[-1], 1],
            y_range=[math.log10(low), math.log10(high), 1],
            x_length=6.4,
            y_length=4.6,
            tips=False,
            axis_config={"color": TEXT_2, "stroke_width": 2, "include_ticks": False},
        ).move_to(DOWN * 0.3 + LEFT * 2.4)
        x_ticks = VGroup()
        for decade in decades:
            at = axes.c2p(decade, math.log10(low))
            x_ticks.add(Line(at, at + DOWN * 0.1, color=TEXT_2, stroke_width=2))
            x_ticks.add(
                label(params_text(10.0**decade), MIN_TEXT, TEXT_2).next_to(at, DOWN, buff=0.2)
            )
        y_ticks = VGroup()
        for loss in np.arange(low, high + TICK_STEP / 2, TICK_STEP):
            at = axes.c2p(decades[0], math.log10(loss))
            y_ticks.add(Line(at, at + LEFT * 0.1, color=TEXT_2, stroke_width=2))
            y_ticks.add(label(f"{loss:.1f}", MIN_TEXT, TEXT_2).next_to(at, LEFT, buff=0.2))
        x_name = label("parameters (log scale)", MIN_TEXT, TEXT_2).next_to(x_ticks, DOWN, buff=0.15)
        y_name = label("val loss (log scale)", MIN_TEXT, TEXT_2).rotate(PI / 2)
        y_name.next_to(y_ticks, LEFT, buff=0.2)
        lines = ("L layers · H heads", "C channels (n_embd)")  # said as one line, with a ·
        key = label("\n".join(lines), MIN_TEXT, TEXT_2, line_spacing=1.0)
        said(key, " · ".join(lines))
        # the right of the frame holds the words: beside the dots they would cover each other
        key.move_to([1.3, axes.get_top()[1], 0], aligned_edge=UL)
        self.play(
            Create(axes),
            FadeIn(x_ticks),
            FadeIn(y_ticks),
            FadeIn(x_name),
            FadeIn(y_name),
            FadeIn(key),
            run_time=1.2,
        )
        return axes, key

    def plot_sizes(self, points: list[dict], axes: Axes, key: Text) -> tuple[VGroup, VGroup]:
        """A dot per size at its mean loss, a bar over its seeds' losses, and its note in a
        column under the key."""
        dots = VGroup()
        notes = VGroup()
        for point in points:
            x = math.log10(point["params"])
            at = axes.c2p(x, math.log10(point["val_loss"]))
            bar = Line(
                *[axes.c2p(x, math.log10(f(point["val_losses"]))) for f in (min, max)],
                color=ROLE["loss"],
                stroke_width=3,
            )
            dot = VGroup(bar, Dot(at, radius=0.1, color=ROLE["loss"]))
            note = VGroup(
                label(point["name"], MIN_TEXT, TEXT, mono=True),
                label(
                    f"{params_text(point['params'])} · mean loss {point['val_loss']:.3f} · "
                    f"{point['train_seconds']:.0f} s",
                    MIN_TEXT,
                    ROLE["loss"],
                ),
            ).arrange(DOWN, aligned_edge=LEFT, buff=0.06)
            said(note, f"{note[0].original_text}: {note[1].original_text}")
            # a column in the order of the dots, top (largest loss) first
            note.next_to(notes if notes else key, DOWN, buff=0.2, aligned_edge=LEFT)
            notes.add(note)
            self.play(GrowFromCenter(dot), FadeIn(note, shift=0.1 * LEFT), run_time=0.7)
            dots.add(dot)
        self.wait(0.8)
        return dots, notes

    def draw_fit(self, params, losses, decades: range, axes: Axes, dots, notes) -> float:
        """The fit: a dashed line, since it is a summary of the points, not a measurement.
        Returns the largest gap between a point and the line, as a share of the fit."""
        # straight line in log-log space: log L = log a - alpha log N
        slope, intercept = np.polyfit(np.log10(params), np.log10(losses), 1)
        alpha = -slope  # the papers' sign (Kaplan et al.): L = a N^-alpha, alpha > 0
        ends = [decades[0] + 0.1, decades[-1] - 0.05]
        fit = DashedLine(
            *[axes.c2p(x, intercept + slope * x) for x in ends],
            color=ACCENT_2,
            stroke_width=3,
            dash_length=0.15,
        )
        fit_note = VGroup(
            label("power law:", MIN_TEXT, ACCENT_2),  # with the exponent, as wide as a note
            MathTex(
                rf"L \propto N^{{-\alpha}},\ \alpha = {alpha:.3f}", font_size=36, color=ACCENT_2
            ),
        ).arrange(RIGHT, buff=0.2)
        said(fit_note, f"power law: L ∝ N^−α, α = {alpha:.3f}")
        each_tenfold = 1 - 10**-alpha
        direction = "lower" if each_tenfold > 0 else "higher"
        gain = caption(
            f"in this sweep, each tenfold\nin parameters: {abs(each_tenfold):.0%} {direction} loss",
            MIN_TEXT,
            POSITIVE,
        )
        VGroup(fit_note, gain).arrange(DOWN, aligned_edge=LEFT, buff=0.2).next_to(
            notes, DOWN, buff=0.25, aligned_edge=LEFT
        )
        self.play(Create(fit), FadeIn(fit_note), run_time=1.2)
        self.play(FadeIn(gain), Indicate(dots, color=ACCENT), run_time=1.0)
        fitted = 10 ** (intercept + slope * np.log10(params))
        return float(np.abs(losses / fitted - 1).max())
