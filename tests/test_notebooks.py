"""ext/notebooks.py: the pages' notebooks executed on every core before Sphinx reads them."""

from __future__ import annotations

import io

import pytest
from sphinx.util.console import strip_colors


@pytest.fixture
def notebook_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("NOTEBOOKS_TEST_CACHE", str(tmp_path / "jupyter"))


@pytest.mark.sphinx("html", testroot="notebooks", freshenv=True)
def test_notebooks_run_early_in_parallel_and_reading_uses_their_outputs(
    notebook_cache, make_app, app_params
):
    args, kwargs = app_params
    status = io.StringIO()
    app = make_app(*args, status=status, **kwargs)
    app.build()
    log = strip_colors(status.getvalue())
    assert sorted(app.executed_early) == ["one", "two"]
    assert "executing 2 notebooks, 2 at a time" in log
    assert "Executed notebook in" not in log  # MyST-NB ran none of them itself
    for page in ("one", "two"):
        html = (app.outdir / f"{page}.html").read_text(encoding="utf-8")
        assert f"page {page} ran in process True 45" in html

    # a fresh environment over the same cache: nothing left to execute early
    again = make_app(*args, **{**kwargs, "freshenv": True})
    again.build()
    assert again.executed_early == []
    html = (again.outdir / "one.html").read_text(encoding="utf-8")
    assert "page one ran in process True 45" in html
