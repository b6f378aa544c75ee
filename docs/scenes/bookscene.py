"""What every clip shares: the palette's background, a title, a closing takeaway card,
and the three arrow weights of the brief (main data flow, side path, optional part).

A BookScene also keeps its beats, for the clip's captions and transcript: the title, each
line of narration, and the takeaway, each with the time it appears. A scene says which
of its texts are narration: a ``caption()`` where ``label()`` is a name or a value on a
picture, and ``said()`` for a formula or a chart row, with the words a reader needs. No
rule of length tells them apart: "x[t] = wte[idx[t]] + wpe[t]" is one step of a clip and
"c_fc 48 → 192" a label. ``mark_poster()`` marks the frame on screen as
the clip's poster. The clip worker reads both (``beats``, ``poster_time``).

Scenes subclass BookScene and build their pictures from the small helpers below, so a
change of font or arrow weight is made here once. After every animation the scene checks
its text: inside the frame, large enough for a phone, clear of other text and of the
pictures a scene marks ``keep_clear``; a clip whose text breaks a rule fails to render.
"""

import math

import numpy as np
from manim import *
from palette import ACCENT, ACCENT_2, BG, PANEL, TEXT, TEXT_2

config.background_color = BG

FONT = "DejaVu Sans"
MONO = "DejaVu Sans Mono"
# Text a reader can read on a phone. On a 390 px phone the player is as wide as the
# screen (manim_clip.css; tests/test_clip_pages.py measures it), and a capital must be at
# least 7 CSS px tall there, a 10 px font's: 7 / 390 of the frame's width. A DejaVu Sans
# capital is 0.010125 frame units tall per point of font size ("H" at 100 is 1.0125 of
# the frame's 14.2 units), so the old smallest size, 24, gave 6.7 px capitals and the
# smallest now is 26 (7.2 px). Every Text on screen is checked after every animation at
# the size it is shown, scaled or not (check_text_fits). The player's native controls
# sit in a band of their own below the frame (manim_clip.css), so the frame's bottom
# edge is as free for text as its others.
PHONE_PLAYER_CSS_PX, MIN_CAPITAL_CSS_PX = 390, 7
CAPITAL_PER_POINT = 0.010125  # frame units
MIN_TEXT = math.ceil(
    MIN_CAPITAL_CSS_PX / PHONE_PLAYER_CSS_PX * config.frame_width / CAPITAL_PER_POINT
)


def label(text: str, size: float = 28, color: str = TEXT, mono: bool = False, **kw) -> Text:
    if size < MIN_TEXT:
        raise ValueError(f"label {text!r}: size {size} is below MIN_TEXT ({MIN_TEXT})")
    text = Text(text, font=MONO if mono else FONT, font_size=size, color=color, **kw)
    text.shape_ratio = text.width / text.height if text.height else None  # a scale keeps it
    # Each glyph keeps the parsed SVG path its points were made from, and every copy of
    # the text (each FadeIn, Transform, takeaway) deep-copies it again: most of a clip's
    # copying. Nothing reads it after the points are made.
    for glyph in text.family_members_with_points():
        glyph.path_obj = None
    return text


# Every mobject said() marked while the scene plays: BookScene.tear_down checks each was said.
MARKED: list[Mobject] = []


def said(mobject: Mobject, text: str | None = None) -> Mobject:
    """Mark a mobject as narration: when it first comes on screen, ``text`` (a Text's own
    words unless given) is a beat of the clip's captions and transcript. Give the words
    for what is not a Text (a MathTex formula) or says more than its text alone (a bar's
    name and its value)."""
    words = text if text is not None else mobject.original_text
    mobject.narration = " ".join(words.split())
    MARKED.append(mobject)
    return mobject


def caption(text: str, size: float = 28, color: str = TEXT, mono: bool = False, **kw) -> Text:
    """A line of narration, in the transcript and the captions: a label() said."""
    return said(label(text, size, color, mono, **kw))


def number(value: float, spec: str = "") -> str:
    """A number as the pages write it (model_src's wording.number): a true minus sign, and
    none on a value that rounds to zero ("0.0", not "−0.0")."""
    from model_src.experiments.wording import number as worded  # when the clip renders

    return worded(value, spec)


