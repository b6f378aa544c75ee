"""What every live widget's directive shares: the node, the spec every kind extends, and
the directive that reads a kind's options into its spec. Each kind is one module of
``kinds/`` (its spec class: options and bounds, request, computation, problem check,
static fallback, page options, label and script); the directives are made from them
(kinds/__init__.py). The computations happen once after reading (widgets.py)."""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from docutils import nodes
from docutils.parsers.rst import directives
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective

from .. import _core

logger = logging.getLogger(__name__)

# The page's default input when :prompt: is not given: the attention chapter's example
# problem for sort, a speaker's name as the plays write it for char.
DEFAULT_PROMPTS = {"sort": "CBACAB", "char": "KING RICHARD:"}
# The seed of the page's generator: its 32-bit state (the page is handed the range).
MAX_SEED = 2**32 - 1
REPLAY_RUNS = ("training", "rl")  # a model's training run, or the RL chapter's (rl_runs.py)


def read_run(options: dict) -> str:
    """:run: (training-replay, live-training): one of REPLAY_RUNS, training if left out."""
    run = options.get("run", "training").strip()
    if run not in REPLAY_RUNS:
        raise _core.Problem(f":run: {run!r} is not a run", f"one of {', '.join(REPLAY_RUNS)}")
    return run


def options(*texts: str, numbers: dict | None = None) -> _core.AnyOption:
    """A widget's option_spec: :name:, :class: and ``texts`` take text, ``numbers`` a
    number within bounds; every other name is taken too, so that an unknown one is this
    widget's located error."""
    spec = dict.fromkeys(("name", "class", *texts), directives.unchanged)
    return _core.AnyOption({**spec, **(numbers or {})})


class live_widget(nodes.General, nodes.Element):
    """A live widget: attributes uid, kind, preset.

    After reading it gets its static fallback as children (see render.py)."""


@dataclass
class LiveSpec:
    """One widget, as the compute step and the writers need it (pickled with the
    environment). A kind subclasses it in its module of ``kinds/``, with its own fields
    and what the class variables and methods below say."""

    kind: ClassVar[str] = ""  # the kit's name for it (nanobook.widgets.add(kind, make))
    name: ClassVar[str] = ""  # the directive's name, and its warnings' subtype
    page_script: ClassVar[str] = ""  # static/nanobook_<kind>.js, which makes it live
    option_spec: ClassVar[_core.AnyOption] = options()
    request_fields: ClassVar[tuple[str, ...]] = ()  # what its computation depends on

    uid: str  # "<docname>#<index>"
    docname: str
    lineno: int
    preset: str
    prompt: str = ""
    error: str | None = None  # found while reading: the widget shows no model

    @property
    def location(self) -> tuple[str, int]:
        return (self.docname, self.lineno)

    @property
    def directive(self) -> str:
        """The directive and its argument, as warnings start."""
        return f"{self.name} {self.preset}"

    @property
    def producer(self) -> str:
        """The module whose code (with all it imports) keys the computation's result."""
        return importlib.import_module(type(self).__module__).__file__

    def reads(self) -> str:
        """The key of what the computation reads besides its request: the model's."""
        from . import compute

        return compute.model_key(self.preset)

    def request(self) -> dict:
        """The options the computation depends on (part of its cache key)."""
        return {"kind": self.kind, **{name: getattr(self, name) for name in self.request_fields}}

    @property
    def script(self) -> str:
        """The exported script the widget loads first (its model's, by default)."""
        return self.preset

    @property
    def scripts(self) -> list[str]:
        """Every exported script the widget loads."""
        return [self.script]

    def page_scripts(self) -> tuple[str, ...]:
        """The static scripts the page needs for this widget, after the kit."""
        return (self.page_script,)

    @property
    def label(self) -> str:
        """The widget's accessible name."""
        return f"Live {self.kind} of the {self.preset} model"

    # --- while reading ---------------------------------------------------------------

    def read(self, options: dict) -> None:
        """Take the kind's options (checked against its option_spec already); raise a
        _core.Problem for one that cannot be used."""

    def models(self, presets: tuple[str, ...], options: dict) -> tuple[str, ...] | None:
        """The names the directive's argument may take; None: checked after reading."""
        return presets

    # --- after reading (torch is imported only here) ----------------------------------

    def problem(self) -> _core.Problem | None:
        """Why the spec cannot be shown, found on every build before its key: what tells
        it without loading a model. None when nothing is wrong."""
        return None

    def input_problem(self) -> _core.Problem | None:
        """Why the spec's model cannot read its input, found when its result is made (a
        stored result was checked when it was made). None when it can."""
        return None

    def compute(self) -> dict:
        """The computation on the page's default input (cached by its request)."""
        raise NotImplementedError

    def shown(self, result: dict) -> dict:
        """The result as the writers use it: what is never cached joins here."""
        return result

    def fallback(self, result: dict) -> list[nodes.Node]:
        """The static rendering of ``result``."""
        raise NotImplementedError

    def page_options(self, page, result: dict) -> dict:
        """The widget's settings in the page (data-live): what its script reads.
        ``page.exported(script)`` is an exported script's URL from the page."""
        return {"kind": self.kind, "prompt": self.prompt}

    @staticmethod
    def export(name: str, cache: Path) -> Path | None:
        """The exported script ``name`` if this kind makes it (a record, not a model)."""
        return None


