"""Chapter 8: the sort model's real training run, as log.jsonl recorded it.

The loss every 5 steps (one training batch each) and the val loss at each evaluation,
on a log scale because training takes the loss down by more than three orders of
magnitude; under it, the learning rate the run used: linear warmup, then cosine decay.
"""

import math

from bookscene import *
from palette import ACCENT, ACCENT_2, POSITIVE, ROLE, TEXT, TEXT_2

TRAIN_COLOR, VAL_COLOR = ACCENT, ROLE["x"]  # the plot cycle's first two, as in the notebooks
LOSS_DECADES = (0, -1, -2, -3, -4)  # log10 of the loss ticks
FLOOR = min(LOSS_DECADES)


def tick_text(decade: int) -> str:
    return "1" if decade == 0 else f"{10.0**decade:.{-decade}f}"


def log_y(loss: float) -> float:
    """Height on the loss plot: decades above the floor, so the x-axis sits at the bottom."""
    return math.log10(loss) - FLOOR


class LossCurveScene(BookScene):
    def construct(self):
        from model_src import tasks, trained

        sort = trained.get("sort")
        cfg, metrics = sort.config, sort.metrics
        evals = [m for m in metrics if "val_loss" in m]
        accuracy = tasks.sort_accuracy(sort.model)
        self.show_title(
            "Training the sort model",
            f"{cfg['max_iters']} steps of AdamW, batch {cfg['batch_size']}: the run's own log",
        )
        loss_axes, lr_axes = self.draw_axes(cfg)
        self.show_schedule(cfg, metrics, loss_axes, lr_axes)
        legend, val_dots = self.show_losses(cfg, metrics, evals, loss_axes)
        final = evals[-1]
        final_text = label(
            f"final val loss\n{final['val_loss']:.5f}\n\n"
            f"{accuracy:.0%} of held-out\nproblems sorted",
            MIN_TEXT,
            POSITIVE,
            line_spacing=1.0,
        )
        # two facts on the picture, parted by a blank line; in words, by a semicolon
        said(
            final_text,
            f"final val loss {final['val_loss']:.5f}; {accuracy:.0%} of held-out problems sorted",
        )
        final_point = val_dots[-1]
        final_text.next_to(legend, DOWN, buff=0.4, aligned_edge=LEFT)
        self.play(FadeIn(final_text), Indicate(final_point, color=TEXT), run_time=1.2)
        self.wait(2.5)
        self.mark_poster()  # the whole picture, just before the takeaway card
        first = evals[0]
        moved = "fell" if final["val_loss"] < first["val_loss"] else "rose"
        self.takeaway(
            f"In this run (seed {cfg['seed']}), the val loss {moved}\n"
            f"from {first['val_loss']:.3f} at step {first['iter']} "
            f"to {final['val_loss']:.5f} at step {final['iter']}.",
            f"One run, warmup then cosine decay: batch loss {metrics[0]['loss']:.2f} "
            f"at step {metrics[0]['iter']},\n"
            f"{sort.train_seconds:.0f} s of training on one CPU core.",
        )

    def draw_axes(self, cfg: dict) -> tuple[Axes, Axes]:
        """The loss on a log axis (y is log10(loss)), the learning rate under it on the
        same step axis."""
        max_iters = cfg["max_iters"]
        loss_axes = Axes(
            x_range=[0, max_iters, 100],
            y_range=[0, 0.3 - FLOOR, 1],
            x_length=6.6,
            y_length=3.6,
            tips=False,
            axis_config={"color": TEXT_2, "stroke_width": 2},
        )
        loss_axes.move_to(UP * 0.35 + LEFT * 0.9)  # the phase names clear the subtitle
        lr_axes = Axes(
            x_range=[0, max_iters, 100],
            y_range=[0, cfg["learning_rate"] * 1.15, 1],
            x_length=6.6,
            y_length=1.0,
            tips=False,
            axis_config={"color": TEXT_2, "stroke_width": 2},
            y_axis_config={"include_ticks": False},
        )
        lr_axes.next_to(loss_axes, DOWN, buff=0.35)
        lr_axes.shift(RIGHT * (loss_axes.c2p(0, 0)[0] - lr_axes.c2p(0, 0)[0]))  # same step axis

        y_ticks = VGroup(
            *[
                label(tick_text(d), MIN_TEXT, TEXT_2).next_to(
                    loss_axes.c2p(0, d - FLOOR), LEFT, buff=0.15
                )
                for d in LOSS_DECADES
            ]
        )
        x_ticks = VGroup(
            *[
                label(str(it), MIN_TEXT, TEXT_2).next_to(lr_axes.c2p(it, 0), DOWN, buff=0.12)
                for it in range(0, max_iters + 1, 100)
            ]
        )
        y_name = label("loss (log scale)", MIN_TEXT, TEXT_2).rotate(PI / 2)
        y_name.next_to(y_ticks, LEFT, buff=0.2)
        x_name = label("step", MIN_TEXT, TEXT_2).next_to(x_ticks, DOWN, buff=0.1)
        self.play(
            Create(loss_axes),
            Create(lr_axes),
            FadeIn(y_ticks),
            FadeIn(x_ticks),
            FadeIn(y_name),
            FadeIn(x_name),
            run_time=1.2,
        )
        return loss_axes, lr_axes

    def show_schedule(self, cfg: dict, metrics: list[dict], loss_axes: Axes, lr_axes: Axes):
        """The schedule's two phases, shaded across both plots, and the learning rate."""
        max_iters, warmup = cfg["max_iters"], cfg["warmup_iters"]
        lr_name = label(
            f"learning rate\n(peak {cfg['learning_rate']:g})", MIN_TEXT, ACCENT_2, line_spacing=1.0
        ).next_to(lr_axes, LEFT, buff=0.2)
        said(
            lr_name,
            f"learning rate (peak {cfg['learning_rate']:g}): warmup for the first {warmup} "
            "steps, then cosine decay",
        )
        top, bottom = loss_axes.get_top()[1], lr_axes.get_bottom()[1]
        phases = VGroup()
        for start, end, name, color in (
            (0, warmup, "warmup", ACCENT_2),
            (warmup, max_iters, "cosine decay", TEXT_2),
        ):
            left, right = loss_axes.c2p(start, 0)[0], loss_axes.c2p(end, 0)[0]
            band = Rectangle(
                width=right - left,
                height=top - bottom,
                stroke_width=0,
                fill_color=color,
                fill_opacity=0.08,
            )
            band.move_to([(left + right) / 2, (top + bottom) / 2, 0])
            name_text = label(name, MIN_TEXT, color).next_to(band, UP, buff=0.08)
            phases.add(VGroup(band, name_text))
        lr_curve = lr_axes.plot_line_graph(
            [m["iter"] for m in metrics],
            [m["lr"] for m in metrics],
            line_color=ACCENT_2,
            add_vertex_dots=False,
            stroke_width=3,
        )
        self.play(FadeIn(phases), FadeIn(lr_name), run_time=0.8)
        self.play(Create(lr_curve), run_time=1.5)

    def show_losses(self, cfg: dict, metrics, evals, loss_axes: Axes) -> tuple[VGroup, VGroup]:
        """The training loss, one batch every 5 steps: noisy, so drawn thin; then the val
        loss at each evaluation. Returns the legend and the val dots."""
        train_curve = loss_axes.plot_line_graph(
            [m["iter"] for m in metrics],
            [log_y(m["loss"]) for m in metrics],
            line_color=TRAIN_COLOR,
            add_vertex_dots=False,
            stroke_width=2.5,
        )
        val_dots = VGroup(
            *[
                Dot(loss_axes.c2p(m["iter"], log_y(m["val_loss"])), radius=0.07, color=VAL_COLOR)
                for m in evals
            ]
        )
        val_line = loss_axes.plot_line_graph(
            [m["iter"] for m in evals],
            [log_y(m["val_loss"]) for m in evals],
            line_color=VAL_COLOR,
            add_vertex_dots=False,
            stroke_width=4,
        )
        legend = VGroup(
            caption(
                f"train loss\n(one batch,\nevery {cfg['log_interval']} steps)",
                MIN_TEXT,
                TRAIN_COLOR,
                line_spacing=1.0,
            ),
            caption(
                f"val loss\n(every {cfg['eval_interval']} steps)",
                MIN_TEXT,
                VAL_COLOR,
                line_spacing=1.0,
            ),
        ).arrange(DOWN, aligned_edge=LEFT, buff=0.25)
        legend.next_to(loss_axes, RIGHT, buff=0.55).align_to(loss_axes, UP)  # clear of "600"
        self.play(Create(train_curve), FadeIn(legend[0]), run_time=3.5, rate_func=linear)
        self.play(
            Create(val_line),
            LaggedStart(*[GrowFromCenter(d) for d in val_dots]),
            FadeIn(legend[1]),
            run_time=1.5,
        )
        return legend, val_dots