def swap(old: Mobject, new: Mobject) -> Succession:
    """Replace one caption with the next: the old one leaves, then the new one comes.
    Morphing one text into another garbles both for the length of the morph."""
    return Succession(FadeOut(old), FadeIn(new))


def panel(width: float, height: float, stroke: str = PANEL, stroke_width: float = 2):
    return RoundedRectangle(
        corner_radius=0.12,
        width=width,
        height=height,
        fill_color=PANEL,
        fill_opacity=1,
        stroke_color=stroke,
        stroke_width=stroke_width,
    )


def bar(length: float, height: float, color: str) -> Rectangle:
    """A filled bar for a value: never thinner than a hairline, so zero stays visible."""
    return Rectangle(
        width=max(length, 0.02), height=height, stroke_width=0, fill_color=color, fill_opacity=0.9
    )


def tensor_box(name: str, shape: str, color: str, width: float = 2.6, height: float = 1.0):
    """A card for one tensor: its name in its role colour, its shape beneath in grey."""
    card = panel(width, height, stroke=color, stroke_width=3)
    title = label(name, 26, color)
    dims = label(shape, MIN_TEXT, TEXT_2, mono=True)
    text = VGroup(title, dims).arrange(DOWN, buff=0.1).move_to(card)
    return VGroup(card, text)


def heat_grid(
    values, cell_width: float, cell_height: float, color: str, scale: float, levels: int = 6
) -> VGroup:
    """A matrix as a grid of shaded cells, values[r, c] at row r (down), column c (across):
    positive values in `color`, negative ones in grey, brighter the larger they are up to
    `scale`, where the shade saturates. Top-left corner at the origin."""
    rows, cols = values.shape
    shade = (values / scale).clamp(-1, 1).mul(levels).round().int()
    base = ManimColor(PANEL)
    ground = Rectangle(width=cols * cell_width, height=rows * cell_height, stroke_width=0)
    ground.set_fill(base, 1).move_to([cols * cell_width / 2, -rows * cell_height / 2, 0])
    grid = VGroup(ground)
    # cells of one shade are one shape with many subpaths: a few shapes, not rows * cols
    for level in range(-levels, levels + 1):
        where = (shade == level).nonzero().tolist()
        if level == 0 or not where:
            continue
        end = ManimColor(color if level > 0 else TEXT_2)
        piece = VMobject(stroke_width=0)
        piece.set_fill(interpolate_color(base, end, abs(level) / levels), 1)
        for row, col in where:
            corner = np.array([col * cell_width, -row * cell_height, 0])
            piece.start_new_path(corner)
            for step in (
                [cell_width, 0, 0],
                [cell_width, -cell_height, 0],
                [0, -cell_height, 0],
                [0, 0, 0],
            ):
                piece.add_line_to(corner + np.array(step))
        grid.add(piece)
    return grid


def main_arrow(start, end, color: str = ACCENT) -> Arrow:
    """The main data flow: thick."""
    return Arrow(
        start,
        end,
        buff=0.08,
        stroke_width=8,
        color=color,
        max_tip_length_to_length_ratio=0.3,
        max_stroke_width_to_length_ratio=12,
    )


def side_arrow(start, end, color: str = TEXT_2) -> Arrow:
    """A side path: thin."""
    return Arrow(
        start, end, buff=0.08, stroke_width=3, color=color, max_tip_length_to_length_ratio=0.2
    )


def optional_arrow(start, end, color: str = TEXT_2) -> DashedLine:
    """An optional part: thin and dashed."""
    line = DashedLine(start, end, buff=0.08, stroke_width=3, color=color, dash_length=0.12)
    line.add_tip(tip_length=0.18, tip_width=0.18)
    return line


# Two texts closer than this touch: 4.5 px of a 1280 px frame, a quarter of a space at
# MIN_TEXT (a mono space is 0.21 frame units). A text may end a little more than that
# before the next on purpose (a sampled character after its context); closer, the two
# read as one.
TEXT_GAP = 0.05  # frame units


