"""The manim-clip directive: rendering, the cache, errors, builders, parallel builds, the CLI.

Scenes are tiny (about 0.3 s at draft quality) so real renders stay cheap. The first
builds of the main, the errors and the film test roots run once per module; tests that
need a warm cache start from a copy of a cache, tests that count renders get a project
of their own.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from io import StringIO
from pathlib import Path
from urllib.parse import quote

import av
import numpy as np
import procfs
import pytest
from PIL import Image
from sphinx.errors import ConfigError
from sphinx.testing.util import SphinxTestApp
from sphinx.util.console import strip_colors

from ext.manim_clip import media, render, vtt
from ext.manim_clip.directive import ClipSpec
from ext.manim_clip.film import film_mp4, made_film

REPO = Path(__file__).resolve().parent.parent
ROOTS = Path(__file__).parent / "roots"


@pytest.fixture(autouse=True)
def _draft_quality(monkeypatch):
    monkeypatch.setenv("NANOBOOK_CLIP_QUALITY", "draft")


def copy_root(name: str, dest: Path, cache_from: Path | None = None) -> Path:
    srcdir = dest / name
    shutil.copytree(ROOTS / f"test-{name}", srcdir)
    if cache_from:
        shutil.copytree(cache_from, cache_dir(srcdir))
    return srcdir


def small_project(parent: Path, name: str, index: str, conf: str = "") -> Path:
    """A one-page project of its own (draft clips) with ``index`` as its index.rst."""
    srcdir = parent / name
    srcdir.mkdir(parents=True, exist_ok=True)
    (srcdir / "conf.py").write_text(
        f"import sys\nsys.path.insert(0, {str(REPO)!r})\n"
        'extensions = ["ext.manim_clip"]\nmanim_clip_quality = "draft"\n' + conf
    )
    (srcdir / "index.rst").write_text(index)
    return srcdir


def cache_dir(srcdir: Path) -> Path:
    return srcdir / "_build" / "nanobook-cache" / "clips"


def build(srcdir: Path, buildername: str = "html", **kwargs) -> SphinxTestApp:
    app = SphinxTestApp(buildername, srcdir=srcdir, status=StringIO(), warning=StringIO(), **kwargs)
    try:
        app.build()
    finally:
        app.cleanup()
    return app


SUMMARY = re.compile(r"manim-clip: \d+ rendered, \d+ reused, \d+ failed")


def summary(app: SphinxTestApp) -> str:
    return SUMMARY.findall(app.status.getvalue())[-1]


def line_of(path: Path, text: str) -> int:
    return next(n for n, line in enumerate(path.read_text().splitlines(), 1) if text in line)


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> tuple[Path, SphinxTestApp]:
    """The main test root, built once with an empty cache."""
    srcdir = copy_root("manim-clip", tmp_path_factory.mktemp("built"))
    return srcdir, build(srcdir)


@pytest.fixture
def warm(built, tmp_path) -> Path:
    """A fresh copy of the main test root whose cache already holds its clips."""
    return copy_root("manim-clip", tmp_path, cache_from=cache_dir(built[0]))


# --- rendering and HTML ---------------------------------------------------------------


def test_first_build_renders_each_distinct_clip_once(built):
    _, app = built
    assert app.warning.getvalue() == ""
    # Dot appears twice (rst and MyST) with the same key: one render, one reuse.
    assert summary(app) == "manim-clip: 2 rendered, 1 reused, 0 failed"
    statuses = {r.spec.uid: r.status for r in render.clip_results(app.env).values()}
    assert statuses == {"index#0": "rendered", "index#1": "rendered", "myst#0": "reused"}
    table = app.status.getvalue().split("manim-clip: 2 rendered")[1]
    assert re.search(r"index:8\s+Dot\s+rendered\s+\d+\.\d", table)
    assert re.search(r"myst:3\s+Dot\s+reused\s+0\.0", table)


def _video_tags(html: str) -> list[str]:
    return re.findall(r"<video[^>]*>", html)


def test_html_video_figure(built):
    _, app = built
    html = (app.outdir / "index.html").read_text()
    dot, box = _video_tags(html)
    for video in (dot, box):
        for attribute in (
            'width="854"',
            'height="480"',
            "controls",
            "playsinline",
            'preload="none"',  # nothing loads with the page: manim_clip.js loads on intent
            'poster="_clips/',
        ):
            assert attribute in video
        # Autoplay is the script's job: never the attribute itself.
        assert "autoplay" not in video.replace("data-manim-autoplay", "")
    assert 'aria-label="An orange dot grows from nothing in the middle of the frame."' in dot
    assert "data-manim-autoplay" not in dot and "muted" not in dot
    assert "data-manim-autoplay" in box and "muted" in box and "loop" in box
    # The figure: anchors from :name: and from the caption, numbers, a permalink.
    assert '<figure class="manim-clip" id="dot-clip">' in html
    assert 'id="clip-An-inline-square"' in html
    assert re.search(
        r'<figcaption><span class="caption-number">Fig. \d+ </span>'
        r'<span class="caption-text">A dot <em>grows</em></span>'
        r'<a class="headerlink" href="#dot-clip"',
        html,
    )
    assert re.search(r'<span class="std std-numref">Fig. \d+</span>', html)
    assert '<span class="std std-ref">A dot grows</span>' in html
    # Text fallback inside <video>, sources, downloads.
    assert "<p>An orange dot grows from nothing in the middle of the frame. <a href=" in html
    stem = render.clip_results(app.env)["index#0"].meta["files"]["mp4"][:-4]
    assert f'<source src="_clips/{stem}.webm" type="video/webm">' in html
    assert f'<source src="_clips/{stem}.mp4" type="video/mp4">' in html
    assert f'<a href="_clips/{stem}.gif" download>GIF</a>' in html
    for suffix in ("mp4", "webp", "webm", "gif", "vtt"):
        assert (app.outdir / "_clips" / f"{stem}.{suffix}").is_file()
    assert not (app.outdir / "_clips" / f"{stem}.png").exists(), "the web gets WebP posters"
    # The MyST page, one folder level the same, shows the same files.
    assert f'src="_clips/{stem}.mp4"' in (app.outdir / "myst.html").read_text()


def test_clip_files(built):
    _, app = built
    dot = render.clip_results(app.env)["index#0"]
    assert re.fullmatch(r"Dot-[0-9a-f]{16}\.mp4", dot.meta["files"]["mp4"])
    mp4 = (app.outdir / "_clips" / dot.meta["files"]["mp4"]).read_bytes()
    assert 0 < mp4.find(b"moov") < mp4.find(b"mdat"), "the index must come first (faststart)"
    with av.open(str(dot.path("mp4"))) as container:
        stream = container.streams.video[0]
        assert (stream.codec_context.name, stream.pix_fmt) == ("h264", "yuv420p")
        assert (stream.width, stream.height) == (854, 480)
        # the scene's two animations are one stream: one key frame (a whole picture)
        # at the start, not one per animation as Manim's joined files would have
        keys = [packet.is_keyframe for packet in container.demux(stream) if packet.dts is not None]
    assert keys[0] and not any(keys[1:])
    with av.open(str(dot.path("webm"))) as container:
        assert container.streams.video[0].codec_context.name in ("vp9", "libvpx-vp9")
    with Image.open(dot.path("gif")) as gif:
        assert gif.size == (480, 270) and gif.n_frames >= 2
    # Posters: the frame the scene marks (the grown orange dot; the clip ends empty),
    # as WebP, and as PNG for LaTeX and EPUB; :poster: first is blank.
    for kind, image_format in (("poster", "WEBP"), ("poster_png", "PNG")):
        with Image.open(dot.path(kind)) as poster:
            assert (poster.format, poster.size) == (image_format, (854, 480))
            r, g, _ = poster.convert("RGB").getpixel((427, 240))
            assert r > 180 and g < 160, "the dot's colour comes from the imported helper"
    *_, (_, last) = media.frames_of(dot.path("mp4"))
    assert max(last.to_image().getpixel((427, 240))) < 60, "the clip itself ends empty"
    box = render.clip_results(app.env)["index#1"]
    with Image.open(box.path("poster")) as poster:
        assert poster.convert("L").getextrema()[1] < 10, "the first frame is still empty"


def test_the_scene_beats_are_captions_and_a_transcript(built):
    _, app = built
    dot = render.clip_results(app.env)["index#0"]
    # two beats 0.3 s apart: one caption of two lines, none that flashes by
    assert dot.meta["beats"] == [[0.0, "A dot grows <from> nothing\nthen it fades away"]]
    captions = (app.outdir / "_clips" / dot.meta["files"]["captions"]).read_text()
    assert captions == (
        f"WEBVTT\n\n1\n00:00:00.000 --> {vtt.timestamp(dot.meta['duration'])}\n"
        "A dot grows &lt;from&gt; nothing\nthen it fades away\n"
    )
    html = (app.outdir / "index.html").read_text()
    figure = html.split('id="dot-clip">', 1)[1].split("</figure>")[0]
    track = f'<track kind="captions" src="data:text/vtt;charset=utf-8,{quote(captions)}"'
    assert track in figure and 'srclang="en" label="Captions" default>' in figure
    video = re.escape(dot.meta["files"]["mp4"])
    assert re.search(  # the time is a link that plays the clip from there
        '<details class="manim-clip-transcript"><summary>Transcript</summary><ol>'
        f'<li><span class="manim-clip-time"><a href="_clips/{video}#t=0" data-seek="0" '
        'aria-label="Play from 0:00">0:00</a></span> A dot grows &lt;from&gt; nothing<br>'
        "then it fades away</li>",
        figure,
    )
    # A scene that says nothing has no captions: no track, no transcript, no empty file.
    box = render.clip_results(app.env)["index#1"]
    assert "captions" not in box.meta["files"] and box.meta["beats"] == []
    box_figure = html.split('id="clip-An-inline-square">', 1)[1].split("</figure>")[0]
    assert "<track" not in box_figure and "Transcript" not in box_figure


def test_stable_aliases_by_name_and_an_embed_box(built):
    _, app = built
    dot = render.clip_results(app.env)["index#0"]
    clips = app.outdir / "_clips"
    for kind, suffix in (
        ("mp4", "mp4"),
        ("webm", "webm"),
        ("gif", "gif"),
        ("poster", "webp"),
        ("captions", "vtt"),
    ):
        alias = clips / f"dot-clip.{suffix}"
        assert alias.read_bytes() == (clips / dot.meta["files"][kind]).read_bytes(), alias
    assert sorted(path.suffix for path in clips.glob("dot-clip.*")) == [
        ".gif",
        ".mp4",
        ".vtt",
        ".webm",
        ".webp",
    ]
    html = (app.outdir / "index.html").read_text()
    figure = html.split('id="dot-clip">', 1)[1].split("</figure>")[0]
    embed = figure.split('<details class="manim-clip-embed"><summary>Embed</summary>', 1)[1]
    assert '<label for="dot-clip-embed">' in embed
    assert (
        '<textarea id="dot-clip-embed" readonly rows="3" spellcheck="false">'
        "[![A dot grows](_clips/dot-clip.gif)](index.html#dot-clip)</textarea>"
    ) in embed
    # The button is the script's to show: without it, the text is there to select.
    assert '<button type="button" class="manim-clip-copy" data-target="dot-clip-embed" hidden>' in (
        embed
    )
    assert "navigator.clipboard" in (app.outdir / "_static" / "manim_clip.js").read_text()
    # No :name:, no stable URL to promise: no embed box.
    assert "manim-clip-embed" not in html.split('id="clip-An-inline-square">', 1)[1]


def test_embed_links_are_absolute_with_a_base_url(warm):
    app = build(warm, confoverrides={"html_baseurl": "https://example.org/book/"})
    assert "manim-clip-embed" not in (app.outdir / "myst.html").read_text()  # no :name:
    html = (app.outdir / "index.html").read_text()
    assert (
        "[![A dot grows](https://example.org/book/_clips/dot-clip.gif)]"
        "(https://example.org/book/index.html#dot-clip)"
    ) in html


def test_a_project_may_leave_the_embed_box_out(warm):
    """For a book's readers: no Embed box under the clips, which keep their stable URLs."""
    app = build(warm, confoverrides={"manim_clip_embed": False})
    figure = (app.outdir / "index.html").read_text().split('id="dot-clip">', 1)[1]
    figure = figure.split("</figure>")[0]
    assert "manim-clip-embed" not in figure and "<textarea" not in figure
    assert 'class="manim-clip-transcript"' in figure and "manim-clip-downloads" in figure
    assert (app.outdir / "_clips" / "dot-clip.webp").is_file()


