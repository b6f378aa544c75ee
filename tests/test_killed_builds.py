"""A build killed with SIGKILL while it works, then run again, publishes the same bytes as
a build never interrupted: nothing half-made is kept, nothing it started lives on.

Each case builds a copy of a test root in a subprocess (as a maintainer's sphinx-build),
kills it at one stage of the work, checks that no process it started survives, builds
again, and compares every published file with an uninterrupted build of another copy
(one per test root and module: two stages kill builds of the same root).
Training is covered the same way in test_trained.py.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import procfs
import pytest

REPO = Path(__file__).resolve().parent.parent
ROOTS = Path(__file__).parent / "roots"

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")

# A model file whose import is slow in the build that is killed: that build is then inside
# the capture (its process). The file is the same in every build, so every build has the
# same keys and line numbers; only the killed one waits (a capture imports it several times).
SLOW_SECONDS = "NANOBOOK_TEST_SLOW_IMPORT"
SLOW_IMPORT = f"import os\nimport time\ntime.sleep(float(os.environ.get({SLOW_SECONDS!r}, 0)))\n"


def _copy(root: str, dest: Path, slow_model: bool) -> Path:
    srcdir = dest / root
    shutil.copytree(ROOTS / f"test-{root}", srcdir)
    if slow_model:
        model = srcdir / "model_src" / "model.py"
        model.write_text(SLOW_IMPORT + model.read_text())
    return srcdir


def _sphinx(srcdir: Path, slow_import: bool = False) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(REPO), "PYTHONHASHSEED": "0", "PYTHONUNBUFFERED": "1"}
    if slow_import:
        env[SLOW_SECONDS] = "4"
    return subprocess.Popen(
        [sys.executable, "-m", "sphinx", "-b", "html", str(srcdir), str(srcdir / "_build/html")],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )


def _published(srcdir: Path) -> dict[str, bytes]:
    html = srcdir / "_build" / "html"
    return {
        path.relative_to(html).as_posix(): path.read_bytes()
        for path in sorted(html.rglob("*"))
        if path.is_file() and ".doctrees" not in path.parts
    }


def _run(srcdir: Path) -> str:
    build = _sphinx(srcdir)
    output, _ = build.communicate(timeout=600)
    assert build.returncode == 0, output[-3000:]
    return output


def _reach(build: subprocess.Popen, marker: str) -> None:
    """Wait until the build prints ``marker``, or, for ``process:NAME``, until a process
    running NAME works below it."""
    if marker.startswith("process:"):
        name = marker.removeprefix("process:").encode()
        deadline = time.monotonic() + 120
        while not any(name in procfs.cmdline(pid) for pid in procfs.descendants(build.pid)):
            assert build.poll() is None and time.monotonic() < deadline, "it never started"
            time.sleep(0.05)
        return
    seen = []
    for line in build.stdout:
        seen.append(line)
        if marker in line:
            return
    pytest.fail(f"the build never printed {marker!r}:\n{''.join(seen)[-3000:]}")


STAGES = {
    # stage: (test root, a model slow to import, what says the stage has begun)
    "rendering clips": ("manim-film", False, "process:ext.manim_clip.worker"),
    "joining the film": ("manim-film", False, "joining the film of"),
    "capturing shapes": ("annotated-source", True, "process:buildlib.processes"),
}


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    """published(root, slow_model): the files an uninterrupted build of a copy of the root
    publishes, built once per module for each root."""
    built: dict[tuple[str, bool], dict[str, bytes]] = {}

    def published(root: str, slow_model: bool) -> dict[str, bytes]:
        if (root, slow_model) not in built:
            reference = _copy(root, tmp_path_factory.mktemp("uninterrupted"), slow_model)
            _run(reference)
            built[root, slow_model] = _published(reference)
        return built[root, slow_model]

    return published


@pytest.mark.parametrize("stage", STAGES)
def test_a_build_killed_mid_stage_leaves_nothing_running_and_resumes_to_the_same_bytes(
    tmp_path, stage, uninterrupted
):
    root, slow_model, marker = STAGES[stage]
    expected = uninterrupted(root, slow_model)

    killed = _copy(root, tmp_path / "killed", slow_model)
    build = _sphinx(killed, slow_import=slow_model)
    _reach(build, marker)
    started = procfs.descendants(build.pid)
    build.kill()
    build.wait(timeout=30)
    procfs.assert_gone(started, within=15, what="processes outlived the killed build")

    _run(killed)
    again = _published(killed)
    assert again.keys() == expected.keys()
    differ = [name for name in expected if again[name] != expected[name]]
    assert not differ, f"after a kill while {stage}, these files differ: {differ}"
