"""ext/math_images.py: the book's formulas typeset in one LaTeX run, each SVG the bytes
imgmath makes for the formula alone, its alt text the formula without its looks; a formula
LaTeX cannot typeset is reported at its line."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(
    not (shutil.which("latex") and shutil.which("dvisvgm")), reason="needs latex and dvisvgm"
)


def _math_images(app) -> dict[str, bytes]:
    folder = Path(app.outdir, "_images", "math")
    return {path.name: path.read_bytes() for path in sorted(folder.glob("*.svg"))}


def _img_tags(app) -> list[str]:
    return re.findall(
        r'<img[^>]*class="math"[^>]*>|<img src="_images/math/[^>]*>',
        Path(app.outdir, "index.html").read_text(encoding="utf-8"),
    )


@pytest.mark.sphinx("html", testroot="math-images", freshenv=True)
def test_one_run_makes_what_imgmath_makes_alone(app, make_app, tmp_path):
    app.build()
    batched = _math_images(app)
    assert len(batched) == 5  # x_i appears twice: one image
    assert "math: 5 formulas typeset in one LaTeX run" in app._status.getvalue()

    alone = make_app(
        "html",
        srcdir=app.srcdir,
        builddir=tmp_path / "alone",
        confoverrides={"extensions": ["sphinx.ext.imgmath"]},
        freshenv=True,
    )
    alone.build()
    assert _math_images(alone) == batched  # same names, same bytes, same depth comments
    # the same baseline alignment in the page; only the alt texts are made spoken
    assert [_without_alt(tag) for tag in _img_tags(alone)] == [
        _without_alt(tag) for tag in _img_tags(app)
    ]
    assert not app._warning.getvalue()


def _without_alt(tag: str) -> str:
    return re.sub(r' alt="[^"]*"', "", tag)


@pytest.mark.sphinx("html", testroot="math-images", freshenv=True)
def test_alt_texts_say_the_formula_in_words_and_symbols(app):
    app.build()
    alts = [re.search(r' alt="([^"]*)"', tag)[1] for tag in _img_tags(app)]
    assert "q · k" in alts  # written {\color{q} q} \cdot k
    assert "softmax(z)_i = (e to the power z_i)/(∑_j e to the power z_j)" in alts
    assert "L = - log p_θ(x_(t+1) | x_(≤ t))" in alts
    assert not [alt for alt in alts if "\\" in alt]


@pytest.mark.sphinx("html", testroot="math-images", freshenv=True)
def test_only_what_is_missing_is_typeset_again(app):
    app.build()
    first = _math_images(app)
    victim = Path(app.outdir, "_images", "math", next(iter(first)))
    victim.unlink()
    app._status.truncate(0), app._status.seek(0)
    app.build(force_all=True)
    assert "typeset" not in app._status.getvalue()
    assert _math_images(app) == first  # copied back from the store

    victim.unlink()
    for entry in Path(app.outdir).parent.glob("nanobook-cache/math/*/meta.json"):
        entry.parent.joinpath("formula.svg").write_text("<svg/>")  # damaged: remade
    app._status.truncate(0), app._status.seek(0)
    app.build(force_all=True)
    assert "math: 1 formulas typeset in one LaTeX run" in app._status.getvalue()
    assert _math_images(app) == first


@pytest.mark.sphinx("html", testroot="math-images", freshenv=True)
def test_a_new_output_folder_takes_the_formulas_from_the_store(app, make_app, tmp_path):
    def build(folder: str):
        built = make_app(
            "html",
            srcdir=app.srcdir,
            builddir=tmp_path / folder,
            confoverrides={"nanobook_cache_dir": str(tmp_path / "cache")},
            freshenv=True,
        )
        built.build()
        return built

    first, again = build("first"), build("again")
    assert "math: 5 formulas typeset in one LaTeX run" in first._status.getvalue()
    assert "formulas typeset" not in again._status.getvalue()
    assert _math_images(again) == _math_images(first)
    assert "nanobook" not in again._warning.getvalue()


@pytest.mark.sphinx(
    "html", testroot="math-images", freshenv=True, confoverrides={"exclude_patterns": []}
)
def test_a_bad_formula_is_reported_at_its_line_and_shown_as_text(app):
    app.build()
    assert "typeset one by one, 1 failed" in app._status.getvalue()
    warnings = app._warning.getvalue().strip().splitlines()
    located = "broken.rst:6: WARNING: math: LaTeX cannot typeset `\\frac{1}{`: ! File ended"
    assert located in warnings[0]
    assert warnings[1].strip().startswith("hint: fix the formula")
    assert "[nanobook.math]" in warnings[1] and len(warnings) == 2  # imgmath never tried it
    page = Path(app.outdir, "broken.html").read_text(encoding="utf-8")
    assert r"\frac{1}{" in page  # its source, as text
    assert len(_math_images(app)) == 5  # every other formula still has its image

    from ext import math_images, producers

    broken = producers.made_of(app.env, math_images.FORMULAS, "$\\frac{1}{$")
    assert broken.value is None and "File ended" in broken.problems[0].message
    fine = producers.made_of(app.env, math_images.FORMULAS, "$x_i$")
    assert fine.ok and Path(app.outdir, "_images", "math", fine.value).is_file()

    app._warning.truncate(0), app._warning.seek(0)
    app.build()  # nothing to re-read or re-write: said again all the same
    assert located in app._warning.getvalue()


@pytest.mark.sphinx("html", testroot="math-images", freshenv=True)
def test_a_cache_that_cannot_be_written_is_a_located_warning(app, make_app, tmp_path):
    blocked = tmp_path / "cache"
    blocked.mkdir()
    (blocked / "math").write_text("a file where the store's folder should be")
    built = make_app(
        "html",
        srcdir=app.srcdir,
        builddir=tmp_path / "out",
        confoverrides={"nanobook_cache_dir": str(blocked)},
        freshenv=True,
    )
    built.build()
    warnings = built._warning.getvalue()
    assert "index.rst:" in warnings and "math: the equation images could not be stored" in warnings
    assert "[nanobook.math]" in warnings
    assert len(_math_images(built)) == 5  # typeset all the same, kept nowhere


@pytest.mark.sphinx("html", testroot="math-images", freshenv=True)
def test_images_made_with_other_settings_are_made_again(app, make_app, tmp_path):
    """imgmath names an image by its LaTeX alone: a rebuild after a change of the dvisvgm
    arguments must not keep the images the old ones made."""
    app.build()
    fine = _math_images(app)
    coarser = {"imgmath_dvisvgm_args": ["--no-fonts=1", "--precision=1"]}
    again = make_app(
        "html", srcdir=app.srcdir, builddir=Path(app.outdir).parent, confoverrides=coarser
    )
    assert again.outdir == app.outdir  # the same output folder, images and all
    again.build()
    fresh = make_app("html", srcdir=app.srcdir, builddir=tmp_path / "fresh", confoverrides=coarser)
    fresh.build()
    assert _math_images(again) == _math_images(fresh) != fine


@pytest.mark.sphinx("html", testroot="math-images", freshenv=True)
def test_a_build_whose_images_are_current_makes_no_latex_document(app, monkeypatch):
    """The formulas are noted while pages are read and each image's record says what it
    was made with: a rebuild that changes nothing loads no doctree and makes no document
    (imgmath's template costs 3 ms a formula)."""
    from sphinx.ext import imgmath

    from ext import math_images

    app.build()
    made, generate = [], imgmath.generate_latex_macro
    monkeypatch.setattr(
        imgmath, "generate_latex_macro", lambda *args: made.append(args[1]) or generate(*args)
    )
    monkeypatch.setattr(app.env, "get_doctree", lambda docname: pytest.fail(f"{docname} loaded"))
    math_images._latex_document.cache_clear()
    app.build()
    assert made == ["$x$"]  # the fixed formula whose document shows imgmath's settings
    assert len(_math_images(app)) == 5 and not app._warning.getvalue()