def keep_clear(picture: Mobject) -> Mobject:
    """Mark a picture (a strip of values, a grid) that no text may cover: every text on
    screen is checked against it after every animation (BookScene.check_text_clear)."""
    picture.keep_clear = True
    return picture


def is_drawn(mobject: Mobject) -> bool:
    """Whether any part of the mobject shows: a fill or a stroke not faded out."""
    return any(
        part.get_fill_opacity() > 0 or (part.get_stroke_opacity() > 0 and part.stroke_width > 0)
        for part in mobject.family_members_with_points()
    )


def box(mobject: Mobject) -> np.ndarray:
    """The bounding box as one row: left, bottom, right, top."""
    (left, bottom, _), (right, top, _) = mobject.get_corner(DL), mobject.get_corner(UR)
    return np.array([[left, bottom, right, top]])


def glyph_boxes(text: Text) -> np.ndarray:
    """One bounding box per glyph of a text (a space has none)."""
    glyphs = text.family_members_with_points()
    return np.concatenate([box(g) for g in glyphs]) if glyphs else np.empty((0, 4))


def boxes_meet(a: np.ndarray, b: np.ndarray, gap: float = 0) -> bool:
    """Whether a box of `a` (rows of left, bottom, right, top) and a box of `b` come
    closer than `gap`: overlap, or leave less than `gap` between them on both axes."""
    a, b = a[:, None, :], b[None, :, :]
    apart = (
        (a[..., 2] + gap <= b[..., 0])
        | (b[..., 2] + gap <= a[..., 0])
        | (a[..., 3] + gap <= b[..., 1])
        | (b[..., 3] + gap <= a[..., 1])
    )
    return not apart.all()


