"""How the book is built: one sphinx-build command line for nox, the tests and the bench.

Plain Python with no Sphinx import, so the noxfile can use it before any venv exists.
"""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


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


def environment(cache: Path, quality: str | None = None) -> dict[str, str]:
    """The variables a book build needs: its cache, a fixed hash seed, the clip quality."""
    env = {"PYTHONHASHSEED": "0", "NANOBOOK_CACHE_DIR": str(cache)}
    if quality:
        env["NANOBOOK_CLIP_QUALITY"] = quality
    return env