def export_by_suffix(name: str, cache: Path, makers: dict) -> Path | None:
    """A kind's ``export``: the maker of the first suffix ``name`` ends with (the suffix
    first that another ends with: "-rl-replay" before "-replay") makes it for the
    preset the name starts with; None when no suffix fits."""
    for suffix, make in makers.items():
        if name.endswith(suffix):
            return make(name.removesuffix(suffix), cache)
    return None


def prompt_problem(spec: LiveSpec) -> _core.Problem | None:
    """Why the model cannot read the spec's prompt (compute.check_prompt); None if it can."""
    from . import compute

    rule = compute.prompt_rule(compute.trained_model(spec.preset))
    problem = compute.check_prompt(rule, spec.prompt)
    if problem:
        return _core.Problem(
            f"the :prompt: {spec.prompt!r} cannot be read: {problem}",
            "use only characters of the model's vocabulary, at most block_size of them",
        )
    return None


class LiveDirective(_core.OneArgument, SphinxDirective):
    """A kind's directive (kinds/__init__.py makes one per kind): the argument names the
    model; the options fill the kind's spec."""

    argument_example = "sort"
    spec_class: type[LiveSpec] = LiveSpec

    def run(self) -> list[nodes.Node]:
        kind, preset = self.spec_class.kind, self.argument
        specs = self.env.live_model_specs.setdefault(self.env.docname, [])
        spec = self.spec_class(
            uid=f"{self.env.docname}#{len(specs)}",
            docname=self.env.docname,
            lineno=self.lineno,
            preset=preset,
            prompt=self.options.get("prompt", DEFAULT_PROMPTS.get(preset, "")),
        )
        node = live_widget(
            uid=spec.uid,
            kind=kind,
            preset=preset,
            classes=["nb-live", f"nb-live-{kind}", *self.options.get("class", "").split()],
        )
        self.set_source_info(node)
        if not ("name" in self.options and _core.add_name(self, node, logger, self.name)):
            node["ids"].append(f"live-{kind}-{preset}-{len(specs)}")
        try:
            self._check(spec)
        except _core.Problem as problem:
            spec.error = str(problem)
            _core.warn(
                logger,
                f"{spec.directive}: {problem}",
                location=spec.location,
                subtype=spec.name,
                hint=problem.hint,
            )
        specs.append(spec)
        return [node]

    def _check(self, spec: LiveSpec) -> None:
        if problem := self.argument_problem():
            raise problem
        problems = _core.option_problems(self)
        if problems:  # the first: the widget is not shown whatever the others say
            raise problems[0][1]
        presets = _core.presets_module(self.config.nanobook_presets).PRESETS
        names = spec.models(tuple(presets), self.options)
        if names is not None and spec.preset not in names:
            raise _core.Problem(
                f"unknown preset {spec.preset!r}",
                f"name one of the trained models: {', '.join(names)}",
            )
        if "prompt" in self.option_spec and not spec.prompt:
            raise _core.Problem(":prompt: is empty", "give the input the page starts with")
        spec.read(self.options)
