"""Chapter 6: one block of the trained sort model, drawn as a road with two detours.

The residual stream x runs straight through; each sub-layer reads a LayerNorm'd copy
and its result is added back at a (+). Every number is measured when the clip renders:
the first held-out sort problem goes through the trained model one sub-layer at a time
(checked against the blocks themselves), and the clip follows the vector of its last
position, the one that predicts the final letter.
"""

import itertools

import torch
from bookscene import *
from palette import ACCENT, ACCENT_2, BG, ROLE, TEXT, TEXT_2

VAL_ROW = 0  # the held-out problem the chapter's LayerNorm example uses
ROAD_Y = -1.1
DETOUR_Y = 1.3
BOX_HEIGHT = 1.25
PAD = 0.1  # the least room between a card's text and its edge, each side
NOTE_Y = -2.9
STREAM = ROLE["x"]


def measure():
    """The trained run, the input tokens and, per block, the norms at the last position of
    what flows: the stream in, the normalised copies, the two writes, the stream after each."""
    from model_src import prepare, trained

    sort = trained.get("sort")
    model = sort.model
    data = prepare.sort_data()
    row = data.val.reshape(-1, data.meta["seq_len"])[VAL_ROW].astype("int64")
    idx = torch.from_numpy(row[:-1])[None]  # (1, T)
    norms = []
    with torch.no_grad():
        x = model.transformer.wte(idx) + model.transformer.wpe(torch.arange(idx.size(1)))
        for block in model.transformer.h:
            ln_1 = block.ln_1(x)
            attn = block.attn(ln_1)
            middle = x + attn
            ln_2 = block.ln_2(middle)
            mlp = block.mlp(ln_2)
            out = middle + mlp
            assert torch.allclose(out, block(x), atol=1e-4)  # the same two detours as Block
            parts = dict(x=x, ln_1=ln_1, attn=attn, middle=middle, ln_2=ln_2, mlp=mlp, out=out)
            norms.append({k: v[0, -1].norm().item() for k, v in parts.items()})
            x = out
    return sort, idx, tuple(x.shape), norms


def box(title: str, detail: str, color: str, width: float) -> VGroup:
    """A card `width` wide, or wider where its text needs it: the text never meets the edge."""
    text = VGroup(label(title, 28, color), label(detail, MIN_TEXT, TEXT_2))
    text.arrange(DOWN, buff=0.08)
    card = panel(max(width, text.width + 2 * PAD), BOX_HEIGHT, stroke=color, stroke_width=3)
    return VGroup(card, text.move_to(card))


def junction(x: float) -> VGroup:
    ring = Circle(radius=0.26, stroke_color=STREAM, stroke_width=4)
    ring.set_fill(BG, 1).move_to([x, ROAD_Y, 0])
    return VGroup(ring, label("+", 30, STREAM).move_to(ring))


def detour(start_x: float, norm_box: VGroup, layer_box: VGroup, end_x: float):
    """One detour's thin lines (up from the road, through both boxes, down to the (+)), and
    the two legs a copy travels: to the sub-layer's output, and from there to the (+)."""
    up = Line([start_x, ROAD_Y, 0], [start_x, DETOUR_Y, 0], stroke_width=3, color=TEXT_2)
    into_norm = side_arrow([start_x, DETOUR_Y, 0], norm_box.get_left())
    into_layer = side_arrow(norm_box.get_right(), layer_box.get_left())
    across = Line(layer_box.get_right(), [end_x, DETOUR_Y, 0], stroke_width=3, color=ACCENT)
    down = side_arrow([end_x, DETOUR_Y, 0], [end_x, ROAD_Y + 0.26, 0], ACCENT)
    exit_x = layer_box.get_right()[0]
    reading = VMobject().set_points_as_corners(
        [[start_x, ROAD_Y, 0], [start_x, DETOUR_Y, 0], [exit_x, DETOUR_Y, 0]]
    )
    writing = VMobject().set_points_as_corners(
        [[exit_x, DETOUR_Y, 0], [end_x, DETOUR_Y, 0], [end_x, ROAD_Y, 0]]
    )
    return VGroup(up, into_norm, into_layer, across, down), (reading, writing)