def test_a_page_shares_with_its_first_clips_poster_asked_of_the_clip(warm):
    """ext/site.py takes og:image from the clip's result, not from the page's HTML."""
    app = build(
        warm,
        confoverrides={
            "extensions": ["myst_parser", "ext.manim_clip", "ext.site"],
            "ogp_site_url": "https://example.org/book/",
        },
    )
    dot = render.clip_results(app.env)["index#0"]
    poster = dot.meta["files"]["poster"]
    html = (app.outdir / "index.html").read_text()
    assert f'poster="_clips/{poster}"' in html  # what the <video> shows first
    assert f'content="https://example.org/book/_clips/{poster}"' in html
    alt = "An orange dot grows from nothing in the middle of the frame."
    assert f'<meta property="og:image:alt" content="{alt}"' in html


def test_clips_have_no_audio_track(built):
    _, app = built
    for kind in ("mp4", "webm"):
        with av.open(str(render.clip_results(app.env)["index#0"].path(kind))) as container:
            assert [stream.type for stream in container.streams] == ["video"], kind


def test_the_duration_shows_before_play(built):
    _, app = built
    html = (app.outdir / "index.html").read_text()
    assert '<span class="manim-clip-downloads">0:01 · Download: ' in html


def test_a_frame_stream_encodes_repeats_and_reports_or_discards(tmp_path):
    black = np.zeros((64, 96, 4), np.uint8)
    white = np.full((64, 96, 4), 255, np.uint8)
    stream = media.FrameStream(tmp_path / "a" / "clip.mp4", width=96, height=64, fps=10)
    stream.put(black, repeat=12)  # a wait: one frame held
    stream.put(white)
    stream.close()
    info = media.probe(stream.target)
    assert (info.frames, info.duration, info.width) == (13, 1.3, 96)
    shades = [
        max(frame.to_image().getpixel((48, 32))) for _, frame in media.frames_of(stream.target)
    ]
    assert max(shades[:12]) < 30 and shades[12] > 225

    broken = media.FrameStream(tmp_path / "broken.mp4", width=96, height=64, fps=10)
    for _ in range(20):  # more than the queue holds: the failed encoder still takes them
        broken.put(np.zeros((64, 96), np.float32))
    with pytest.raises(ValueError):
        broken.close()

    dropped = media.FrameStream(tmp_path / "dropped.mp4", width=96, height=64, fps=10)
    dropped.put(black)
    dropped.abort()  # a scene that failed mid-way: no half file is left
    assert not dropped.target.exists()


