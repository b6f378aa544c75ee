"""ext/trained_runs.py: the book's trained runs on the one lifecycle, asked for by the
pages' cells, trained before reading; a failed training is a warning at its pages."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

from buildlib.processes import Task
from ext import myst_pages, producers, trained_runs

REPO = Path(__file__).resolve().parents[1]


def _fails(message: str) -> None:
    raise ValueError(message)


def _trains(path: str) -> None:
    Path(path).write_text("trained")


def _page(*cells: str) -> myst_pages.Page:
    text = "---\nfile_format: mystnb\nkernelspec:\n  name: python3\n---\n# A page\n\n"
    text += "".join(f"```{{code-cell}} python\n{cell}\n```\n\nProse.\n\n" for cell in cells)
    return myst_pages.parse(text)


def test_every_training_is_asked_for_by_a_page_of_the_book():
    """A training no page's cells import would not be trained before reading: each of
    the book's is asked for, at the line of the first cell of the page importing it."""
    pages = {
        path.relative_to(REPO / "docs").with_suffix("").as_posix(): myst_pages.read(path)
        for path in sorted((REPO / "docs" / "chapters").glob("*.md"))
    }
    runs = trained_runs.TrainedRuns(pages, [REPO, REPO / "docs" / "scenes"])
    asked = runs.asked(SimpleNamespace())
    assert {a.spec.title for a in asked} == {t.title for t in trained_runs.TRAININGS}
    modern = [a for a in asked if a.spec.title.startswith("After GPT-2")]
    source = (REPO / "docs" / "chapters" / f"{modern[0].docname.split('/')[-1]}.md").read_text()
    cell = source.splitlines()[modern[0].line :]
    assert any("variants" in line for line in cell[:40] if "import" in line)


def test_a_failed_training_is_said_at_each_page_that_asks_and_the_rest_train(
    tmp_path, said, monkeypatch
):
    (tmp_path / "fakeruns.py").write_text("RUNS = 1\n")
    (tmp_path / "otherruns.py").write_text("RUNS = 2\n")
    trained = tmp_path / "trained.txt"
    failing = trained_runs.Training(
        "failing runs (a chapter)", "fakeruns", lambda: ["a"], lambda: [Task(_fails, ("boom",), 2)]
    )
    working = trained_runs.Training(
        "working runs", "otherruns", lambda: ["b"], lambda: [Task(_trains, (str(trained),), 1)]
    )
    monkeypatch.setattr(trained_runs, "TRAININGS", (failing, working))
    pages = {
        "one": _page("x = 1", "import fakeruns\nimport otherruns"),
        "two": _page("from fakeruns import RUNS"),
        "three": _page("print('no runs')"),
    }
    runs = trained_runs.TrainedRuns(pages, [REPO, tmp_path])
    env = SimpleNamespace()
    changed = producers.produce(runs, SimpleNamespace(), env)
    assert changed == ["one", "two"]
    assert trained.read_text() == "trained" and runs.trained == 2
    lines = {docname: page.cells[-1].line for docname, page in pages.items()}
    where = [(location, subtype) for location, *_, subtype in said]
    assert where == [(("one", lines["one"]), "training"), (("two", lines["two"]), "training")]
    _, message, hint, _ = said[0]
    assert message.startswith("training: failing runs (a chapter), which this page's cells read")
    assert "ValueError: boom (at tests/test_trained_runs.py:" in message
    assert "other page" in hint
    assert producers.made(env, runs, working).ok
    assert not producers.made(env, runs, failing).ok


def test_a_training_whose_key_cannot_be_made_is_said_too(tmp_path, said, monkeypatch):
    (tmp_path / "fakeruns.py").write_text("RUNS = 1\n")

    def entries():
        raise KeyError("no such preset")

    broken = trained_runs.Training("broken runs", "fakeruns", entries, list)
    monkeypatch.setattr(trained_runs, "TRAININGS", (broken,))
    runs = trained_runs.TrainedRuns({"one": _page("import fakeruns")}, [REPO, tmp_path])
    producers.produce(runs, SimpleNamespace(), SimpleNamespace())
    ((location, message, _, _),) = said
    assert location[0] == "one" and "KeyError: 'no such preset'" in message