class BookScene(Scene):
    """A clip in the book's style: dark background, a title, and a takeaway at the end."""

    def setup(self):
        self.camera.background_color = BG
        self.beats: list[tuple[float, str]] = []  # (seconds, text shown then)
        self.poster_time: float | None = None
        MARKED.clear()

    def tear_down(self):
        """A line marked said() that never came on screen itself (a group whose parts were
        animated one by one, never the group) would be missing from the transcript without
        a word: a clip that loses one fails, naming it."""
        super().tear_down()
        spoken = {text for _, text in self.beats}  # a copy of a marked line says it too
        unsaid = [m.narration for m in MARKED if m.narration not in spoken]
        MARKED.clear()
        if unsaid:
            raise ValueError(
                f"{unsaid[0]!r} is marked said() but never came on screen itself, so the "
                "transcript leaves it out: mark a mobject the scene shows (a part animated "
                "on its own, not the group that holds it), or say it with self.beat()"
            )

    def beat(self, text: str, at: float | None = None) -> None:
        """Record a caption: ``text`` is on screen from ``at`` (default: now)."""
        self.beats.append((self.renderer.time if at is None else at, " ".join(text.split())))

    def mark_poster(self) -> None:
        """The frame on screen now is the clip's poster: its most telling moment."""
        self.poster_time = self.renderer.time

    def play(self, *args, **kwargs):
        start = self.renderer.time
        super().play(*args, **kwargs)
        self.check_text_fits()
        self.check_text_clear()
        for line in self.narration_on_screen():  # narration this animation brought on
            line.beat_recorded = True
            self.beat(line.narration, at=start)

    def texts_on_screen(self):
        """Every Text in the scene, inside groups too, once (a group may hold a text the
        scene also holds)."""
        seen = set()
        for mobject in self.mobjects:
            for m in mobject.get_family():
                if isinstance(m, Text) and id(m) not in seen:
                    seen.add(id(m))
                    yield m

    def narration_on_screen(self):
        """Every mobject marked said() in the scene, inside groups too, whose beat is not
        recorded yet: once each, in the order the scene holds them."""
        seen = set()
        for mobject in self.mobjects:
            for m in mobject.get_family():
                unsaid = getattr(m, "narration", None) and not getattr(m, "beat_recorded", False)
                if unsaid and id(m) not in seen:
                    seen.add(id(m))
                    yield m

    def check_text_fits(self) -> None:
        """Text the frame's edge cuts or too small for a phone is a layout error: say which."""
        half_width, half_height = config.frame_width / 2, config.frame_height / 2
        for text in self.texts_on_screen():
            if text.get_fill_opacity() == 0:
                continue
            (left, bottom, _), (right, top, _) = text.get_corner(DL), text.get_corner(UR)
            cut = [
                name
                for name, low, high, edge in (
                    ("left", left, right, -half_width),
                    ("right", left, right, half_width),
                    ("bottom", bottom, top, -half_height),
                    ("top", bottom, top, half_height),
                )
                if low < edge < high
            ]
            if cut:
                raise ValueError(
                    f"text {text.original_text!r} is cut by the frame's {' and '.join(cut)} "
                    "edge: shorten it, wrap it or move it inside"
                )
            shape = getattr(text, "shape_ratio", None)  # a Transform may have morphed it
            scaled = shape and text.height and abs(text.width / text.height / shape - 1) < 0.02
            if scaled and text.font_size < MIN_TEXT - 0.01:
                raise ValueError(
                    f"text {text.original_text!r} is shown at font size {text.font_size:.1f}, "
                    f"below MIN_TEXT ({MIN_TEXT}), too small on a phone: scale it less or "
                    "shorten it"
                )

    def check_text_clear(self) -> None:
        """Text on other text, or on a picture marked keep_clear, is a layout error: say
        which. Two texts keep TEXT_GAP apart, glyph by glyph (a long line may pass over a
        short one's empty end), so numbers in a row can't run into one another."""
        texts = [t for t in self.texts_on_screen() if t.get_fill_opacity() > 0]
        texts = [(text, box(text), glyph_boxes(text)) for text in texts]
        pictures = [
            m
            for mobject in self.mobjects
            for m in mobject.get_family()
            if getattr(m, "keep_clear", False) and is_drawn(m)
        ]
        for i, (text, outline, boxes) in enumerate(texts):
            for other, other_outline, other_boxes in texts[i + 1 :]:
                near = boxes_meet(outline, other_outline, TEXT_GAP)
                if near and boxes_meet(boxes, other_boxes, TEXT_GAP):
                    raise ValueError(
                        f"text {text.original_text!r} runs into text {other.original_text!r}"
                        f" at {self.renderer.time:.1f} s: move one of them"
                    )
            for picture in pictures:
                if text not in picture.get_family() and boxes_meet(boxes, box(picture)):
                    raise ValueError(
                        f"text {text.original_text!r} covers a picture it must keep clear of "
                        f"({type(picture).__name__} at {np.round(picture.get_center()[:2], 2)})"
                        f" at {self.renderer.time:.1f} s: move one of them"
                    )

    def show_title(self, text: str, subtitle: str | None = None) -> VGroup:
        title = VGroup(label(text, 36))
        if subtitle:
            title.add(label(subtitle, MIN_TEXT, TEXT_2))
        title.arrange(DOWN, buff=0.12).to_edge(UP, buff=0.35)
        self.beat(f"{text}: {subtitle}" if subtitle else text)
        self.play(FadeIn(title, shift=0.2 * DOWN), run_time=0.8)
        return title

    def takeaway(self, text: str, detail: str | None = None, hold: float = 3.0) -> None:
        """Clear the stage and close on one card: the sentence to remember."""
        # a curtain in the background colour: fading every mobject would copy them all
        curtain = FullScreenRectangle(fill_color=BG, fill_opacity=1, stroke_width=0)
        self.play(FadeIn(curtain), run_time=0.6)
        self.clear()
        heading = label("Takeaway", MIN_TEXT, ACCENT_2)
        body = VGroup(heading, label(text, 32, line_spacing=1.1))
        if detail:
            body.add(label(detail, 26, TEXT_2, line_spacing=1.1))
        body.arrange(DOWN, buff=0.3)
        if body.width > config.frame_width - 2:  # a long sentence shrinks rather than spill
            body.scale_to_fit_width(config.frame_width - 2)
        card = panel(max(body.width + 1.2, 7), body.height + 1.0, stroke=ACCENT)
        body.move_to(card)
        self.beat(f"Takeaway: {text} {detail or ''}")
        self.play(FadeIn(card), FadeIn(body, shift=0.2 * UP), run_time=0.8)
        self.wait(hold)
