"""ext/producers.py: the one lifecycle (produce), with a fake producer."""

from __future__ import annotations

import json
import pickle
from pathlib import Path
from types import SimpleNamespace

from buildlib import store
from ext import _core, producers
from ext._core import Problem


class Letters(producers.Producer):
    """Makes a spec's upper case; "a" and "A" share a key. A spec starting with "bad"
    cannot be made, one starting with "nokey" cannot be keyed, "half" is made with a
    problem, and "note" is made with a note."""

    name, subtype, thing = "letters", "math", "the letter"

    def __init__(self, pages: dict[str, list[tuple[int, str]]]):
        self.pages, self.made = pages, []

    def asked(self, env):
        return [
            producers.Asked(docname, line, spec)
            for docname in sorted(self.pages)
            for line, spec in self.pages[docname]
        ]

    def key(self, app, spec):
        if spec.startswith("nokey"):
            raise Problem(f"{spec} has no key", "give it one")
        return spec.lower()

    def make(self, app, spec):
        self.made.append(spec)
        if spec.startswith("bad"):
            raise Problem(f"{spec} cannot be made", "make it good")
        return {"text": spec.upper(), "errors": ["only half"] if spec == "half" else []}

    def write(self, value, folder: Path):
        (folder / "value.json").write_text(json.dumps(value))
        store.write_meta(folder, {"files": {"value": "value.json"}})

    def read(self, entry: Path, meta: dict):
        return json.loads((entry / meta["files"]["value"]).read_text())

    def problems(self, value):
        return [Problem(error, "finish it") for error in value["errors"]]

    def notes(self, asked, value):
        return [Problem("a note")] if value["text"] == "NOTE" else []


def _build(producer, tmp_path):
    app = SimpleNamespace(config=SimpleNamespace(nanobook_cache_dir="cache"), confdir=tmp_path)
    env = SimpleNamespace()
    return app, env


def test_each_key_is_made_once_and_every_spec_gets_its_result(tmp_path, said):
    letters = Letters({"one": [(3, "a"), (9, "b")], "two": [(4, "A"), (5, "a")]})
    app, env = _build(letters, tmp_path)
    changed = producers.produce(letters, app, env)
    assert sorted(letters.made) in (["a", "b"], ["A", "b"])  # "a" and "A": one key, one make
    assert changed == ["one", "two"] and not said
    for spec in ("a", "A", "b"):
        assert producers.made(env, letters, spec).value["text"] == spec.upper()
    assert producers.made(env, letters, "never asked") is None
    # the next build reads them back from the store, makes nothing and writes no page
    again = Letters(letters.pages)
    assert producers.produce(again, app, env) == [] and again.made == []
    assert (tmp_path / "cache" / "letters" / "a" / "value.json").is_file()


def test_a_problem_is_said_at_each_place_that_asks_and_nothing_is_stored(tmp_path, said):
    letters = Letters({"one": [(3, "bad"), (7, "nokey")], "two": [(12, "bad")]})
    app, env = _build(letters, tmp_path)
    producers.produce(letters, app, env)
    assert said == [
        (("one", 3), "math: bad cannot be made", "make it good", "math"),
        (("one", 7), "math: nokey has no key", "give it one", "math"),
        (("two", 12), "math: bad cannot be made", "make it good", "math"),
    ]
    assert letters.made == ["bad"]  # once for both pages; "nokey" never made
    assert not producers.made(env, letters, "bad").ok
    said.clear()
    assert producers.produce(letters, app, env) == []  # the same failure: no page
    assert letters.made == ["bad", "bad"] and len(said) == 3  # tried and said again


def test_a_value_with_problems_is_shown_said_and_not_stored_and_notes_are_said(tmp_path, said):
    letters = Letters({"one": [(2, "half"), (5, "note")]})
    app, env = _build(letters, tmp_path)
    producers.produce(letters, app, env)
    half = producers.made(env, letters, "half")
    assert half.value["text"] == "HALF" and half.problems == (Problem("only half", "finish it"),)
    assert said == [
        (("one", 2), "math: only half", "finish it", "math"),
        (("one", 5), "math: a note", None, "math"),
    ]
    assert not (tmp_path / "cache" / "letters" / "half").exists()
    assert (tmp_path / "cache" / "letters" / "note").is_dir()


def test_the_pages_whose_result_changed_are_returned(tmp_path, said):
    letters = Letters({"one": [(1, "a")], "two": [(1, "b")], "three": [(1, "c")]})
    app, env = _build(letters, tmp_path)
    producers.produce(letters, app, env)
    store.remove_entry(tmp_path / "cache" / "letters" / "b")
    letters.pages["two"] = [(1, "bad")]  # now fails
    letters.pages["three"] = [(1, "C")]  # another spec, the same key and value
    assert producers.produce(letters, app, env) == ["three", "two"]
    letters.pages["two"] = [(1, "b")]  # fixed
    assert producers.produce(letters, app, env) == ["two"]


def test_a_storage_error_is_said_with_the_storage_hint(tmp_path, said):
    letters = Letters({"one": [(4, "a")]})
    app, env = _build(letters, tmp_path)
    (tmp_path / "cache").write_text("not a folder")
    producers.produce(letters, app, env)
    ((location, message, hint, _),) = said
    assert location == ("one", 4) and message.startswith("math: the letter could not be stored")
    assert hint == _core.STORAGE_HINT


def test_a_problem_keeps_its_hint_across_builds_and_compares_by_what_it_says():
    problem = Problem("it broke", "fix it")
    kept = pickle.loads(pickle.dumps(producers.Made("k", problems=(problem,))))
    assert kept.problems[0].hint == "fix it" and kept == producers.Made("k", problems=(problem,))
    assert Problem("it broke", "another hint") != problem
