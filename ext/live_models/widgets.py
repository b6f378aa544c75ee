"""The live widgets as a producer (ext/producers.py): after reading, each widget's
computation on its page's default input comes from the store (``<cache>/live``) or is
made now, under one of the build's cores, and the scripts its page loads are exported;
the lifecycle (dedupe by key, warnings at the directive with their hints, results on
env, the pages to write again) is the one every producer has. What differs by kind is
asked of the spec (directive.LiveSpec, one class per kind in kinds/):

    problem()        every build, before the key: what nothing needs loading to tell
    request()        with reads() and the kind's code, the key
    input_problem()  when the result is made (a stored one was checked when it was made)
    compute()        the result, stored as JSON
    shown(result)    what joins it uncached (the training step's lines), then the
                     scripts it loads exported (kinds.export)
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from sphinx.util import logging

from buildlib import store

from .. import _core, producers
from ..producers import Asked, Made

logger = logging.getLogger(__name__)

RESULT = "result.json"  # a computation's entry: its JSON
# A ValueError of a computation: a question the model's record cannot answer.
UNANSWERED_HINT = "choose another :threshold:, :layer: or :prompt:"


@dataclasses.dataclass
class Shown:
    """What a working widget shows: its result, and the exported scripts it loads
    (name -> the cached file)."""

    result: dict
    scripts: dict[str, str]


class LiveWidgets(producers.Producer):
    """Every live widget the pages show, whatever its kind."""

    name, thing = "live", "the result"

    def ident(self, spec) -> str:
        return spec.uid

    def asked(self, env) -> list[Asked]:
        """The pages' widgets but those the directive refused (it said why, while reading)."""
        return [
            Asked(spec.docname, spec.lineno, spec)
            for docname in sorted(env.live_model_specs)
            for spec in env.live_model_specs[docname]
            if spec.error is None
        ]

    def key(self, app, spec) -> str:
        problem = spec.problem()
        if problem:
            raise problem
        from . import compute  # torch: only for books that have live widgets

        return compute.result_entry(spec)

    def make_all(self, app, wanted: dict) -> dict[str, Made]:
        """One computation at a time (each under a core: they share the models they
        load), then each working one's scripts exported, each script once."""
        entries, cache = self.entries(app), _core.cache_root(app) / self.name
        exported: dict[str, str] = {}
        made = {}
        for key, spec in wanted.items():
            make_into = lambda folder, k=key, s=spec: self.make_into(app, k, s, folder)  # noqa: E731
            made[key] = producers.obtain(self, entries, key, make_into)
            if made[key].ok:
                made[key] = self._shown(made[key], spec, cache, exported)
        return made

    def _shown(self, made: Made, spec, cache: Path, exported: dict[str, str]) -> Made:
        from . import kinds

        try:
            result = spec.shown(made.value)
            for script in spec.scripts:
                if script not in exported:
                    exported[script] = str(kinds.export(script, cache))
        except _core.Problem as problem:  # a phase's line is no longer in train.py
            return Made(made.key, problems=(problem,))
        except OSError as error:  # a full or read-only cache: the widget stays static
            return Made(made.key, problems=(producers.unstored(self, error),))
        scripts = {script: exported[script] for script in spec.scripts}
        return dataclasses.replace(made, value=Shown(result, scripts))

    def make(self, app, spec) -> str:
        """The result's JSON: checked that it can be made, then computed."""
        problem = spec.input_problem()
        if problem:
            raise problem
        try:
            return json.dumps(spec.compute(), allow_nan=False)
        except _core.Problem:
            raise
        except ValueError as error:
            raise _core.Problem(str(error), UNANSWERED_HINT) from error

    def write(self, text: str, folder: Path) -> None:
        (folder / RESULT).write_text(text, encoding="utf-8")
        store.write_meta(folder, {"files": {"result": RESULT}})

    def read(self, entry: Path, meta: dict) -> dict:
        return json.loads((entry / RESULT).read_text(encoding="utf-8"))

    def warning_subtype(self, asked: Asked) -> str:
        return asked.spec.name

    def heading(self, asked: Asked) -> str:
        return asked.spec.directive


WIDGETS = LiveWidgets()


def spec_of(env, uid: str):
    """The spec of the widget ``uid`` ("<docname>#<index>")."""
    docname, _, index = uid.rpartition("#")
    return env.live_model_specs[docname][int(index)]


def made_of(env, uid: str) -> Made | None:
    """What became of the widget ``uid`` this build (None: refused while reading)."""
    return producers.made_of(env, WIDGETS, uid)


def shown_of(env, uid: str) -> Shown | None:
    """What the working widget ``uid`` shows; None when it does not work."""
    made = made_of(env, uid)
    return made.value if made is not None and made.ok else None
