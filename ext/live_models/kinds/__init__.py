"""The live widget kinds, one module each: a module here holds its kind's spec class
(directive.LiveSpec: options and bounds, request, computation, problem check, static
fallback, page options, label and script) as ``SPEC``; its browser side is
``static/<SPEC.page_script>``, which hands the kit ``nanobook.widgets.add(kind, make)``.
Adding a kind is adding a module here and its script: the directive, the compute step,
the writers and the page's scripts all read this registry. Nothing here imports torch
until a widget is computed."""

from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path

from ..directive import LiveDirective, LiveSpec

KINDS: dict[str, type[LiveSpec]] = {}  # kind -> its spec class
for _found in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
    _spec = importlib.import_module(f"{__name__}.{_found.name}").SPEC
    KINDS[_spec.kind] = _spec


def directive(spec_class: type[LiveSpec]) -> type[LiveDirective]:
    """The directive of a kind: its options are its spec's."""
    name = f"{spec_class.__name__}Directive"
    return type(
        name, (LiveDirective,), {"spec_class": spec_class, "option_spec": spec_class.option_spec}
    )


def export(name: str, cache: Path) -> Path:
    """The exported script ``name``: a record a kind makes (a replay, a run to train
    again), or else a model (compute.artifact)."""
    for spec_class in KINDS.values():
        made = spec_class.export(name, cache)
        if made is not None:
            return made
    from .. import compute

    return compute.artifact(name, cache)
