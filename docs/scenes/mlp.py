"""Chapter 5: the first block's MLP of the trained sort model, at one position and at all.

Every bar is a real number: the sort model's sample input is run up to block 0's MLP,
and the columns are the last position's 48 inputs, its 192 hidden pre-activations, the
same after GELU, and its 48 outputs. The share of negative pre-activations is measured
over every held-out sort problem, as the chapter measures it.
"""

from dataclasses import dataclass

import torch
from bookscene import *
from palette import ACCENT, ACCENT_2, ROLE, TEXT, TEXT_2

HIDDEN_HEIGHT = 4.8  # the 192-unit column; the 48-channel ones are a quarter of it
BAR_HALF_WIDTH = 0.75


@dataclass
class MLPValues:
    letters: str  # the sample input, one letter per position
    h: torch.Tensor  # (T, C): what the MLP reads
    hidden: torch.Tensor  # (T, 4C): c_fc's output, GELU's input
    activated: torch.Tensor  # (T, 4C)
    out: torch.Tensor  # (T, C)
    negative_share: float  # of GELU's inputs over all held-out problems
    gelu_floor: float  # GELU's lowest value: where every negative input lands, up to 0


def block0_mlp(model, idx):
    """Block 0's MLP input, hidden pre-activations, activations and output for idx."""
    block = model.transformer.h[0]
    pos = torch.arange(idx.size(1))
    x = model.transformer.wte(idx) + model.transformer.wpe(pos)
    h = block.ln_2(x + block.attn(block.ln_1(x)))
    hidden = block.mlp.c_fc(h)
    activated = block.mlp.gelu(hidden)
    return h, hidden, activated, block.mlp.c_proj(activated)


@torch.no_grad()
def load_values() -> MLPValues:
    from model_src import prepare, presets, trained

    sort = trained.get("sort")
    idx = presets.sample_input("sort")
    h, hidden, activated, out = block0_mlp(sort.model, idx)
    data = prepare.sort_data()
    rows = torch.from_numpy(data.val.reshape(-1, data.meta["seq_len"]).astype("int64"))
    val_hidden = block0_mlp(sort.model, rows[:, :-1])[1]
    return MLPValues(
        letters=sort.decode(idx[0]),
        h=h[0],
        hidden=hidden[0],
        activated=activated[0],
        out=out[0],
        negative_share=(val_hidden < 0).float().mean().item(),
        gelu_floor=sort.model.transformer.h[0].mlp.gelu(torch.linspace(-6, 0, 60001)).min().item(),
    )


def bar_column(values, height, scale, color, negative_color=None, half_width=BAR_HALF_WIDTH):
    """One vector as a column of horizontal bars, one per entry, left of the axis when
    negative. `scale` is the value drawn at full half-width. The bars of one sign are a
    single shape with one outline per bar: far quicker to draw than a VGroup of them."""
    step = height / len(values)
    axis = Line(UP * height / 2, DOWN * height / 2, stroke_width=1.5, color=TEXT_2)
    signs = VGroup(
        *[
            VMobject(stroke_width=0, fill_color=c, fill_opacity=1)
            for c in (color, negative_color or color)
        ]
    )
    for i, value in enumerate(values.tolist()):
        width = max(abs(value) / scale * half_width, 0.004) * (1 if value >= 0 else -1)
        top = height / 2 - (i + 0.125) * step
        bottom = top - step * 0.75
        bar = signs[0] if value >= 0 else signs[1]
        bar.start_new_path([0, top, 0])
        bar.add_points_as_corners(
            [[width, top, 0], [width, bottom, 0], [0, bottom, 0], [0, top, 0]]
        )
    return VGroup(axis, signs)


def shown(value: float) -> str:
    """Two decimals with a true minus sign; a tiny value keeps enough digits not to
    read as a bare zero."""
    return number(value, ".2f" if abs(value) >= 0.01 or value == 0 else ".4f")


def column_name(column, name, shape, color):
    text = VGroup(label(name, MIN_TEXT, color), label(shape, MIN_TEXT, TEXT_2, mono=True))
    return text.arrange(DOWN, buff=0.08).next_to(column, UP, buff=0.2)