def test_webvtt_cues():
    assert vtt.cues([], 3.0) == []
    # in time order; a beat within MIN_CUE of a cue's start joins it; clamped to the clip
    assert vtt.cues(
        [(3.0, "b"), (0.0, "a"), (0.5, "a2"), (9.0, "late"), (1.5, "  x\n y ")], 5.0
    ) == [
        (0.0, 1.5, "a\na2"),  # two lines of one caption
        (1.5, 3.0, "x y"),
        (3.0, 5.0, "b"),
    ]
    assert vtt.timestamp(3723.4567) == "01:02:03.457"
    assert vtt.clock(75.9) == "1:15"
    assert (
        vtt.webvtt([(0.0, 1.5, "q & k")])
        == "WEBVTT\n\n1\n00:00:00.000 --> 00:00:01.500\nq &amp; k\n"
    )


def test_script_plays_only_when_visible_and_motion_is_welcome(built):
    _, app = built
    script = (app.outdir / "_static" / "manim_clip.js").read_text()
    assert 'matchMedia("(prefers-reduced-motion: reduce)")' in script
    assert "IntersectionObserver" in script and "data-manim-autoplay" in script
    assert "reducedMotion.matches" in script
    html = (app.outdir / "index.html").read_text()
    assert 'src="_static/manim_clip.js' in html and "manim_clip.css" in html


# --- the cache ------------------------------------------------------------------------


def test_rebuild_reuses_everything_and_rerenders_exactly_what_changed(warm):
    assert summary(build(warm)) == "manim-clip: 0 rendered, 3 reused, 0 failed"

    # A data file of Dot: the pages that use it are read again and Dot alone re-renders.
    (warm / "scenes" / "size.txt").write_text("0.25\n")
    app = build(warm)
    assert "0 added, 2 changed, 0 removed" in app.status.getvalue()
    assert summary(app) == "manim-clip: 1 rendered, 2 reused, 0 failed"
    assert render.clip_results(app.env)["index#0"].status == "rendered"
    assert render.clip_results(app.env)["index#1"].status == "reused"

    # A project module the scene imports.
    helpers = warm / "scenes" / "helpers.py"
    helpers.write_text(helpers.read_text().replace("#da7756", "#f4a261"))
    app = build(warm)
    assert summary(app) == "manim-clip: 1 rendered, 2 reused, 0 failed"

    # The inline scene's code: only Box; Dot on both pages stays.
    index = warm / "index.rst"
    index.write_text(index.read_text().replace("run_time=0.3", "run_time=0.2"))
    app = build(warm)
    assert summary(app) == "manim-clip: 1 rendered, 2 reused, 0 failed"
    assert render.clip_results(app.env)["index#1"].status == "rendered"
    new_stem = render.clip_results(app.env)["index#1"].meta["files"]["mp4"]
    assert new_stem in (app.outdir / "index.html").read_text()

    # A caption is not part of the key.
    index.write_text(index.read_text().replace("An inline square", "A square, inline"))
    assert summary(build(warm)) == "manim-clip: 0 rendered, 3 reused, 0 failed"


def test_interrupted_render_leaves_the_cache_valid(warm):
    cache = cache_dir(warm)
    box_key = next(p.name for p in cache.iterdir() if any(p.glob("Box-*.mp4")))
    # A build killed mid-render: its temp folder (its PID is gone), an old one (its
    # PID reused since), a fresh one (another build's, running), and an entry whose
    # files are half there (no meta.json: never complete).
    dead = _a_dead_pid()
    stale = cache / f".tmp-{box_key}-{dead}-killed"
    stale.mkdir()
    (stale / "half.mp4").write_bytes(b"\0" * 100)
    old_one = cache / f".tmp-{box_key}-work-{os.getpid()}-old"
    old_one.mkdir()
    old = time.time() - render.STALE_TEMP_SECONDS - 60
    os.utime(old_one, (old, old))
    fresh = cache / f".tmp-{box_key}-{os.getpid()}-running"
    fresh.mkdir()
    (cache / box_key / "meta.json").unlink()
    mp4 = next((cache / box_key).glob("*.mp4"))
    mp4.write_bytes(mp4.read_bytes()[:200])

    app = build(warm)
    assert summary(app) == "manim-clip: 1 rendered, 2 reused, 0 failed"
    assert render.clip_results(app.env)["index#1"].status == "rendered"
    assert json.loads((cache / box_key / "meta.json").read_text())["scene"] == "Box"
    assert media.probe(mp4).frames >= 4
    assert not stale.exists() and not old_one.exists() and fresh.exists()


def _a_dead_pid() -> int:
    """The PID of a process that has ended (and been reaped)."""
    process = subprocess.Popen(["true"])
    process.wait()
    return process.pid


@pytest.mark.parametrize("damage", ["video cut to a third", "a poster byte flipped"])
def test_a_damaged_clip_is_rendered_again_never_published(warm, damage):
    """Issue 31, item 3: the entry's files are checked by content, not only by name."""
    cache = cache_dir(warm)
    box = next(p for p in cache.iterdir() if any(p.glob("Box-*.mp4")))
    if damage == "video cut to a third":
        target = next(box.glob("*.mp4"))
        target.write_bytes(target.read_bytes()[: target.stat().st_size // 3])
    else:
        target = next(box.glob("*.webp"))
        data = bytearray(target.read_bytes())
        data[len(data) // 2] ^= 0xFF
        target.write_bytes(bytes(data))
    app = build(warm)
    assert summary(app) == "manim-clip: 1 rendered, 2 reused, 0 failed"
    assert render.clip_results(app.env)["index#1"].status == "rendered"
    status = app.status.getvalue()
    assert status.count(f"clips/{box.name}: the cache entry was damaged") == 1, status
    assert f"{target.name} is not the file that was stored" in status
    published = app.outdir / "_clips" / target.name
    assert published.read_bytes() == target.read_bytes()  # the whole file again


def test_quality_env_var_overrides_conf_and_option(warm, monkeypatch):
    monkeypatch.setenv("NANOBOOK_CLIP_QUALITY", "draft")
    app = build(warm, confoverrides={"manim_clip_quality": "high"})
    assert summary(app) == "manim-clip: 0 rendered, 3 reused, 0 failed"
    monkeypatch.setenv("NANOBOOK_CLIP_QUALITY", "ultra")
    with pytest.raises(ConfigError, match="NANOBOOK_CLIP_QUALITY='ultra'"):
        SphinxTestApp("html", srcdir=warm, status=StringIO(), warning=StringIO())


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"manim_clip_formats": ["mov"]}, r"manim_clip_formats = \['mov'\]: choose from webm, gif"),
        ({"manim_clip_jobs": -1}, r"manim_clip_jobs = -1: renders at once, at least 1"),
        ({"manim_clip_timeout": 0}, r"manim_clip_timeout = 0.0: seconds, above 0"),
    ],
)
def test_bad_config_is_a_config_error_at_start_up(warm, overrides, message):
    with pytest.raises(ConfigError, match=message):
        SphinxTestApp(
            "html", srcdir=warm, confoverrides=overrides, status=StringIO(), warning=StringIO()
        )


