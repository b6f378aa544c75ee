"""ext/_core.py's shared pieces that no single extension's tests own."""

from __future__ import annotations

from types import SimpleNamespace

from ext import _core


class _App:
    """Just what per_page_state uses of a Sphinx application: its events."""

    def __init__(self):
        self.handlers: dict[str, list] = {}

    def connect(self, event, handler, priority=500):
        self.handlers.setdefault(event, []).append(handler)

    def emit(self, event, *args):
        for handler in self.handlers.get(event, []):
            handler(self, *args)


def test_per_page_state_is_made_purged_and_merged_from_parallel_readers():
    app, env = _App(), SimpleNamespace()
    _core.per_page_state(app, "clip_specs", "film_specs")
    app.emit("env-purge-doc", env, "removed")  # before the first read: nothing there yet
    app.emit("env-before-read-docs", env, ["a", "b"])
    assert env.clip_specs == {} and env.film_specs == {}
    env.clip_specs.update(a=["a's clip"], b=["b's clip"])
    env.film_specs["a"] = ["a's film"]
    app.emit("env-purge-doc", env, "a")  # read again
    assert env.clip_specs == {"b": ["b's clip"]} and env.film_specs == {}
    reader = SimpleNamespace(clip_specs={"a": ["new"], "c": ["not this reader's"]}, film_specs={})
    app.emit("env-merge-info", env, ["a"], reader)
    assert env.clip_specs == {"a": ["new"], "b": ["b's clip"]} and env.film_specs == {}
