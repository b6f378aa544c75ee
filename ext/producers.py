"""The one lifecycle of what the build makes, written once for every producer.

A producer (a diagram, a shape capture…) says what pages asked for, how it is keyed,
made, stored and read back; ``produce`` does the rest, the same way for each. It runs
after reading (on env-updated), except for the trained runs (ext/trained_runs.py), made
before reading since the pages' cells load them::

    pages read ──► asked(env): Asked(docname, line, spec) per directive
                     │ key(app, spec)               once per spec, main thread
                     ▼
                   dedupe by key ──► make_all(app, {key: spec}): by default, a thread
                     │   each, entries(app).get_or_make(key)   (cache/<name>)
                     │                 ├─ there: read(entry, meta)
                     │                 └─ missing: make_into(app, key, spec, folder) under
                     │                    one of the build's cores: make(app, spec), then
                     │                    write(value, folder); read back (a value with
                     ▼                    problems is shown, never stored)
                   Made(key, value, problems) per spec, kept on env
                     │ each Problem (and note) warned at each spec's docname:line
                     ▼
                   the pages whose Made changed: written again; each shows its Made
                   (``made(env, name, spec)``) as its builder does

A Problem raised by ``key`` or ``make`` is the spec's failure; an OSError is the cache
refusing the entry (said with _core.STORAGE_HINT). Failures are said on every build,
so a warm ``-W`` build fails like a cold one, and never stored: the next build tries again.

Three hooks let a producer leave the defaults: ``entries`` picks its store (the film
lives among the clips), ``make_into`` lets a worker write the entry's files itself, and
``make_all`` makes every wanted key its own way: in one call (a batch), or in a pool of
its own that started before reading (the clips, the trained runs), as long as each key
gets its Made.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Hashable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, ClassVar

from sphinx.util import logging

from buildlib import processes, store

from . import _core
from ._core import Problem

logger = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class Asked:
    """One place a page asks for something: where (for its warnings) and what."""

    docname: str
    line: int
    spec: Any  # what is made: specs of one ident are made once
    about: Any = None  # what the place asks beyond the spec (a shape block's lines)


@dataclasses.dataclass(frozen=True)
class Made:
    """What became of a spec this build: its key, the value to show (None when there is
    nothing to show) and what is wrong with it."""

    key: str
    value: Any = None
    problems: tuple[Problem, ...] = ()
    # made by this build (not read from the store) and how long that took: for the log,
    # not for telling whether a page changed
    fresh: bool = dataclasses.field(default=False, compare=False)
    seconds: float = dataclasses.field(default=0.0, compare=False)

    @property
    def ok(self) -> bool:
        return not self.problems


class Producer:
    """What one kind of artifact says about itself; ``produce`` runs the rest."""

    name: ClassVar[str]  # its store (a folder of the cache) and its results on env
    subtype: ClassVar[str]  # its warnings' type (one of _core.SUBTYPES)
    thing: ClassVar[str]  # what it makes, as warnings name it: "the diagram"

    def ident(self, spec) -> Hashable:
        """What tells specs apart (the spec itself, when it is hashable)."""
        return spec

    def asked(self, env) -> list[Asked]:
        """What the pages read (now or before) ask for, in page order."""
        raise NotImplementedError

    def key(self, app, spec) -> str:
        """The store key: its own code (keys.producer_code) and every input it reads."""
        raise NotImplementedError

    def entries(self, app) -> store.Store:
        """Its store: ``<cache>/<name>`` (a producer may keep its entries in another's)."""
        return store.Store(_core.cache_root(app) / self.name, log=logger.info)

    def make_all(self, app, wanted: dict[str, Any]) -> dict[str, Made]:
        """The Made of each key of ``wanted`` (key -> the spec it is made for): each from
        the store or made now, a thread each, at most as many at once as the build has
        cores. Override it to make many in one call, or where they are being made."""
        entries = self.entries(app)

        def made_for(key: str) -> Made:
            return obtain(
                self, entries, key, lambda folder: self.make_into(app, key, wanted[key], folder)
            )

        with ThreadPoolExecutor(max(1, min(len(wanted), processes.CORES.count))) as pool:
            return dict(zip(wanted, pool.map(made_for, wanted), strict=True))

    def make_into(self, app, key: str, spec, folder: Path) -> None:
        """Make the entry of ``spec`` in the store's temp ``folder`` (under a core):
        ``make`` then ``write``. Override it when a worker writes the files itself."""
        self.written(self.make(app, spec), folder)

    def make(self, app, spec) -> Any:
        """The value, made now (under a core); a Problem when there can be none."""
        raise NotImplementedError

    def written(self, value, folder: Path) -> None:
        """``write`` a value without problems; one with problems is shown, not stored."""
        if self.problems(value):
            raise _Unkept(value)
        self.write(value, folder)

    def write(self, value, folder: Path) -> None:
        """Put ``value`` into the entry's temp folder, meta.json last (store.write_meta)."""
        raise NotImplementedError

    def read(self, entry: Path, meta: dict) -> Any:
        """The value of a stored entry; ValueError, KeyError… when it is damaged."""
        raise NotImplementedError

    def problems(self, value) -> list[Problem]:
        """What is wrong with a made value still worth showing (a partial capture): a
        value with problems is kept for this build only."""
        return []

    def notes(self, asked: Asked, value) -> list[Problem]:
        """What to say at ``asked`` about a value made without problems."""
        return []

    def warning_subtype(self, asked: Asked) -> str:
        """The type of the warnings said at ``asked`` (a producer of many directives says
        each one's)."""
        return self.subtype

    def heading(self, asked: Asked) -> str:
        """What every problem said at ``asked`` starts with."""
        return self.subtype

    def note_heading(self, asked: Asked) -> str:
        """What every note said at ``asked`` starts with."""
        return self.subtype


def produce(producer: Producer, app, env) -> list[str]:
    """Every spec the pages ask for, from the store or made now (a core each), its
    problems said at each place that asks for it; keeps each spec's Made on ``env`` and
    returns the pages whose Made changed (an env-updated handler's answer)."""
    asked = producer.asked(env)
    idents = [producer.ident(place.spec) for place in asked]
    specs: dict[Hashable, Any] = {}  # ident -> its first spec
    for ident, place in zip(idents, asked, strict=True):
        specs.setdefault(ident, place.spec)
    outcomes: dict[Hashable, Made] = {}
    keys: dict[Hashable, str] = {}
    for ident, spec in specs.items():
        try:
            keys[ident] = producer.key(app, spec)
        except Problem as problem:
            outcomes[ident] = Made("", problems=(problem,))
        except OSError as error:
            outcomes[ident] = Made("", problems=(unstored(producer, error),))
    first: dict[str, Any] = {}  # key -> the spec it is made for
    for ident, key in keys.items():
        first.setdefault(key, specs[ident])
    by_key = producer.make_all(app, first)  # even none: a pool may stop what it began
    outcomes.update({ident: by_key[key] for ident, key in keys.items()})
    for place, ident in zip(asked, idents, strict=True):
        _say(producer, place, outcomes[ident])
    kept = _kept(env)
    previous = kept.get(producer.name, {})
    kept[producer.name] = outcomes
    changed = {i for i in outcomes if previous.get(i) != outcomes[i]}
    return sorted({a.docname for a, i in zip(asked, idents, strict=True) if i in changed})


def obtain(
    producer: Producer, entries: store.Store, key: str, make_into: Callable[[Path], None]
) -> Made:
    """The Made of ``key``: read from ``entries``, or made by ``make_into(folder)`` under
    one of the build's cores, stored and read back (a value with problems is not stored)."""
    began = time.perf_counter()
    made: list[bool] = []  # whether this build made it (not another sharing the cache)

    def make_under_core(folder: Path) -> None:
        processes.CORES.acquire()  # beside the clips and notebooks, never more
        try:
            make_into(folder)
        finally:
            processes.CORES.release()
        made.append(True)

    try:
        value = entries.get_or_make(key, make_under_core, parse=producer.read)
        return Made(key, value, fresh=bool(made), seconds=_since(began) if made else 0.0)
    except _Unkept as unkept:
        return Made(key, unkept.value, tuple(producer.problems(unkept.value)))
    except Problem as problem:
        return Made(key, problems=(problem,))
    except OSError as error:
        return Made(key, problems=(unstored(producer, error),))


class _Unkept(Exception):
    """A value made with problems: get_or_make stores nothing, obtain shows it."""

    def __init__(self, value):
        super().__init__("made with problems")
        self.value = value


def _since(began: float) -> float:
    return round(time.perf_counter() - began, 2)


def unstored(producer: Producer, error: OSError) -> Problem:
    """The cache refusing an entry, as the problem said at each place asking for it."""
    said = f"{producer.thing} could not be stored in the cache: {error}"
    return Problem(said, _core.STORAGE_HINT)


def _say(producer: Producer, asked: Asked, made: Made) -> None:
    location = (asked.docname, asked.line)
    said = [(f"{producer.heading(asked)}: {p.message}", p.hint) for p in made.problems]
    notes = producer.notes(asked, made.value) if made.ok else []
    said += [(f"{producer.note_heading(asked)}: {p.message}", p.hint) for p in notes]
    for message, hint in said:
        subtype = producer.warning_subtype(asked)
        _core.warn(logger, message, location=location, subtype=subtype, hint=hint)


KEPT = "nanobook_made"  # env attribute: {producer name: {spec: Made}}


def _kept(env) -> dict[str, dict]:
    if not hasattr(env, KEPT):
        setattr(env, KEPT, {})
    return getattr(env, KEPT)


def forget(env, producer: Producer) -> None:
    """Keep nothing of ``producer`` on ``env`` (a builder that shows none of it)."""
    _kept(env)[producer.name] = {}


def made(env, producer: Producer, spec) -> Made | None:
    """What became of ``spec`` this build (None: no page asked for it)."""
    return made_of(env, producer, producer.ident(spec))


def made_of(env, producer: Producer, ident: Hashable) -> Made | None:
    """What became of the spec ``ident`` tells apart (all a page's node may hold)."""
    return getattr(env, KEPT, {}).get(producer.name, {}).get(ident)