def _spec(**changes) -> ClipSpec:
    spec = ClipSpec(
        uid="p#0",
        docname="p",
        lineno=1,
        scene="S",
        page="/p.md",
        code="class S: pass\n",
        caption="A caption",
    )
    for name, value in changes.items():
        setattr(spec, name, value)
    return spec


def test_cache_key_covers_what_changes_the_video(tmp_path, monkeypatch):
    monkeypatch.delenv("NANOBOOK_CLIP_QUALITY")
    data = tmp_path / "data.txt"
    data.write_text("1")
    settings = render.Settings(tmp_path, tmp_path, "publish", (), 1, 10.0)
    base = render.clip_key(_spec(data=[str(data)]), settings)
    assert render.clip_key(_spec(data=[str(data)], caption="Another"), settings) == base
    different = [
        render.clip_key(_spec(data=[str(data)], code="class S: x = 1\n"), settings),
        render.clip_key(_spec(data=[str(data)], quality="draft"), settings),
        render.clip_key(_spec(data=[str(data)], poster="first"), settings),
        render.clip_key(
            _spec(data=[str(data)]),
            settings.__class__(tmp_path, tmp_path, "publish", ("gif",), 1, 10.0),
        ),
    ]
    data.write_text("2")
    different.append(render.clip_key(_spec(data=[str(data)]), settings))
    assert len({base, *different}) == 6


# --- errors ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def built_errors(tmp_path_factory) -> tuple[Path, SphinxTestApp]:
    """The errors test root, built once with warnings as errors (-W): since Sphinx 8.1 that
    changes only the build's status code, so one build shows both what every error looks
    like and that the errors fail the build (its Sleeps scene waits out the time limit)."""
    srcdir = copy_root("manim-clip-errors", tmp_path_factory.mktemp("errors"))
    return srcdir, build(srcdir, warningiserror=True)


def test_every_error_is_a_located_warning_and_a_placeholder(built_errors):
    srcdir, app = built_errors
    warnings = app.warning.getvalue()
    index, myst = srcdir / "index.rst", srcdir / "myst.md"

    def warning(path: Path, line: int, *fragments: str) -> None:
        where = f"{path}:{line}: WARNING: manim-clip "
        assert where in warnings, f"no warning at {path.name}:{line}"
        block = warnings.split(where, 1)[1].split("[nanobook.manim-clip]")[0]
        for fragment in fragments:
            assert fragment in block, f"{fragment!r} not in the warning:\n{block}"

    def at(path: Path, text: str, lines_below_directive: int = 0) -> int:
        return line_of(path, text) - lines_below_directive

    warning(
        index,
        at(index, ":: Missing"),
        "no Scene class 'Missing'",
        "it defines: AlsoFine, Fine",
        "hint: use one of the classes",
    )
    warning(
        index,
        at(index, ":: Broken"),
        "SyntaxError: expected ':'",
        f'{index}", line {line_of(index, "def construct(self)")}',
        "def construct(self)",
        "hint: fix the syntax error",
    )
    warning(
        index,
        at(index, ":: Raises"),
        "ZeroDivisionError: division by zero",
        f'{index}", line {line_of(index, "total = 1 / 0")}, in construct',
        "hint: fix the scene",
    )
    warning(index, at(index, ":: Sleeps"), "did not finish within 10 s", "raise manim_clip_timeout")
    warning(index, at(index, ":: Dies"), "died (exit code 3)")
    warning(index, at(index, "scenes/nothere.py", 1), "no such file", "hint: paths are relative")
    warning(
        index,
        at(index, ":quality: ultra", 2),
        ":quality: 'ultra' is not one of draft, publish, high",
        "hint: draft is fast",
    )
    warning(
        index,
        at(index, ":poster: sometimes", 2),
        ":poster: 'sometimes' is not scene, last, first or seconds",
        "hint: e.g. :poster: first",
    )
    warning(
        index, at(index, ":file: ../outside.py", 1), "outside the project root", "hint: keep scene"
    )
    warning(
        myst,
        at(myst, "{manim-clip} AlsoRaises"),
        "RuntimeError: no data for this scene",
        f'{myst}", line {line_of(myst, "raise RuntimeError")}, in construct',
    )

    # A poster time past the end is a warning, and the clip still renders.
    warning(index, at(index, ":poster: 99", 2), "poster time 99 s is past the clip's end")

    assert summary(app) == "manim-clip: 2 rendered, 0 reused, 10 failed"
    html = (app.outdir / "index.html").read_text()
    assert html.count('class="manim-clip-placeholder"') == 9
    assert "This clip failed to render." in html and "Raises in construct" in html
    assert len(_video_tags(html)) == 2, "the good clips are unaffected"
    # Only the good clips are cached; no temp folder is left behind (a key's lock is).
    good = {render.clip_results(app.env)[uid].key for uid in ("index#9", "index#10")}
    cached = {p.name for p in cache_dir(srcdir).iterdir() if not p.name.startswith(".")}
    assert cached == good
    assert not list(cache_dir(srcdir).glob(".tmp-*"))


def test_warnings_fail_the_build_with_W(built_errors):
    _, app = built_errors
    assert "no such file" in app.warning.getvalue()
    assert app.statuscode == 1


# --- other builders -------------------------------------------------------------------


def test_text_shows_the_caption_and_the_transcript(warm):
    app = build(warm, "text")
    assert summary(app) == "manim-clip: 0 rendered, 3 reused, 0 failed"
    index = " ".join((app.outdir / "index.txt").read_text().split())  # unwrapped
    assert "[animation: A dot *grows*]" in index
    assert "Transcript: (0:00) A dot grows <from> nothing then it fades away" in index
    assert "[animation: An inline square]" in index  # no beats, no transcript
    assert "[animation: The same dot, from MyST]" in (app.outdir / "myst.txt").read_text()


def test_builders_without_a_place_for_clips_render_nothing(tmp_path):
    srcdir = copy_root("manim-clip", tmp_path)
    app = build(srcdir, "dummy")
    assert "manim-clip:" not in app.status.getvalue()
    assert not cache_dir(srcdir).exists()


def test_dummy_after_html_reports_no_stale_summary(warm):
    assert summary(build(warm)) == "manim-clip: 0 rendered, 3 reused, 0 failed"
    assert "manim-clip:" not in build(warm, "dummy").status.getvalue()


def test_latex_gets_the_poster_as_a_figure(warm):
    app = build(warm, "latex")
    tex = next(app.outdir.glob("*.tex")).read_text()
    poster = Path(render.clip_results(app.env)["index#0"].meta["files"]["poster_png"])
    assert f"\\sphinxincludegraphics[width=\\linewidth]{{{{{poster.stem}}}.png}}" in tex
    assert "\\caption{A dot \\sphinxstyleemphasis{grows}}" in tex
    # what the clip says, in print (a caption's two lines are two lines of the source)
    assert (
        "\\begin{quote}\\small\\textbf{Transcript:} (0:00) A dot grows "
        "\\textless{}from\\textgreater{} nothing then it fades away\\end{quote}"
    ) in " ".join(tex.split())
    assert "\\label{\\detokenize{index:dot-clip}}" in tex
    assert (app.outdir / poster.name).is_file()
    assert "<video" not in tex


