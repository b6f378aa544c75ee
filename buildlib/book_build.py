"""How the book is built: one sphinx-build command line for nox, the tests and the bench,
and how they open the built book in Debian's chromium.

Plain Python with no Sphinx import, so the noxfile can use it before any venv exists.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from buildlib import store

ROOT = Path(__file__).resolve().parent.parent
# PyTorch's index of CPU-only wheels: PyPI's torch for Linux pulls in several GB of CUDA
# libraries. nox installs from it, and so does the install line each chapter shows.
TORCH_CPU_INDEX = "https://download.pytorch.org/whl/cpu"


def sphinx_args(
    out: Path, builder: str = "html", *, docs: Path | None = None, doctrees: Path | None = None
) -> list[str]:
    """What follows ``sphinx-build``: warnings are errors, every cross-reference checked.

    Pages go to ``out/<builder>``; doctrees to ``out/doctrees`` unless given, so builds
    that share them read each page only once.
    """
    return [
        "-b",
        builder,
        "-W",
        "--keep-going",
        "-n",
        "-d",
        str(doctrees or out / "doctrees"),
        str(docs or ROOT / "docs"),
        str(out / builder),
    ]


# PyTorch's kernels and MKL's pick their code by what the CPU offers (AVX-512 or AVX2),
# and the low bits of a sum differ between them: over a few hundred training steps that
# grows into another model, and the book's measured claims are about one model. Pinned
# to AVX2, which any x86 machine of the last decade has, an AVX2 and an AVX-512 machine
# trained the same; an Intel Xeon with AMX (2026-11-25) did not, for a cause not found
# (the chapters' asserts stop a build whose runs break a claim).
# One thread per process, for the same reason (a sum split over N threads is added in
# another order) and for speed: the book's models are tiny, and two notebook kernels of
# two threads each on two cores spend most of their time waiting on one another (the
# attention chapter's cells: 245 s, against 15 s on one thread each).
SAME_NUMBERS_EVERYWHERE = {
    "ATEN_CPU_CAPABILITY": "avx2",
    "MKL_CBWR": "AVX2,STRICT",
    "ONEDNN_MAX_CPU_ISA": "AVX2",
    "OMP_NUM_THREADS": "1",
}


CLIP_QUALITY_ENV = "NANOBOOK_CLIP_QUALITY"  # overrides conf and :quality: (tests, livedocs)


def environment(cache: Path, quality: str | None = None) -> dict[str, str]:
    """The variables a book build needs: its cache, a fixed hash seed, the same numerics
    on every machine, the clip quality."""
    env = {"PYTHONHASHSEED": "0", store.CACHE_ENV: str(cache), **SAME_NUMBERS_EVERYWHERE}
    if quality:
        env[CLIP_QUALITY_ENV] = quality
    return env


# Headless, offline, no first-run or background requests: what the browser tests and the
# bench launch Debian's chromium with (Playwright's own browser download is not used).
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def chromium() -> dict:
    """Playwright's ``chromium.launch`` options for Debian's chromium."""
    return {
        "executable_path": shutil.which("chromium") or "/usr/bin/chromium",
        "args": CHROMIUM_ARGS,
    }