def dot(color: str) -> RoundedRectangle:
    """One position's vector, travelling."""
    return RoundedRectangle(
        corner_radius=0.05, width=0.18, height=0.5, stroke_width=0, fill_color=color, fill_opacity=1
    )


def norm_tag(value: float, x: float) -> Text:
    return label(f"|x| = {value:.2f}", MIN_TEXT, STREAM).move_to([x, ROAD_Y - 0.55, 0])


class BlockScene(BookScene):
    def construct(self):
        sort, idx, shape, norms = measure()
        cfg = sort.model.config
        dims = "×".join(map(str, shape))
        prompt = sort.decode(idx[0, : sort.meta["prompt_len"]])
        title = self.show_title(
            "A block: two detours, each added back",
            f"block 0 of the trained sort model, at the last position of prompt {prompt}",
        )
        road, stream_name, road_note = self.draw_road(dims)
        hidden = sort.model.transformer.h[0].mlp.c_fc.out_features
        lines, boxes, pluses, legs = self.draw_detours(cfg, hidden)
        vector, tags, note = self.follow_vector(norms[0], legs, pluses, road_note)
        same = caption(f"x leaves as {dims}: the same shape it entered with", MIN_TEXT, STREAM)
        same.move_to(note)
        self.play(
            vector.animate.move_to([6.5, ROAD_Y, 0]), FadeOut(note), FadeIn(same), run_time=0.8
        )
        self.wait(1.2)
        drawing = VGroup(road, stream_name, *lines, *boxes)
        drawing.add(*pluses, vector, tags, same)
        self.stack(cfg.n_layer, dims, norms, title, drawing)
        self.wait(2.4)
        self.mark_poster()  # the whole picture, just before the takeaway card
        self.takeaway(
            "Sub-layers add to the residual stream;\nthey never replace it.",
            f"Each reads a LayerNorm'd copy (pre-LN).\nA block maps {dims} to {dims}, so blocks "
            "stack;\nthe stream itself is normalised once, by ln_f.",
        )

    def draw_road(self, dims: str) -> tuple[Arrow, VGroup, Text]:
        """The road: the residual stream, straight through."""
        road = main_arrow([-5.4, ROAD_Y, 0], [6.9, ROAD_Y, 0], STREAM)
        stream_name = VGroup(label("x", 30, STREAM), label(dims, MIN_TEXT, TEXT_2, mono=True))
        stream_name.arrange(DOWN, buff=0.08).next_to(road, LEFT, buff=0.15)
        road_note = caption("the residual stream: one vector per position", MIN_TEXT, STREAM)
        road_note.move_to([0, NOTE_Y, 0])
        self.play(GrowArrow(road), FadeIn(stream_name), FadeIn(road_note), run_time=1.0)
        return road, stream_name, road_note

    def draw_detours(self, cfg, hidden: int):
        """The two detours, each a LayerNorm and a sub-layer, and their (+) on the road;
        returns their lines, boxes, (+)s and the legs a copy travels on each."""
        hs = cfg.n_embd // cfg.n_head
        plus_1, plus_2 = junction(0.15), junction(5.85)
        ln_1 = box("ln_1", "LayerNorm", TEXT_2, 2.1).move_to([-3.75, DETOUR_Y, 0])
        attn = box("attn", f"{cfg.n_head} heads × {hs}", ACCENT_2, 2.5)
        attn.move_to([-1.25, DETOUR_Y, 0])
        ln_2 = box("ln_2", "LayerNorm", TEXT_2, 2.1).move_to([2.0, DETOUR_Y, 0])
        mlp = box("mlp", f"{cfg.n_embd}→{hidden}→{cfg.n_embd}", ACCENT, 2.3)
        mlp.move_to([4.35, DETOUR_Y, 0])
        lines_1, legs_1 = detour(-5.1, ln_1, attn, plus_1.get_x())
        lines_2, legs_2 = detour(0.6, ln_2, mlp, plus_2.get_x())
        self.play(
            Create(lines_1),
            FadeIn(ln_1, attn, plus_1),
            Create(lines_2),
            FadeIn(ln_2, mlp, plus_2),
            run_time=1.4,
        )
        self.wait(0.4)
        return (lines_1, lines_2), (ln_1, attn, ln_2, mlp), (plus_1, plus_2), (legs_1, legs_2)

    def follow_vector(self, first: dict, legs, pluses, road_note: Text):
        """The vector enters; a copy takes each detour and comes back as a write. Returns
        the vector, its norm tags and the last note."""
        vector = dot(STREAM).move_to([-5.35, ROAD_Y, 0])
        tags = VGroup(norm_tag(first["x"], -5.0))
        self.play(FadeIn(vector), FadeIn(tags[0]), run_time=0.6)
        note = road_note
        detours = (
            (legs[0], -4.8, pluses[0], "attention", "ln_1", "attn", "middle"),
            (legs[1], 0.85, pluses[1], "the MLP", "ln_2", "mlp", "out"),
        )
        for (reading, writing), start_x, plus, name, read, write, after in detours:
            explain = caption(
                f"{name} reads a normalised copy (norm {first[read]:.2f});\n"
                f"its write (norm {first[write]:.2f}) is added to x",
                MIN_TEXT,
                TEXT,
            ).move_to(note)
            self.play(
                vector.animate.move_to([start_x, ROAD_Y, 0]),
                FadeOut(note),
                FadeIn(explain),
                run_time=0.6,
            )
            note = explain
            copy = dot(TEXT_2).move_to(vector)
            waypoint = [(start_x + plus.get_x()) / 2, ROAD_Y, 0]
            self.play(
                MoveAlongPath(copy, reading, rate_func=linear),
                vector.animate(rate_func=linear).move_to(waypoint),
                run_time=1.3,
            )
            copy.set_color(ACCENT)  # what leaves the sub-layer is its write
            self.play(
                MoveAlongPath(copy, writing, rate_func=linear),
                vector.animate(rate_func=linear).move_to(plus),
                run_time=0.9,
            )
            self.remove(copy)
            tags.add(norm_tag(first[after], plus.get_x()))
            self.play(
                Indicate(plus, color=ACCENT, scale_factor=1.4), FadeIn(tags[-1]), run_time=0.7
            )
        return vector, tags, note

    def stack(self, n_layer: int, dims: str, norms: list[dict], title, drawing: VGroup):
        """Stacking: the block becomes one card, and three of them make the model's middle."""
        entering = [norms[0]["x"]] + [n["out"] for n in norms]
        readings = [label(f"{value:.2f}", MIN_TEXT, STREAM) for value in entering]
        # each reading sits over the arrow between two cards and clears both by 0.2
        gap = max(1.15, max(r.width for r in readings) + 0.4)
        cards = VGroup(
            *[box(f"block {i}", dims, STREAM, 2.0) for i in range(n_layer)],
            box("ln_f", "LayerNorm", TEXT_2, 2.1),
        ).arrange(RIGHT, buff=gap)
        cards.move_to([0.55, 0.5, 0])
        links = VGroup(
            main_arrow([-6.7, cards.get_y(), 0], cards[0].get_left(), STREAM),
            *[
                main_arrow(a.get_right(), b.get_left(), STREAM)
                for a, b in itertools.pairwise(cards)
            ],
        )
        readings = VGroup(
            *[r.next_to(link, UP, buff=0.15) for r, link in zip(readings, links, strict=True)]
        )
        change = [n["out"] - n["x"] for n in norms]
        reading_note = caption(
            f"|x| of the same vector between stages: block 0 takes it from {entering[0]:.2f} "
            f"to {entering[1]:.2f},\nblocks 1 and 2 change it by "
            + " and ".join(number(c, "+.2f") for c in change[1:]),
            MIN_TEXT,
            TEXT,
            line_spacing=1.1,
        ).move_to([0, -1.4, 0])
        stack_title = VGroup(
            caption(f"Stacked × {n_layer}: one stream through every block", 36),
            caption(f"each block maps {dims} to {dims}", MIN_TEXT, TEXT_2),
        )
        stack_title.arrange(DOWN, buff=0.12).move_to(title)
        self.play(
            FadeTransform(drawing, cards[0]),
            swap(title, stack_title),
            run_time=1.0,
        )
        self.play(
            LaggedStart(*[FadeIn(c, shift=0.2 * RIGHT) for c in cards[1:]], lag_ratio=0.2),
            LaggedStart(*[GrowArrow(a) for a in links], lag_ratio=0.15),
            run_time=1.4,
        )
        self.play(FadeIn(readings), FadeIn(reading_note), run_time=0.8)