def test_epub_gets_the_poster_image(warm):
    app = build(warm, "epub")
    page = (app.outdir / "index.xhtml").read_text()
    assert "<video" not in page
    poster = render.clip_results(app.env)["index#0"].meta["files"]["poster_png"]
    assert f'<img class="manim-clip-poster" src="_images/{poster}"' in page
    assert (app.outdir / "_images" / poster).is_file()
    assert f"_images/{poster}" in (app.outdir / "content.opf").read_text()
    assert '<div class="manim-clip-transcript"><p>Transcript</p><ol>' in page
    assert not (app.outdir / "_clips").exists()


def test_singlehtml_and_dirhtml_link_the_clips_from_each_page(warm):
    app = build(warm, "singlehtml")
    html = (app.outdir / "index.html").read_text()
    assert len(_video_tags(html)) == 3 and 'src="_clips/Dot-' in html
    app = build(warm, "dirhtml")
    assert 'src="../_clips/Dot-' in (app.outdir / "myst" / "index.html").read_text()
    assert next((app.outdir / "_clips").glob("Dot-*.mp4")).is_file()


# --- renders started before reading --------------------------------------------------

POOL_LINE = re.compile(r"manim-clip: (\d+) renders in [\d.]+ s \(.*; (\d+) started before")


def counting_scene(name: str, runs: Path, body: str = "self.wait(0.1)") -> str:
    """Inline scene code that adds a line to ``runs`` each time it is rendered."""
    return (
        f"from pathlib import Path\nfrom manim import *\n\nclass {name}(Scene):\n"
        f"    def construct(self):\n        with Path({str(runs)!r}).open('a') as runs:\n"
        f"            runs.write('{name}\\n')\n        {body}\n"
    )


def myst_project(parent: Path, name: str, myst: str, rst: str = "") -> Path:
    """A MyST page (myst.md) beside an index.rst with a toctree to it."""
    index = f"Index\n=====\n\n.. toctree::\n\n   myst\n\n{rst}"
    srcdir = small_project(parent, name, index, conf='extensions.insert(0, "myst_parser")\n')
    (srcdir / "myst.md").write_text(f"# MyST\n\nSome prose.\n\n{myst}")
    return srcdir


def fence(scene: str, code: str, fence: str = "```") -> str:
    return f"{fence}{{manim-clip}} {scene}\n:caption: {scene}\n\n{code}{fence}\n"


def test_a_clip_started_before_reading_is_rendered_once_and_one_it_missed_still_is(tmp_path):
    """The MyST page's clip starts before reading; the render step waits for it instead
    of rendering it again, and renders the clips the scan cannot see (in rST, and inside
    another directive)."""
    runs = tmp_path / "runs.txt"
    nested = fence("Nested", counting_scene("Nested", runs), "````")
    srcdir = myst_project(
        tmp_path,
        "early",
        fence("Early", counting_scene("Early", runs)) + f"\n`````{{note}}\n{nested}`````\n",
        rst=".. manim-clip:: Late\n\n"
        + "".join(f"   {line}\n" for line in counting_scene("Late", runs).splitlines()),
    )
    app = build(srcdir)
    assert app.warning.getvalue() == ""
    status = app.status.getvalue()
    assert "manim-clip: 1 renders started before reading" in status
    assert summary(app) == "manim-clip: 3 rendered, 0 reused, 0 failed"
    assert POOL_LINE.search(status).groups() == ("3", "1")
    assert sorted(runs.read_text().split()) == ["Early", "Late", "Nested"]
    assert len(_video_tags((app.outdir / "myst.html").read_text())) == 2


def test_a_failing_clip_started_before_reading_warns_at_its_directive(tmp_path):
    runs = tmp_path / "runs.txt"
    code = counting_scene("Fails", runs, body="raise RuntimeError('no data')")
    srcdir = myst_project(tmp_path, "fails", fence("Fails", code))
    app = build(srcdir, warningiserror=True)
    assert app.statuscode == 1
    myst = srcdir / "myst.md"
    warning = f"{myst}:{line_of(myst, '{manim-clip} Fails')}: WARNING: manim-clip Fails: "
    assert warning + "RuntimeError: no data" in app.warning.getvalue()
    assert f'{myst}", line {line_of(myst, "raise RuntimeError")}, in construct' in (
        app.warning.getvalue()
    )
    assert "manim-clip: 1 renders started before reading" in app.status.getvalue()
    assert runs.read_text() == "Fails\n", "rendered once, before reading"


@pytest.mark.parametrize("root", ["manim-clip", "manim-clip-errors"])
def test_the_scan_before_reading_makes_the_specs_reading_records(tmp_path, root):
    """Equal specs (but for the caption, which reading parses) make equal keys and the
    same traceback lines: a scan that drifts from the directive fails here."""
    from ext.manim_clip import early

    app = build(copy_root(root, tmp_path), "dummy")  # reads, renders nothing
    read = [spec for spec in app.env.manim_clip_specs["myst"] if not spec.error]
    scanned = early.page_specs(app, "myst")
    assert scanned and len(scanned) == len(read)
    for spec in [*read, *scanned]:
        spec.caption = ""
    assert scanned == read


# --- parallel builds ------------------------------------------------------------------


def test_parallel_read_and_write(tmp_path):
    srcdir = copy_root("manim-clip-parallel", tmp_path)
    app = build(srcdir, parallel=2)
    assert app.warning.getvalue() == ""
    assert summary(app) == "manim-clip: 1 rendered, 6 reused, 0 failed"
    assert sorted(render.clip_results(app.env)) == [f"page{i}#0" for i in range(1, 8)]
    for i in range(1, 8):
        html = (app.outdir / f"page{i}.html").read_text()
        videos = 2 if i == 7 else 1  # page 7 shows the film too
        assert len(_video_tags(html)) == videos and f"Pulse on page {i}" in html
    assert next((app.outdir / "_clips").glob("Pulse-*.mp4")).is_file()
    # The film's spec, read in a worker process, reached the main one.
    assert film_line(app).startswith("manim-film: joined (7 clips")


def test_two_builds_started_together_on_one_empty_cache_render_each_clip_once(tmp_path):
    """Issue 30: the clips are entries of the one store, made under the key's lock, so
    builds that share a cache wait for each other's render rather than render twice,
    and publish the same site."""
    srcdir = copy_root("manim-clip-shared", tmp_path)
    cache = tmp_path / "shared-cache"
    builds = [
        subprocess.Popen(
            [sys.executable, "-m", "sphinx", "-b", "html", "-W", "-D",
             f"nanobook_cache_dir={cache}", "-d", tmp_path / f"doctrees{i}",
             srcdir, tmp_path / f"site{i}"],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for i in (1, 2)
    ]  # fmt: skip
    outputs = [build.communicate(timeout=300)[0] for build in builds]
    assert [build.returncode for build in builds] == [0, 0], outputs
    summaries = sorted(SUMMARY.search(output).group() for output in outputs)
    assert summaries == [
        "manim-clip: 0 rendered, 1 reused, 0 failed",
        "manim-clip: 1 rendered, 0 reused, 0 failed",
    ]
    assert len([entry for entry in (cache / "clips").iterdir() if entry.is_dir()]) == 1
    assert not list((cache / "clips").glob(".tmp-*"))
    assert _published(tmp_path / "site1") == _published(tmp_path / "site2")


def _published(site: Path) -> dict[str, bytes]:
    """A site's pages and clips, by path (not Sphinx's own build records)."""
    return {
        str(path.relative_to(site)): path.read_bytes()
        for path in sorted(site.rglob("*"))
        if path.is_file() and path.suffix != ".buildinfo" and ".doctrees" not in path.parts
    }


# --- the command line -----------------------------------------------------------------


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "ext.manim_clip", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        env=os.environ,
        check=False,
        timeout=300,
    )