def gelu_plot(pre, post):
    """GELU's curve with this position's 192 real (input, output) pairs on it."""
    low, high = min(-3.0, pre.min().item() - 0.3), max(3.0, pre.max().item() + 0.3)
    axes = Axes(
        x_range=[low, high, 2],
        y_range=[-0.5, high, 2],
        x_length=4.2,
        y_length=3.4,
        axis_config={"color": TEXT_2, "stroke_width": 2, "include_ticks": False},
        tips=False,
    )
    curve = axes.plot(
        lambda z: torch.nn.functional.gelu(torch.tensor(z)).item(),
        x_range=[low, high],
        color=TEXT_2,
        stroke_width=3,
    )
    dots = VGroup(
        *[
            Dot(axes.c2p(a, b), radius=0.045, color=ACCENT if a < 0 else ACCENT_2)
            for a, b in zip(pre.tolist(), post.tolist(), strict=True)
        ]
    )
    name = caption("GELU(z) = z · Φ(z)", MIN_TEXT, TEXT).next_to(axes, UP, buff=0.15)
    return axes, curve, dots, name


class MLPScene(BookScene):
    def construct(self):
        v = load_values()
        t = len(v.letters) - 1
        title = self.show_title(
            "MLP: expand, bend, project back",
            f"block 0 of the trained sort model, position {t} (token {v.letters[t]})",
        )
        hid_col, hid_cap = self.expand(v, t)
        self.bend(v, t, hid_col, hid_cap)
        self.project_back(v, t, hid_col)
        # every position: the same weights, and no position sees another
        self.play(*[FadeOut(m) for m in self.mobjects if m is not title], run_time=0.6)
        every = caption(
            "every position: the same weights, and no position sees another", MIN_TEXT, TEXT_2
        ).move_to(title[1])
        self.play(swap(title[1], every), run_time=0.8)
        self.show_every_position(v)
        self.mark_poster()  # the whole picture, just before the takeaway card
        self.takeaway(
            "The MLP widens each position ×4,\nbends it, and projects it back.",
            "The same two layers act on every position separately;\n"
            "attention mixes positions, the MLP transforms each one.",
        )

    def expand(self, v: MLPValues, t: int) -> tuple[VGroup, Text]:
        """c_fc turns 48 channels into 192 hidden units."""
        C, H = v.h.size(-1), v.hidden.size(-1)
        h_col = bar_column(v.h[t], HIDDEN_HEIGHT * C / H, v.h[t].abs().max().item(), ROLE["x"])
        h_col.move_to(LEFT * 5.3 + DOWN * 0.7)
        h_cap = column_name(h_col, "h", f"{C}", ROLE["x"])
        self.play(FadeIn(h_col), FadeIn(h_cap), run_time=0.8)

        hidden_scale = v.hidden[t].abs().max().item()
        hid_col = bar_column(v.hidden[t], HIDDEN_HEIGHT, hidden_scale, ACCENT_2, ACCENT)
        hid_col.move_to(LEFT * 1.6 + DOWN * 0.7)
        hid_cap = column_name(hid_col, "c_fc(h)", f"{H}", ACCENT_2)
        expand = main_arrow(h_col.get_right() + RIGHT * 0.1, hid_col.get_left() + LEFT * 0.1)
        expand_note = label(f"c_fc\n{C} → {H}", MIN_TEXT, TEXT_2).next_to(expand, DOWN, buff=0.15)
        self.play(GrowArrow(expand), FadeIn(expand_note), run_time=0.8)
        # the new column unfolds from the arrow's tip: a copy flying across would cross the note
        self.play(GrowFromEdge(hid_col, LEFT), FadeIn(hid_cap), run_time=1.4)
        self.wait(0.8)
        return hid_col, hid_cap

    def bend(self, v: MLPValues, t: int, hid_col: VGroup, hid_cap: Text) -> None:
        """Each unit goes through GELU on its own."""
        axes, curve, dots, gelu_name = gelu_plot(v.hidden[t], v.activated[t])
        VGroup(axes, curve, dots, gelu_name).move_to(RIGHT * 3.6 + DOWN * 0.4)
        self.play(Create(axes), Create(curve), FadeIn(gelu_name), run_time=1.0)
        on_axis = VGroup(
            *[
                Dot(axes.c2p(z, 0), radius=0.04, color=d.get_color())
                for z, d in zip(v.hidden[t].tolist(), dots, strict=True)
            ]
        )
        self.play(FadeIn(on_axis, lag_ratio=0.01), run_time=0.8)
        self.play(ReplacementTransform(on_axis, dots), run_time=1.2)

        lowest, highest = v.hidden[t].argmin().item(), v.hidden[t].argmax().item()
        pairs = VGroup()
        for unit, direction in ((lowest, UP), (highest, LEFT)):
            z, g = v.hidden[t, unit].item(), v.activated[t, unit].item()
            text = label(f"{shown(z)} → {shown(g)}", MIN_TEXT, TEXT)
            pairs.add(text.next_to(dots[unit], direction, buff=0.2))
        shown_pairs = ", ".join(pair.original_text for pair in pairs)
        said(pairs, f"GELU at this position's lowest and highest input: {shown_pairs}")
        self.play(FadeIn(pairs), run_time=0.6)

        H, hidden_scale = v.hidden.size(-1), v.hidden[t].abs().max().item()
        act_col = bar_column(v.activated[t], HIDDEN_HEIGHT, hidden_scale, ACCENT_2, ACCENT)
        act_col.move_to(hid_col)
        act_cap = column_name(act_col, "gelu(c_fc(h))", f"{H}", ACCENT_2)
        share = caption(
            f"{v.negative_share:.0%} of block 0's GELU inputs\n"
            "(all held-out problems) are negative:\n"
            f"squashed into [{shown(v.gelu_floor)}, 0)",
            MIN_TEXT,
            ACCENT,
        )
        share.next_to(axes, DOWN, buff=0.35).to_edge(RIGHT, buff=0.3)  # inside the frame
        self.play(Transform(hid_col, act_col), swap(hid_cap, act_cap), FadeIn(share), run_time=1.4)
        self.wait(1.4)
        self.play(FadeOut(VGroup(axes, curve, dots, gelu_name, pairs, share)), run_time=0.6)

    def project_back(self, v: MLPValues, t: int, hid_col: VGroup) -> None:
        """c_proj turns 192 units into 48 channels again."""
        C, H = v.h.size(-1), v.hidden.size(-1)
        out_col = bar_column(
            v.out[t], HIDDEN_HEIGHT * C / H, v.out[t].abs().max().item(), ROLE["x"]
        )
        out_col.move_to(RIGHT * 2.4 + DOWN * 0.7)
        out_cap = column_name(out_col, "c_proj(...)", f"{C}", ROLE["x"])
        project = main_arrow(hid_col.get_right() + RIGHT * 0.1, out_col.get_left() + LEFT * 0.1)
        project_note = label(f"c_proj\n{H} → {C}", MIN_TEXT, TEXT_2).next_to(
            project, DOWN, buff=0.15
        )
        self.play(GrowArrow(project), FadeIn(project_note), run_time=0.8)
        self.play(GrowFromEdge(out_col, LEFT), FadeIn(out_cap), run_time=1.4)
        residual = caption("added to the\nresidual stream", MIN_TEXT, TEXT_2)
        residual.next_to(out_col, RIGHT, buff=0.6)
        self.play(FadeIn(residual, shift=0.2 * RIGHT), run_time=0.6)
        self.wait(1.2)

    def show_every_position(self, v: MLPValues):
        T, C, H = v.h.size(0), v.h.size(-1), v.hidden.size(-1)
        spacing = 1.15
        columns = VGroup()
        for t in range(T):
            letter = label(v.letters[t], 26, ROLE["ids"])
            inp = bar_column(v.h[t], 1.0, v.h.abs().max().item(), ROLE["x"], half_width=0.4)
            box = panel(0.85, 0.55, stroke=ACCENT_2)
            box.add(label("MLP", MIN_TEXT, ACCENT_2).move_to(box))
            outp = bar_column(v.out[t], 1.0, v.out.abs().max().item(), ROLE["x"], half_width=0.4)
            stack = VGroup(letter, inp, box, outp).arrange(DOWN, buff=0.5)
            columns.add(stack)
        for t, stack in enumerate(columns):  # evenly spaced by their MLP boxes
            stack.shift(RIGHT * (t - (T - 1) / 2) * spacing + DOWN * 0.45 - stack[2].get_center())
        arrows = VGroup()
        for _letter, inp, box, outp in columns:
            arrows.add(
                side_arrow(inp.get_bottom(), box.get_top(), TEXT_2),
                side_arrow(box.get_bottom(), outp.get_top(), TEXT_2),
            )
        names = VGroup(
            label(f"h  1×{T}×{C}", MIN_TEXT, ROLE["x"]),
            label(f"→  1×{T}×{H} inside  →", MIN_TEXT, ACCENT_2),
            label(f"out  1×{T}×{C}", MIN_TEXT, ROLE["x"]),
        ).arrange(RIGHT, buff=0.3)
        names.to_edge(DOWN, buff=0.35)
        self.play(LaggedStart(*[FadeIn(c[:2]) for c in columns], lag_ratio=0.05), run_time=1.0)
        self.play(
            LaggedStart(*[FadeIn(c[2]) for c in columns], lag_ratio=0.05),
            LaggedStart(*[GrowArrow(a) for a in arrows[0::2]], lag_ratio=0.05),
            run_time=1.0,
        )
        self.play(
            LaggedStart(*[GrowArrow(a) for a in arrows[1::2]], lag_ratio=0.05),
            LaggedStart(*[FadeIn(c[3]) for c in columns], lag_ratio=0.05),
            FadeIn(names),
            run_time=1.2,
        )
        self.wait(1.6)
