"""The book's Manim scenes and their shared style, checked without rendering anything.

Rendering is the book build's job (tests/test_book.py); here: every scene file parses,
defines exactly the scenes its chapter shows, loads its data only when it renders, and
the palette is the brief's, shared with the page CSS and the plots.
"""

import ast
import importlib
import re
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SCENES = REPO / "docs" / "scenes"
CHAPTERS = REPO / "docs" / "chapters"
HELPERS = {"palette.py", "bookscene.py"}  # shared by the scenes; they define no clip
SCENE_FILES = sorted(p.name for p in SCENES.glob("*.py") if p.name not in HELPERS)
# a manim-clip directive: its scene name, then (among its options) the :file: it names
CLIP = re.compile(r"^```\{manim-clip\}[ \t]+(\w+)[ \t]*\n((?::[\w-]+:.*\n)*)", re.MULTILINE)
FILE_OPTION = re.compile(r"^:file:\s*(\S+)", re.MULTILINE)

sys.path.insert(0, str(SCENES))  # as the chapters' notebooks and the renderer see them
import palette  # noqa: E402


def scene_classes(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    return {
        node.name
        for node in tree.body
        if isinstance(node, ast.ClassDef)
        and any(isinstance(base, ast.Name) and base.id == "BookScene" for base in node.bases)
    }


def clips_in_book() -> dict[str, set[str]]:
    """{scene file name: scene classes} over every manim-clip directive of the chapters."""
    used: dict[str, set[str]] = {}
    for page in sorted(CHAPTERS.glob("*.md")):
        for match in CLIP.finditer(page.read_text(encoding="utf-8")):
            file = FILE_OPTION.search(match.group(2))
            assert file, f"{page.name}: clip {match.group(1)} has no :file:"
            assert file.group(1).startswith("/scenes/"), f"{page.name}: {file.group(1)}"
            used.setdefault(Path(file.group(1)).name, set()).add(match.group(1))
    return used


def is_outline(chapter: Path) -> bool:
    """A chapter page not written yet: just its outline note."""
    return "nb-outline" in chapter.read_text(encoding="utf-8")


def test_the_book_only_shows_scene_files_that_exist():
    assert SCENE_FILES, "no scene files found"
    assert set(clips_in_book()) <= set(SCENE_FILES)


@pytest.mark.parametrize("name", SCENE_FILES)
def test_scene_file_defines_exactly_the_scenes_its_chapter_shows(name):
    defined = scene_classes(SCENES / name)
    assert defined, f"{name} defines no BookScene"
    chapter = CHAPTERS / name.replace(".py", ".md")
    if is_outline(chapter):
        pytest.skip(f"{chapter.name} is not written yet")
    assert clips_in_book().get(name, set()) == defined


def test_the_sampling_clip_shows_the_prompt_and_temperatures_of_the_chapters_chart():
    """The clip and the chart beside it show the same prompt's next character at the same
    three temperatures (the chart's comment says so). Checked here, not in the chapter:
    the reader's notebook has no scene files to read."""
    scene = ast.parse((SCENES / "sampling.py").read_text(encoding="utf-8"))
    constants = {
        node.targets[0].id: ast.literal_eval(node.value)
        for node in scene.body
        if isinstance(node, ast.Assign)
        and [getattr(t, "id", None) for t in node.targets] in (["TEMPERATURES"], ["PROMPT"])
    }
    chapter = (CHAPTERS / "sampling.md").read_text(encoding="utf-8")
    (charted,) = re.findall(r"^temperatures = (\[[^\]\n]*\])", chapter, re.MULTILINE)
    (prompt,) = re.findall(r"^prompt = (\"[^\"\n]*\")", chapter, re.MULTILINE)
    assert list(constants["TEMPERATURES"]) == ast.literal_eval(charted)
    assert constants["PROMPT"] == ast.literal_eval(prompt)


def test_scene_names_are_unique_across_files():
    names = [cls for name in SCENE_FILES for cls in scene_classes(SCENES / name)]
    assert len(names) == len(set(names)), names


@pytest.mark.parametrize("name", [*SCENE_FILES, *sorted(HELPERS)])
def test_scenes_read_the_project_only_when_they_render(name):
    """model_src is imported inside functions: listing or importing a scene file stays
    cheap, and its data is measured when (and each time) the clip renders."""
    tree = ast.parse((SCENES / name).read_text(encoding="utf-8"))
    top_level = [n for n in tree.body if isinstance(n, ast.Import | ast.ImportFrom)]
    modules = [a.name for n in top_level if isinstance(n, ast.Import) for a in n.names]
    modules += [n.module for n in top_level if isinstance(n, ast.ImportFrom) and n.module]
    assert not [m for m in modules if m.split(".")[0] == "model_src"]


def test_palette_is_the_briefs():
    assert (palette.BG, palette.PANEL) == ("#0f0f23", "#1a1a3a")
    assert (palette.ACCENT, palette.ACCENT_2, palette.POSITIVE) == ("#da7756", "#f4a261", "#4ade80")
    assert (palette.TEXT, palette.TEXT_2) == ("#ffffff", "#888888")


def test_every_tensor_role_has_its_own_colour():
    roles = {"ids", "x", "q", "k", "v", "att", "logits", "loss"}
    assert roles <= palette.ROLE.keys()
    colours = [palette.ROLE[role].lower() for role in roles]
    assert all(re.fullmatch(r"#[0-9a-f]{6}", c) for c in colours), colours
    assert len(set(colours)) == len(colours)


def test_page_css_uses_the_palette():
    css = (REPO / "docs" / "_static" / "nanobook.css").read_text(encoding="utf-8")
    variables = dict(re.findall(r"--nb-([\w-]+):\s*(#[0-9a-fA-F]{6})", css))
    expected = {
        "bg": palette.BG,
        "panel": palette.PANEL,
        "accent": palette.ACCENT,
        "accent-2": palette.ACCENT_2,
        "positive": palette.POSITIVE,
    }
    assert {k: variables.get(k, "").lower() for k in expected} == expected


def test_plot_style_is_transparent_with_mid_grey_ink_and_the_palette_cycle():
    import matplotlib as mpl
    from matplotlib.colors import to_hex

    with mpl.rc_context():
        palette.use_plot_style()
        assert mpl.rcParams["figure.facecolor"] == mpl.rcParams["axes.facecolor"] == "none"
        assert mpl.rcParams["savefig.transparent"]
        ink = mpl.rcParams["axes.labelcolor"]
        assert ink == mpl.rcParams["xtick.color"] == mpl.rcParams["text.color"]
        # a grey: 4.5:1 on the white page; the dark page shows plots brighter (nanobook.css)
        assert 0.35 < sum(mpl.colors.to_rgb(ink)) / 3 < 0.65
        cycle = [to_hex(c) for c in mpl.rcParams["axes.prop_cycle"].by_key()["color"]]
        assert cycle == [c.lower() for c in palette.PLOT_CYCLE]


def test_arrow_weights_follow_the_brief():
    """Thick for the main data flow, thin for side paths, dashed for optional parts."""
    import bookscene
    from manim import DashedLine

    start, end = [-1, 0, 0], [1, 0, 0]
    main, side = bookscene.main_arrow(start, end), bookscene.side_arrow(start, end)
    optional = bookscene.optional_arrow(start, end)
    assert main.stroke_width > 2 * side.stroke_width
    assert isinstance(optional, DashedLine) and optional.has_tip()
    assert optional.stroke_width <= side.stroke_width


def test_min_text_is_worked_out_from_what_a_phone_reader_can_read():
    """MIN_TEXT is not typed in: at MIN_TEXT a capital is at least MIN_CAPITAL_CSS_PX
    tall in the phone's player (one point less would not be), and the capital height per
    point the rule uses is what DejaVu Sans measures."""
    import bookscene
    from manim import config

    capital = bookscene.label("H", 100).height / 100
    assert capital == pytest.approx(bookscene.CAPITAL_PER_POINT, rel=0.01)

    def on_the_phone(size):  # a capital's height in CSS px in the phone's player
        return size * capital / config.frame_width * bookscene.PHONE_PLAYER_CSS_PX

    smallest = bookscene.MIN_TEXT
    assert on_the_phone(smallest) >= bookscene.MIN_CAPITAL_CSS_PX > on_the_phone(smallest - 1)


def _played(make_text, morph=False) -> None:
    """Play one text onto a BookScene without drawing frames (its checks still run)."""
    import bookscene
    from manim import FadeIn, Transform, tempconfig
    from manim.renderer.cairo_renderer import CairoRenderer

    class OneText(bookscene.BookScene):
        def construct(self):
            text = make_text()
            self.play(FadeIn(text))
            if morph:  # a number turned into another glyph keeps its original_text
                self.play(Transform(text, bookscene.label("−∞", bookscene.MIN_TEXT)))

    settings = {"dry_run": True, "disable_caching": True, "verbosity": "ERROR"}
    with tempconfig(settings):
        OneText(renderer=CairoRenderer(skip_animations=True)).render()


def test_text_shown_smaller_than_min_text_or_cut_by_the_frame_fails_the_clip():
    import bookscene
    from manim import DOWN

    smallest = bookscene.MIN_TEXT
    with pytest.raises(ValueError, match=rf"font size {smallest * 0.8:.1f}, below MIN_TEXT"):
        _played(lambda: bookscene.label("a caption scaled down", smallest).scale(0.8))
    with pytest.raises(ValueError, match="below MIN_TEXT"):
        _played(lambda: bookscene.label("typed too small", smallest - 1))
    with pytest.raises(ValueError, match="cut by the frame's bottom edge"):
        _played(lambda: bookscene.label("half out", smallest).to_edge(DOWN, buff=0).shift(DOWN / 8))
    _played(lambda: bookscene.label("0.13", smallest), morph=True)  # no complaint
    _played(lambda: bookscene.label("at the bottom edge", smallest).to_edge(DOWN, buff=0.05))


def test_text_on_text_or_on_a_kept_clear_picture_fails_the_clip():
    """Two texts that touch, or a text over a picture marked keep_clear (the embeddings
    clip's heat strips), are layout errors; texts side by side with a space between them,
    a text beside a picture, and a text a group holds a second time are not."""
    import bookscene
    from manim import DOWN, RIGHT, Rectangle, VGroup

    smallest = bookscene.MIN_TEXT

    def two(shift, picture=False):
        def make():
            first = bookscene.label("−0.05", smallest, mono=True)
            second = (
                bookscene.keep_clear(Rectangle(width=2, height=0.3, fill_opacity=1))
                if picture
                else bookscene.label("−0.12", smallest, mono=True)
            )
            second.next_to(first, RIGHT, buff=0).shift(shift)
            return VGroup(first, second)

        return make

    with pytest.raises(ValueError, match=re.escape("'−0.05' runs into text '−0.12'")):
        _played(two(RIGHT * 0.02))  # the minus sign reads as the first number's
    with pytest.raises(ValueError, match="covers a picture it must keep clear of"):
        _played(two(RIGHT * -0.3, picture=True))
    _played(two(RIGHT * 0.2))  # a space between them
    _played(two(RIGHT * 0.02, picture=True))  # beside the picture, not on it
    _played(two(DOWN * 0.4))  # one line under the other

    def held_twice():
        text = bookscene.label("<", smallest, mono=True)
        return VGroup(text, VGroup(text))  # the same text, not two

    _played(held_twice)


def test_the_transcript_has_what_a_scene_says_whatever_its_length_and_no_labels():
    """A clip's beats (its captions and transcript) are its title, the lines it marks as
    narration, each once, when it first shows, and its takeaway. Words are not the test:
    a formula of one word is a step (the embeddings clip's x[t] = wte[idx[t]] + wpe[t]),
    a label of many a name on the picture; a said() picture brings its own words."""
    import bookscene
    from manim import DOWN, LEFT, FadeIn, FadeOut, Square, VGroup, tempconfig
    from manim.renderer.cairo_renderer import CairoRenderer

    class Told(bookscene.BookScene):
        def construct(self):
            self.show_title("A title", "its subtitle")
            rule = bookscene.caption("x[t] = wte[idx[t]] + wpe[t]")
            name = bookscene.label("a long label naming a part of the picture")
            self.play(FadeIn(VGroup(rule, name.next_to(rule, DOWN))))
            square = bookscene.said(Square(0.5).to_edge(LEFT), "a square: the whole picture")
            self.play(FadeIn(square))
            self.play(FadeOut(rule))
            self.play(FadeIn(rule))  # shown again: said once
            self.takeaway("What to remember.")

    settings = {"dry_run": True, "disable_caching": True, "verbosity": "ERROR"}
    with tempconfig(settings):
        scene = Told(renderer=CairoRenderer(skip_animations=True))
        scene.render()
    assert scene.beats == [
        (0.0, "A title: its subtitle"),
        (0.8, "x[t] = wte[idx[t]] + wpe[t]"),
        (1.8, "a square: the whole picture"),
        (pytest.approx(5.4), "Takeaway: What to remember."),  # after the curtain
    ]


def test_a_line_marked_said_that_never_shows_itself_fails_the_clip_naming_it():
    """A said() group whose parts come on one by one never shows as itself, so its words
    would be missing from the transcript without a word: the render fails and says which
    line, and how to mark it so it is said."""
    import bookscene
    from manim import FadeIn, LaggedStart, VGroup, tempconfig
    from manim.renderer.cairo_renderer import CairoRenderer

    class Lost(bookscene.BookScene):
        def construct(self):
            row = VGroup(*(bookscene.label(letter) for letter in "ABC")).arrange()
            bookscene.said(row, "the row A B C")
            self.play(LaggedStart(*(FadeIn(part) for part in row)))

    settings = {"dry_run": True, "disable_caching": True, "verbosity": "ERROR"}
    with tempconfig(settings), pytest.raises(ValueError, match="'the row A B C' is marked"):
        Lost(renderer=CairoRenderer(skip_animations=True)).render()


def test_the_nGPT_shell_caption_says_what_unit_does_on_either_side_of_its_edges():
    """The sphere clip's what-if is worded from the lengths, not fixed to one seed's: a
    length inside the shell stays, one outside becomes the nearer edge."""
    ngpt_scene = importlib.import_module("ngpt")  # the scene's file, on the path above
    edge = ngpt_scene.SHELL
    assert ngpt_scene.fate(1 - edge / 2) == "would stay as it is"
    assert ngpt_scene.fate(1 - 2 * edge) == f"would become {1 - edge:.1f}"
    assert ngpt_scene.fate(1 + 7 * edge) == f"would become {1 + edge:.1f}"