def test_cli_help():
    result = _cli("--help")
    assert result.returncode == 0
    assert "clips" in result.stdout and "film" in result.stdout and "--quality" in result.stdout


def test_cli_renders_into_the_build_cache_and_joins_a_film(warm, tmp_path):
    film = tmp_path / "film.mp4"
    result = _cli("film", str(warm), "--out", str(film))
    assert result.returncode == 0, result.stderr
    assert "manim-clip: 0 rendered, 3 reused, 0 failed" in result.stdout
    info = media.probe(film)
    assert (info.width, info.height) == (854, 480)
    # 15 fps, but the clips' packets keep their own times: Manim's joins between
    # animations are a fraction of a millisecond off the frame grid
    assert info.fps == pytest.approx(15, abs=0.01)
    # An opening card and one card per clip (1.5 s each), then every frame of the clips:
    # two dots of 10 frames (two animations of 0.33 s), a box of 5.
    assert info.frames == 4 * round(1.5 * 15) + 2 * 10 + 5
    data = film.read_bytes()
    assert data.find(b"moov") < data.find(b"mdat")


# --- the film -------------------------------------------------------------------------

FILM_LINE = re.compile(r"manim-film: .*")
CARD_FRAMES = round(1.5 * 15)  # a title card at draft quality


def test_cli_writes_a_frame_sheet_per_clip(warm, tmp_path):
    result = _cli("sheets", str(warm), "--out", str(tmp_path / "sheets"))
    assert result.returncode == 0, result.stderr
    sheets = sorted(path.name for path in (tmp_path / "sheets").iterdir())
    assert sheets == ["index-Box.webp", "index-Dot.webp", "myst-Dot.webp"]
    with Image.open(tmp_path / "sheets" / "index-Dot.webp") as sheet:
        assert sheet.size == (1200, 2 * (225 + 22))  # 3 x 2 tiles, 400 px wide, a time above
        middle = sheet.convert("RGB").getpixel((200 + 400, 22 + 112))  # the 2nd frame
        last = sheet.convert("RGB").getpixel((200 + 800, 247 + 22 + 112))
        assert middle[0] > 150 and max(last) < 60, "the dot grows, then fades"


def film_line(app: SphinxTestApp) -> str:
    return FILM_LINE.findall(app.status.getvalue())[-1]


def film_entries(srcdir: Path) -> set[str]:
    return {p.name for p in cache_dir(srcdir).glob("film-*")}


@pytest.fixture(scope="module")
def built_film(tmp_path_factory) -> tuple[Path, SphinxTestApp]:
    """The film test root (two pages, a clip each, the film on the index), built once."""
    srcdir = copy_root("manim-film", tmp_path_factory.mktemp("film"))
    return srcdir, build(srcdir)


@pytest.fixture
def warm_film(built_film, tmp_path) -> Path:
    return copy_root("manim-film", tmp_path, cache_from=cache_dir(built_film[0]))


