"""Whole builds with one faulty page, as a maintainer runs them (`sphinx-build -W
--keep-going` in a process of its own): the build fails with a located warning, the
healthy page is written, and nothing hangs or ends the build early.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import procfs
import pytest

REPO = Path(__file__).resolve().parent.parent
ROOTS = Path(__file__).parent / "roots"

HEALTHY = "Healthy\n=======\n\nThis page is fine.\n"
# A package that ends the process when it is imported: its __init__ runs before any
# module inside it, including while a page is read if anything imports it then.
QUITTING_PACKAGE = "raise SystemExit(0)\n"


def _project(tmp_path: Path, bad_page: str, conf: str, files: dict[str, str]) -> Path:
    srcdir = tmp_path / "book"
    srcdir.mkdir()
    (srcdir / "conf.py").write_text(
        f"import sys\nsys.path[:0] = [{str(REPO)!r}, {str(srcdir)!r}]\n" + conf
    )
    (srcdir / "index.rst").write_text(
        "Book\n====\n\n.. toctree::\n\n   healthy\n   bad\n\n" + HEALTHY.split("\n", 3)[3]
    )
    (srcdir / "healthy.rst").write_text(HEALTHY)
    (srcdir / "bad.rst").write_text(bad_page)
    for name, text in files.items():
        (srcdir / name).parent.mkdir(parents=True, exist_ok=True)
        (srcdir / name).write_text(text)
    return srcdir


def _build(srcdir: Path, limit: float = 300) -> tuple[int, str, float]:
    out = srcdir / "_build" / "html"
    started = time.monotonic()
    build = subprocess.run(
        [sys.executable, "-m", "sphinx", "-b", "html", "-W", "--keep-going", "-q", srcdir, out],
        capture_output=True,
        text=True,
        timeout=limit,
        env={**os.environ, "PYTHONHASHSEED": "0"},
    )
    return build.returncode, build.stdout + build.stderr, time.monotonic() - started


def _assert_fails_at_the_page(srcdir: Path, code: int, log: str, message: str) -> None:
    assert code == 1, log[-3000:]
    assert f"{srcdir / 'bad.rst'}:" in log and message in log and "hint:" in log, log[-3000:]
    assert "This page is fine." in (srcdir / "_build/html/healthy.html").read_text()


def test_a_diagram_target_in_a_package_that_exits_fails_at_its_page(tmp_path):
    srcdir = _project(
        tmp_path,
        "Bad\n===\n\n.. arch-diagram:: quitting.model:GPT\n   :config: tiny\n",
        'extensions = ["ext.arch_diagram"]\nnanobook_presets = "fake_presets"\n',
        {
            "quitting/__init__.py": QUITTING_PACKAGE,
            "quitting/model.py": "from model_src.model import GPT\n",
            "fake_presets.py": (ROOTS / "test-arch-diagram-errors/fake_presets.py").read_text(),
        },
    )
    code, log, _ = _build(srcdir)
    _assert_fails_at_the_page(srcdir, code, log, "SystemExit: 0")


def test_presets_in_a_package_that_exits_fail_at_the_shapes_block(tmp_path):
    srcdir = _project(
        tmp_path,
        "Bad\n===\n\n.. annotated-source:: model.py\n   :object: MLP.forward\n"
        "   :shapes: sort\n\n   @ x = self.gelu(x)\n   The activation.\n",
        'extensions = ["ext.annotated_source"]\nnanobook_presets = "quitting.presets"\n'
        f"annotated_source_root = {str(ROOTS / 'test-annotated-source/model_src')!r}\n",
        {
            "quitting/__init__.py": QUITTING_PACKAGE,
            "quitting/presets.py": (ROOTS / "test-annotated-source/as_presets.py").read_text(),
        },
    )
    code, log, _ = _build(srcdir)
    _assert_fails_at_the_page(srcdir, code, log, "SystemExit: 0")


def test_a_shapes_model_that_runs_too_long_is_stopped_once_and_the_build_ends(tmp_path):
    model = tmp_path / "model_src"
    shutil.copytree(ROOTS / "test-annotated-source/model_src", model)
    source = (model / "model.py").read_text()
    activation = "        x = self.gelu(x)\n"
    assert activation in source
    (model / "model.py").write_text(
        "import time\n" + source.replace(activation, "        time.sleep(120)\n" + activation)
    )
    srcdir = _project(
        tmp_path,
        "Bad\n===\n\n.. annotated-source:: model.py\n   :object: MLP.forward\n"
        "   :shapes: sort\n\n   @ x = self.gelu(x)\n   The activation.\n",
        'extensions = ["ext.annotated_source"]\nnanobook_presets = "as_presets"\n'
        # the model never returns, so any limit is reached, however loaded the machine
        f"annotated_source_root = {str(model)!r}\nnanobook_model_timeout = 3\n",
        {"as_presets.py": (ROOTS / "test-annotated-source/as_presets.py").read_text()},
    )
    code, log, seconds = _build(srcdir, limit=240)
    _assert_fails_at_the_page(srcdir, code, log, "ran longer than 3 s")
    assert seconds < 120, f"the capture ran again outside its limit: {seconds:.0f} s"


# Model code that does what no error handler sees: each is a diagram of its own on one page.
_MODEL_CODE = "import os, signal, time\n\nimport torch\n\nfrom model_src.model import GPT as Base\n"
RUNAWAY_MODELS = {
    "exits": "    def forward(self, idx, targets=None):\n        os._exit(0)\n",
    "crashes": "    def forward(self, idx, targets=None):\n"
    "        os.kill(os.getpid(), signal.SIGSEGV)\n",
    "hungry": "    def __init__(self, config):\n        super().__init__(config)\n"
    "        self.hoard = torch.ones(6 * 10**9 // 4)  # 6 GB\n",
    "forks": "    def forward(self, idx, targets=None):\n        copy = os.fork()\n"
    "        if copy == 0:\n            open(FORK_PID + '.ran', 'w').write('ran')\n"
    "            time.sleep(600)\n        open(FORK_PID, 'w').write(str(copy))\n"
    "        return super().forward(idx, targets)\n",
    "hangs": "    def forward(self, idx, targets=None):\n        while True:\n            try:\n"
    "                time.sleep(1)\n            except BaseException:\n                pass\n",
}


def test_model_code_that_exits_crashes_hoards_forks_or_hangs_fails_at_its_diagram(tmp_path):
    page = "Bad\n===\n\n" + "".join(
        f".. arch-diagram:: runaway_{name}:GPT\n   :config: sort\n\n" for name in RUNAWAY_MODELS
    )
    fork_pid = tmp_path / "fork.pid"
    files = {
        f"runaway_{name}.py": f"{_MODEL_CODE}FORK_PID = {str(fork_pid)!r}\n\n\n"
        f"class GPT(Base):\n{body}"
        for name, body in RUNAWAY_MODELS.items()
    }
    # a limit that importing torch stays well within, on a machine the other tests load
    conf = 'extensions = ["ext.arch_diagram"]\nnanobook_model_timeout = 20\n'
    conf += "nanobook_model_memory = 2\n"
    srcdir = _project(tmp_path, page, conf, files)
    code, log, _ = _build(srcdir)
    _assert_fails_at_the_page(srcdir, code, log, "exited with code 0 (sys.exit or os._exit)")
    for expected in (
        "killed by signal SIGSEGV",
        "can't allocate memory",
        "nanobook_model_memory",
        "the code called fork()",
        "ran longer than 20 s",
    ):
        assert expected in log, (expected, log[-3000:])
    assert log.count(f"{srcdir / 'bad.rst'}:") == len(RUNAWAY_MODELS), log[-3000:]
    html = (srcdir / "_build/html/bad.html").read_text()
    assert html.count("could not be drawn") == len(RUNAWAY_MODELS)
    assert not Path(f"{fork_pid}.ran").exists()  # the copy ended before any of the code
    procfs.assert_gone([int(fork_pid.read_text())], within=10, what="the fork outlived it")


@pytest.fixture(params=["full", "read-only"])
def unwritable_cache(request, tmp_path):
    """A cache folder on a file system of its own, full or read-only (needs mount: root)."""
    folder = tmp_path / "cache"
    folder.mkdir()
    mount = ["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", folder]
    mounted = subprocess.run(mount, check=False, capture_output=True)
    if mounted.returncode:
        pytest.skip("mounting a small file system needs root")
    try:
        if request.param == "full":
            with contextlib.suppress(OSError), open(folder / "filler", "wb") as filler:
                filler.write(b"\0" * (1 << 20))
        else:
            subprocess.run(["mount", "-o", "remount,ro", folder], check=True)
        yield folder
    finally:
        subprocess.run(["umount", "-l", folder], check=False)


def test_a_cache_folder_that_is_full_or_read_only_is_a_warning_per_artifact(
    tmp_path, unwritable_cache
):
    """Issue 31, item 2: a diagram, a shape capture, a live widget's result and a clip
    that cannot be stored each get a located warning with a hint; every page is written."""
    page = (
        "Bad\n===\n\n.. arch-diagram:: model_src.model:GPT\n   :config: sort\n\n"
        ".. annotated-source:: model.py\n   :object: MLP.forward\n   :shapes: sort\n\n"
        "   @ x = self.gelu(x)\n   The activation.\n\n"
        ".. live-attention:: sort\n\n"
        ".. manim-clip:: Box\n\n   from manim import *\n\n   class Box(Scene):\n"
        "       def construct(self):\n           self.play(Create(Square()), run_time=0.3)\n"
    )
    conf = (
        'extensions = ["ext.arch_diagram", "ext.annotated_source", "ext.live_models", '
        '"ext.manim_clip"]\nnanobook_presets = "as_presets"\n'
        f"annotated_source_root = {str(ROOTS / 'test-annotated-source/model_src')!r}\n"
        f"nanobook_cache_dir = {str(unwritable_cache)!r}\n"
    )
    presets = (ROOTS / "test-annotated-source/as_presets.py").read_text()
    srcdir = _project(tmp_path, page, conf, {"as_presets.py": presets})
    code, log, _ = _build(srcdir)
    _assert_fails_at_the_page(srcdir, code, log, "arch-diagram: the diagram could not be stored")
    for said in (
        "shapes for MLP.forward (sort): the capture could not be stored",
        "live-attention sort: the result could not be stored in the cache",
        "manim-clip Box: could not be stored",
    ):
        assert said in log, (said, log[-3000:])
    assert log.count("hint: make the cache folder writable") == 4, log[-3000:]


def test_an_option_value_a_directive_refuses_is_its_warning_not_docutils(tmp_path):
    """Issue 31, item 6: docutils would report these without the book's type or a hint,
    or (a flag given a value) take them silently."""
    page = (
        "Bad\n===\n\n.. manim-clip:: Fine\n   :file: nowhere.py\n   :autoplay: yes please\n\n"
        ".. annotated-source:: model.py\n   :object: MLP.forward\n   :collapse: bogus\n\n"
        "   @ x = self.gelu(x)\n   The activation.\n"
    )
    conf = (
        'extensions = ["ext.manim_clip", "ext.annotated_source"]\n'
        f"annotated_source_root = {str(ROOTS / 'test-annotated-source/model_src')!r}\n"
    )
    srcdir = _project(tmp_path, page, conf, {})
    code, log, _ = _build(srcdir)
    bad = srcdir / "bad.rst"
    _assert_fails_at_the_page(
        srcdir,
        code,
        log,
        f"{bad}:4: WARNING: manim-clip: :autoplay: 'yes please' is not a value it takes\n"
        "  hint: :autoplay: no argument is allowed",
    )
    assert (
        f"{bad}:8: WARNING: annotated-source: :collapse: 'bogus' is not a value it takes\n"
        "  hint: :collapse: choose from none, definitions, unannotated"
    ) in log, log[-3000:]
    assert "[nanobook.annotated-source]" in log and "[nanobook.manim-clip]" in log
    assert 'autoplay=""' not in (srcdir / "_build/html/bad.html").read_text()


def test_every_warning_subtype_is_named_after_its_directive_and_listed_for_authors():
    """Issue 30: an author reads on the authoring page what to put in suppress_warnings.
    Every subtype ext/ says (warn refuses any other) is listed there, every directive of
    ext/ has a subtype of its name, and nothing in ext/ warns around warn."""
    from ext import _core

    listed = re.findall(r"`nanobook\.([a-z-]+)`", (REPO / "docs" / "authoring.md").read_text())
    assert sorted(listed) == sorted(_core.SUBTYPES)
    sources = {path: path.read_text() for path in sorted((REPO / "ext").rglob("*.py"))}
    from ext.live_models.kinds import KINDS

    directives = {
        name for text in sources.values() for name in re.findall(r'add_directive\("([^"]+)"', text)
    }
    directives |= {spec.name for spec in KINDS.values()}  # the live widget kinds' directives
    assert directives and directives <= set(_core.SUBTYPES)
    said = {
        name
        for text in sources.values()
        for name in re.findall(r'(?:SUBTYPE = |subtype=)"([^"]+)"', text)
    }
    assert said and said <= set(_core.SUBTYPES)
    around = [path.name for path, text in sources.items() if re.search(r"type=\"nanobook\"", text)]
    assert around == []
    with pytest.raises(ValueError, match=r"not one of _core\.SUBTYPES"):
        _core.warn(_core._logger, "a warning", location=None, subtype="manim_clip")


def test_a_name_given_on_two_pages_is_a_located_warning_at_the_second(tmp_path):
    """Issue 31, item 6: Sphinx says nothing when two pages' directives share a :name:
    (the second silently takes the :ref:, and a clip's files are named after it)."""
    film = "Film {n}\n======\n\n.. manim-film::\n   :name: the-film\n"
    srcdir = _project(
        tmp_path, film.format(n=2), 'extensions = ["ext.manim_clip"]\n', {"a.rst": film.format(n=1)}
    )
    (srcdir / "index.rst").write_text("Book\n====\n\n.. toctree::\n\n   a\n   healthy\n   bad\n")
    code, log, _ = _build(srcdir)
    _assert_fails_at_the_page(
        srcdir,
        code,
        log,
        f"{srcdir / 'bad.rst'}:4: WARNING: manim-film: :name: 'the-film' is already the name "
        "of a target in a:4\n  hint: give each :name: once in the book",
    )
    assert "[nanobook.manim-film]" in log and log.count("already the name") == 1, log[-3000:]
    assert 'id="the-film"' in (srcdir / "_build/html/a.html").read_text()
    # a later build that re-reads only the second page still knows the first page's name
    (srcdir / "bad.rst").write_text(film.format(n=3))
    code, log, _ = _build(srcdir)
    assert code == 1 and "bad.rst:4: WARNING: manim-film: :name: 'the-film'" in log, log[-3000:]


def test_a_missing_or_second_argument_or_a_body_is_the_directives_warning_on_every_build(
    tmp_path,
):
    """docutils refuses these before the directive runs, once, without a hint: a warm
    build under -W then passed with the directive missing from its page."""
    page = (
        "Bad\n===\n\n.. manim-clip::\n\n"
        ".. annotated-source:: model.py other.py\n\n"
        ".. arch-diagram:: model_src.model:GPT\n\n   A body it does not take.\n"
    )
    conf = (
        'extensions = ["ext.manim_clip", "ext.annotated_source", "ext.arch_diagram"]\n'
        f"annotated_source_root = {str(ROOTS / 'test-annotated-source/model_src')!r}\n"
    )
    srcdir = _project(tmp_path, page, conf, {})
    bad = srcdir / "bad.rst"
    expected = [
        f"{bad}:4: WARNING: manim-clip: the argument is missing\n"
        "  hint: write it after the name: {manim-clip} AttentionScene",
        f"{bad}:6: WARNING: annotated-source model.py other.py: it takes one argument, and "
        "this is more than one\n  hint: write it after the name: {annotated-source} model.py",
        f"{bad}:8: WARNING: arch-diagram: it takes no body\n"
        "  hint: leave the fence empty but for its options",
    ]
    for build in ("cold", "warm"):
        code, log, _ = _build(srcdir)
        _assert_fails_at_the_page(srcdir, code, log, expected[0])
        for said in expected[1:]:
            assert said in log, (build, log[-3000:])
        assert "ERROR" not in log, (build, log[-3000:])
