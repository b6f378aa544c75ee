"""Whole builds with one faulty page, as a maintainer runs them (`sphinx-build -W
--keep-going` in a process of its own): the build fails with a located warning, the
healthy page is written, and nothing hangs or ends the build early.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

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
        "import time\n" + source.replace(activation, "        time.sleep(30)\n" + activation)
    )
    srcdir = _project(
        tmp_path,
        "Bad\n===\n\n.. annotated-source:: model.py\n   :object: MLP.forward\n"
        "   :shapes: sort\n\n   @ x = self.gelu(x)\n   The activation.\n",
        'extensions = ["ext.annotated_source"]\nnanobook_presets = "as_presets"\n'
        f"annotated_source_root = {str(model)!r}\nnanobook_model_timeout = 2\n",
        {"as_presets.py": (ROOTS / "test-annotated-source/as_presets.py").read_text()},
    )
    code, log, seconds = _build(srcdir, limit=120)
    _assert_fails_at_the_page(srcdir, code, log, "ran longer than 2 s")
    assert seconds < 30, f"the capture ran again outside its limit: {seconds:.0f} s"