def test_film_joins_every_clip_in_toctree_order(built_film):
    _, app = built_film
    assert app.warning.getvalue() == ""
    assert summary(app) == "manim-clip: 2 rendered, 0 reused, 0 failed"
    assert re.fullmatch(r"manim-film: joined \(2 clips, \d+\.\d s\)", film_line(app))
    film = made_film(app.env)
    name = film.value.meta["files"]["mp4"]
    assert name == f"{film.key}.mp4"

    html = (app.outdir / "index.html").read_text()
    (video,) = _video_tags(html)
    for attribute in (
        'width="854"',
        'height="480"',
        f'poster="_clips/{film.key}.webp"',
        'controls playsinline preload="none"',
        'aria-label="A green square, then an orange one, each after a title card."',
    ):
        assert attribute in video
    assert "data-manim-autoplay" not in video
    assert '<figure class="manim-clip manim-film" id="the-film">' in html
    assert f'<source src="_clips/{name}" type="video/mp4">' in html
    assert re.search(
        r'<span class="caption-number">Fig. 3 </span>'
        r'<span class="caption-text">Every clip of the <em>book</em></span>'
        r'<a class="headerlink" href="#the-film" title="Link to this film"',
        html,
    )
    alpha = (app.outdir / "alpha.html").read_text()
    assert '<a class="reference internal" href="index.html#the-film">' in alpha
    for published in (name, f"{film.key}.webp"):
        assert (app.outdir / "_clips" / published).is_file()

    # The opening card, then card + Green (zeta) and card + Orange (alpha): the toctree's
    # order, not the alphabet's.
    green, orange = (
        media.probe(render.clip_results(app.env)[uid].path("mp4")).frames
        for uid in ("zeta#0", "alpha#0")
    )
    frames = [frame for _, frame in media.frames_of(app.outdir / "_clips" / name)]
    assert len(frames) == 3 * CARD_FRAMES + green + orange

    def centre(index: int) -> tuple[int, int, int]:
        return frames[index].to_image().getpixel((427, 240))

    r, g, _ = centre(2 * CARD_FRAMES + green // 2)
    assert g > 180 and r < 120, "the green square first"
    r, g, _ = centre(3 * CARD_FRAMES + green + orange // 2)
    assert r > 180 and g < 150, "then the orange one"
    assert max(centre(CARD_FRAMES + CARD_FRAMES // 2)) < 60, "a title card between"
    data = (app.outdir / "_clips" / name).read_bytes()
    assert 0 < data.find(b"moov") < data.find(b"mdat"), "the index must come first (faststart)"


def test_the_film_has_a_chapter_per_clip(built_film):
    _, app = built_film
    film = made_film(app.env)
    card = CARD_FRAMES / 15  # seconds at draft's 15 fps
    green = media.probe(render.clip_results(app.env)["zeta#0"].path("mp4")).frames / 15
    assert film.value.meta["chapters"] == [
        [0.0, "Zeta comes first"],
        [round(2 * card + green, 3), "Alpha comes second"],
    ]
    chapters = (app.outdir / "_clips" / film.value.meta["files"]["chapters"]).read_text()
    assert (
        chapters.startswith("WEBVTT\n\n1\n00:00:00.000 --> ") and "Alpha comes second" in chapters
    )
    html = (app.outdir / "index.html").read_text()
    assert f'<track kind="chapters" src="data:text/vtt;charset=utf-8,{quote(chapters)}"' in html
    assert '<details class="manim-clip-transcript"><summary>Chapters</summary>' in html
    assert (app.outdir / "_clips" / "the-film.vtt").read_text() == chapters


def _packets(mp4: Path) -> list[tuple[bytes, float]]:
    """Each packet's bytes and presentation time in seconds, in the file's order."""
    with av.open(str(mp4)) as container:
        return [
            (bytes(packet), float(packet.pts * packet.time_base))
            for packet in container.demux(video=0)
            if packet.dts is not None
        ]


def test_the_film_copies_the_clips_packets_and_encodes_only_the_cards(built_film):
    _, app = built_film
    film = made_film(app.env)
    packets = _packets(film.value.path("mp4"))
    card = CARD_FRAMES / 15
    at, start = CARD_FRAMES, card  # after the opening card
    for uid in ("zeta#0", "alpha#0"):  # Green, then Orange, each after its title card
        at, start = at + CARD_FRAMES, start + card
        clip = render.clip_results(app.env)[uid]
        own = _packets(clip.path("mp4"))
        copied = packets[at : at + len(own)]
        assert [data for data, _ in copied] == [data for data, _ in own], f"{uid}: not copied"
        # its own timing, moved to where it starts in the film (meta's durations are in ms)
        moved = [time - start for _, time in copied]
        assert moved == pytest.approx([time for _, time in own], abs=1e-3)
        at, start = at + len(own), start + clip.meta["duration"]
    assert at == len(packets)
    assert film.value.meta["duration"] == pytest.approx(start, abs=2e-3)
    # The time runs on across every joint, one frame at a time.
    times = [time for time, _ in media.frames_of(film.value.path("mp4"))]
    assert len(times) == len(packets) and times[0] == 0
    assert {round(b - a, 6) for a, b in itertools.pairwise(times)} == {round(1 / 15, 6)}


def test_a_clip_encoded_otherwise_is_re_encoded_to_the_film_s(tmp_path):
    """A clip at another size and rate (another quality) is re-encoded alone."""

    def clip(name: str, size: tuple[int, int], fps: int, colour: str) -> Path:
        path = tmp_path / f"{name}.mp4"
        image = Image.new("RGB", size, colour)
        media.encode([image] * 8, path, width=size[0], height=size[1], fps=fps, codec="libx264")
        return path

    alike = clip("alike", (160, 96), 10, "#4ade80")  # 0.8 s, encoded as the film is
    other = clip("other", (320, 192), 20, "#da7756")  # 0.4 s: 4 frames at the film's rate
    target = tmp_path / "film.mp4"
    duration, starts = film_mp4(
        [("One", "", alike), ("Two", "", other)],
        target,
        width=160,
        height=96,
        fps=10,
        opening=("Film", "2 clips"),
    )
    assert media.encoding(target) == media.encoding(alike)
    assert duration == pytest.approx(3 * 1.5 + 0.8 + 0.4)
    assert starts == pytest.approx([1.5, 1.5 + 1.5 + 0.8])
    copied = [data for data, _ in _packets(target)[30:38]]  # after two cards
    assert copied == [data for data, _ in _packets(alike)]
    frames = [frame for _, frame in media.frames_of(target)]
    assert len(frames) == 3 * 15 + 8 + 4
    r, g, _ = frames[-1].to_image().getpixel((80, 48))
    assert r > 180 and g < 150, "the other clip, scaled to the film's size"
    assert sorted(tmp_path.iterdir()) == sorted([alike, other, target]), "no segment left"


@pytest.mark.browser
def test_the_film_plays_through_in_chromium(built_film, browser, tmp_path):
    _, app = built_film
    film = made_film(app.env)
    frames = len(_packets(film.value.path("mp4")))
    page = browser.new_page()
    try:
        (tmp_path / "film.html").write_text(
            f'<video src="{film.value.path("mp4").as_uri()}" muted playsinline></video>'
        )
        page.goto((tmp_path / "film.html").as_uri())
        video = page.locator("video").element_handle()
        page.wait_for_function("v => v.readyState >= 1", arg=video)
        assert video.evaluate("v => v.duration") == pytest.approx(
            film.value.meta["duration"], abs=0.01
        )
        video.evaluate("v => { v.playbackRate = 2; return v.play(); }")
        page.wait_for_function("v => v.ended || v.error", arg=video, timeout=30_000)
        assert video.evaluate("v => [v.error, v.webkitDecodedFrameCount]") == [None, frames]
    finally:
        page.close()


def test_film_is_reused_until_a_clip_changes(warm_film, built_film):
    first = build(warm_film)
    assert film_line(first) == "manim-film: reused (2 clips)"
    film = made_film(first.env).value.meta["files"]["mp4"]
    assert film == made_film(built_film[1].env).value.meta["files"]["mp4"]

    # A no-op rebuild reads nothing and joins nothing.
    app = build(warm_film)
    assert "0 added, 0 changed, 0 removed" in app.status.getvalue()
    assert summary(app) == "manim-clip: 0 rendered, 2 reused, 0 failed"
    assert film_line(app) == "manim-film: reused (2 clips)"

    # One clip's scene: that clip renders again, the film is joined again and the page
    # that shows it is written again, though it was not read.
    scene = warm_film / "scenes" / "alpha.py"
    scene.write_text(scene.read_text().replace("#da7756", "#f4a261"))
    app = build(warm_film)
    assert "0 added, 1 changed, 0 removed" in app.status.getvalue()
    assert summary(app) == "manim-clip: 1 rendered, 1 reused, 0 failed"
    assert film_line(app).startswith("manim-film: joined (2 clips")
    new_film = made_film(app.env).value.meta["files"]["mp4"]
    assert new_film != film
    html = (app.outdir / "index.html").read_text()
    assert f'src="_clips/{new_film}"' in html and film not in html

    # A clip's caption is on its title card: joined again, nothing rendered.
    page = warm_film / "zeta.rst"
    page.write_text(page.read_text().replace("A green square", "A square, in green"))
    app = build(warm_film)
    assert summary(app) == "manim-clip: 0 rendered, 2 reused, 0 failed"
    assert film_line(app).startswith("manim-film: joined (2 clips")
    assert len(film_entries(warm_film)) == 3


def test_film_with_a_failed_clip_is_a_placeholder_and_a_located_warning(warm_film):
    before = film_entries(warm_film)
    scene = warm_film / "scenes" / "alpha.py"
    scene.write_text(scene.read_text().replace("self.wait(0.3)", "raise RuntimeError('no')"))
    app = build(warm_film)
    warnings = app.warning.getvalue()
    assert f"{warm_film / 'alpha.rst'}:4: WARNING: manim-clip Orange: RuntimeError" in warnings
    index = warm_film / "index.md"
    where = f"{index}:{line_of(index, '{manim-film}')}: WARNING: manim-film: "
    assert where in warnings
    block = warnings.split(where, 1)[1]
    assert block.startswith(
        "the film was not made: 1 of 2 clips failed to render: alpha:4 (Orange)"
    )
    assert "hint: fix the clips named above" in block
    assert "[nanobook.manim-film]" in block

    assert summary(app) == "manim-clip: 0 rendered, 1 reused, 1 failed"
    assert film_line(app) == "manim-film: failed (see the warning)"
    html = (app.outdir / "index.html").read_text()
    figure = html.split('id="the-film">', 1)[1].split("</figure>")[0]
    assert '<div class="manim-clip-placeholder" role="img"' in figure
    assert "The film could not be made." in figure and "<video" not in figure
    assert film_entries(warm_film) == before, "nothing joined"


def test_film_in_text_is_its_caption_and_chapters(warm_film):
    app = build(warm_film, "text")
    index = " ".join((app.outdir / "index.txt").read_text().split())
    assert "[film: Every clip of the *book*]" in index
    assert "Chapters: (0:00) Zeta comes first (0:" in index and ") Alpha comes second" in index
    assert film_line(app) == "manim-film: reused (2 clips)"


def test_film_in_epub_and_latex_is_its_poster(warm_film):
    app = build(warm_film, "epub")
    poster = made_film(app.env).value.meta["files"]["poster_png"]
    page = (app.outdir / "index.xhtml").read_text()
    assert f'<img class="manim-clip-poster" src="_images/{poster}"' in page
    assert "<video" not in page
    app = build(warm_film, "latex")
    tex = next(app.outdir.glob("*.tex")).read_text()
    assert f"\\sphinxincludegraphics[width=\\linewidth]{{{{{Path(poster).stem}}}.png}}" in tex
    assert "\\caption{Every clip of the \\sphinxstyleemphasis{book}}" in tex


def test_cli_film_copies_the_film_the_build_shows(warm_film, built_film, tmp_path):
    out = tmp_path / "out" / "film.mp4"
    result = _cli("film", str(warm_film), "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert "manim-film: reused (2 clips)" in result.stdout
    cached = made_film(built_film[1].env).value.path("mp4")
    assert out.read_bytes() == cached.read_bytes()


def test_a_scene_in_latin_1_renders_and_a_binary_file_is_a_located_warning(tmp_path):
    srcdir = small_project(
        tmp_path,
        "encodings",
        "Encodings\n=========\n\n.. manim-clip:: Latin\n   :file: scenes/latin.py\n\n"
        ".. manim-clip:: Image\n   :file: scenes/image.png\n",
    )
    (srcdir / "scenes").mkdir()
    (srcdir / "scenes" / "latin.py").write_bytes(
        b"# -*- coding: latin-1 -*-\nfrom manim import *\n\nNAME = 'caf\xe9'\n\n\n"
        b"class Latin(Scene):\n    def construct(self):\n        self.wait(0.1)\n"
    )
    (srcdir / "scenes" / "image.png").write_bytes(bytes(range(256)) * 4)
    app = build(srcdir)
    warnings = strip_colors(app.warning.getvalue())
    assert f"{srcdir / 'index.rst'}:7: WARNING: manim-clip Image: " in warnings
    assert "null bytes" in warnings and "hint:" in warnings
    assert "Latin" not in warnings
    assert summary(app) == "manim-clip: 1 rendered, 0 reused, 1 failed"


def test_malformed_beats_are_the_scene_s_error_with_its_location(tmp_path):
    srcdir = small_project(
        tmp_path,
        "beats",
        "Beats\n=====\n\n.. manim-clip:: Talky\n\n   from manim import *\n\n"
        "   class Talky(Scene):\n       def construct(self):\n"
        '           self.beats = ["no time"]\n           self.wait(0.1)\n',
    )
    app = build(srcdir)
    warnings = strip_colors(app.warning.getvalue())
    assert f"{srcdir / 'index.rst'}:4: WARNING: manim-clip Talky: the scene's beats must be" in (
        warnings
    )
    assert "hint: fix the scene" in warnings
    assert summary(app) == "manim-clip: 0 rendered, 0 reused, 1 failed"


@pytest.mark.parametrize("value", ["nan", "inf", "-1", "soon"])
def test_a_poster_time_must_be_a_finite_time_in_the_clip(value):
    from ext.manim_clip.directive import _poster_option

    with pytest.raises(ValueError):
        _poster_option(value)
    assert _poster_option("2.5") == "2.5" and _poster_option("first") == "first"
    assert _poster_option("") == "scene"  # the frame the scene marks, else the last


def _workers_of(parent: int) -> list[int]:
    """Running clip workers below ``parent``."""
    return [
        pid for pid in procfs.descendants(parent) if b"ext.manim_clip.worker" in procfs.cmdline(pid)
    ]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
@pytest.mark.parametrize("signum", [signal.SIGKILL, signal.SIGTERM])
def test_a_killed_build_takes_its_renders_with_it(tmp_path, signum):
    """Killed mid-render, the build takes its workers and what the scene started along;
    a SIGTERM cleans up at once, and after a SIGKILL the next build clears the
    temporary folders the dead one left."""
    srcdir = small_project(
        tmp_path,
        "slow",
        "Slow\n====\n\n.. manim-clip:: Slow\n\n   import subprocess, time\n"
        "   from manim import *\n\n   class Slow(Scene):\n       def construct(self):\n"
        f'           subprocess.Popen(["sleep", "{4200 + signum}"])\n           time.sleep(120)\n',
    )
    killed = subprocess.Popen(
        [sys.executable, "-m", "sphinx", "-q", "-b", "html", srcdir, srcdir / "_build/html"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while not (workers := _workers_of(killed.pid)):
        assert time.monotonic() < deadline and killed.poll() is None, "no worker started"
        time.sleep(0.2)
    child = f"sleep\0{4200 + signum}\0".encode()  # one of its own for each signal
    while not (children := [p for p in procfs.all_pids() if procfs.cmdline(p) == child]):
        assert time.monotonic() < deadline, "the scene's child never started"
        time.sleep(0.2)
    os.kill(killed.pid, signum)
    assert killed.wait(timeout=30) != 0
    procfs.assert_gone(workers, within=10, what="render workers outlived the build")
    procfs.assert_gone(children, within=10, what="the scene's child outlived the build")
    if signum == signal.SIGTERM:  # cleaned up as after Ctrl+C: no scratch, no half entry
        assert not list(cache_dir(srcdir).glob(".tmp-*"))
    else:  # the next build that renders clears what the dead one left
        assert list(cache_dir(srcdir).glob(".tmp-*"))
        (srcdir / "index.rst").write_text(
            "Quick\n=====\n\n.. manim-clip:: Quick\n\n   from manim import *\n\n"
            "   class Quick(Scene):\n       def construct(self):\n           self.wait(0.1)\n"
        )
        assert summary(build(srcdir)) == "manim-clip: 1 rendered, 0 reused, 0 failed"
        assert not list(cache_dir(srcdir).glob(".tmp-*"))


def test_a_scene_that_leaves_a_process_running_still_renders(tmp_path):
    """A child of the scene that outlives it (holding the worker's output open) neither
    turns a finished render into a timeout nor outlives the render."""
    srcdir = small_project(
        tmp_path,
        "lingers",
        "Lingers\n=======\n\n.. manim-clip:: Lingers\n\n   import subprocess\n"
        "   from manim import *\n\n   class Lingers(Scene):\n       def construct(self):\n"
        '           subprocess.Popen(["sleep", "321"])\n           self.wait(0.1)\n',
        conf="manim_clip_timeout = 30\n",
    )
    started = time.monotonic()
    app = build(srcdir)
    assert summary(app) == "manim-clip: 1 rendered, 0 reused, 0 failed"
    assert time.monotonic() - started < 30
    left = [pid for pid in procfs.all_pids() if procfs.cmdline(pid) == b"sleep\x00321\x00"]
    assert not left, "the scene's child outlived its render"
