"""The book's trained runs, made through the one lifecycle of ext/producers.py.

They are made before any page is read, not after: the pages' cells load them as they
execute, and the clips as they render. A page asks for a training by what its cells
import, directly or through what that imports: a cell importing
``model_src.experiments.variants`` asks for chapter 11's variants. A training's key is
its runs' store entries (their code, settings, data and seeds); what the store lacks is
trained in a pool of processes, the most work first, one training process a core, each
run keeping its own entry in ``<cache>/models`` or its experiment's folder.

A training that fails (its code raised, its process died) is a warning at the first
cell of each page that asks for it, with where in the project's code it was raised;
those pages' cells then fail where they load the run, and every other page is built.
"""

from __future__ import annotations

import dataclasses
import re
import time
import traceback
from collections.abc import Callable
from pathlib import Path

from buildlib import keys, processes

from . import _core, myst_pages, producers
from ._core import Problem


@dataclasses.dataclass(frozen=True)
class Training:
    """One training the book needs: the runs of a preset or an experiment."""

    title: str  # what warnings and the bench call it, with the chapters that read it
    module: str  # a page asks for it by importing this module
    entries: Callable[[], list[str]]  # its runs' store entries: what keys it
    missing: Callable[[], list[processes.Task]]  # the runs the store lacks, as tasks


def _presets():
    from model_src import trained

    return trained, [("sort", {}), ("char", {})]


def _sweep():
    from model_src import sweep, trained

    return trained, sweep.requests()


def _experiment(name: str):
    import importlib

    return importlib.import_module(f"model_src.experiments.{name}").EXPERIMENT


def _rl():
    from model_src import trained
    from model_src.experiments import rl_runs

    return trained, rl_runs.requests(), rl_runs.EXPERIMENT


def preset_requests() -> list[tuple[str, dict]]:
    """Every (preset, overrides) trained through model_src.trained: the presets, the sweep
    and the RL start model (what the inputs digest reads the weights of)."""
    return [*_presets()[1], *_sweep()[1], *_rl()[1]]


def _of_requests(title: str, module: str, requests: Callable) -> Training:
    """A training of presets with overrides (model_src.trained's requests)."""

    def entries() -> list[str]:
        trained, asked = requests()
        return [trained.entry(name, overrides) for name, overrides in asked]

    def missing() -> list[processes.Task]:
        trained, asked = requests()
        return trained.missing(asked)

    return Training(title, module, entries, missing)


def _of_experiment(title: str, name: str) -> Training:
    """A training of an experiment's runs (model_src/experiments/runner.py)."""
    return Training(
        title,
        f"model_src.experiments.{name}",
        lambda: list(_experiment(name).entries().values()),
        lambda: _experiment(name).missing(),
    )


def _rl_entries() -> list[str]:
    trained, requests, experiment = _rl()
    return [*(trained.entry(*request) for request in requests), *experiment.entries().values()]


def _rl_missing() -> list[processes.Task]:
    """The start model's training and the RL runs: a run whose start model is not yet
    trained trains it; the others wait for it in the store."""
    trained, requests, experiment = _rl()
    return [*trained.missing(requests), *experiment.missing()]


# Every training the book needs, in the order the bench times them (later ones reuse
# what earlier ones trained, as in the build).
TRAININGS = (
    _of_requests("presets (sort, char)", "model_src.trained", _presets),
    _of_requests("scaling sweep (scale)", "model_src.sweep", _sweep),
    _of_experiment("short runs of the loop (training)", "training_runs"),
    _of_experiment("After GPT-2 variants (modern, nGPT)", "variants"),
    _of_experiment("char nGPT runs (nGPT)", "char_ngpt"),
    _of_experiment("fine-tuning runs (finetuning)", "finetune_runs"),
    _of_experiment("addition models (tools)", "arithmetic_runs"),
    Training(
        "RL runs and their start models (rl)",
        "model_src.experiments.rl_runs",
        _rl_entries,
        _rl_missing,
    ),
)


class TrainedRuns(producers.Producer):
    """The trainings the pages' cells ask for. ``pages``: {docname: the page as read};
    ``search``: where the cells' imports are found, the project's root first (ext/book.py's
    cell_search)."""

    name = "trained-runs"
    subtype = "training"
    thing = "the training"

    def __init__(self, pages: dict[str, myst_pages.Page], search: list[Path]):
        self.pages, self.search = pages, search
        self.root = search[0]  # where a failed training's frames are named from
        self.trained = 0  # training tasks run by this build

    def ident(self, spec: Training) -> str:
        return spec.title

    def asked(self, env) -> list[producers.Asked]:
        """Each training at the first cell of each page importing its module."""
        files = {_module_file(t.module, self.search): t for t in TRAININGS}
        asked = []
        for docname, page in sorted(self.pages.items()):
            first: dict[str, producers.Asked] = {}
            for cell in page.cells:
                for path in keys.import_files(None, self.search, source=cell.python)[0]:
                    training = files.get(path)
                    if training and training.title not in first:
                        first[training.title] = producers.Asked(docname, cell.line, training)
            asked += first.values()
        return asked

    def key(self, app, spec: Training) -> str:
        try:
            return keys.digest(spec.title, *spec.entries())
        except _core.MODEL_CODE_ERRORS as error:
            raise _failed(spec, error, self.root) from error

    def make_all(self, app, wanted: dict[str, Training]) -> dict[str, producers.Made]:
        """Every wanted training's missing runs in one pool, the most work first."""
        began = time.perf_counter()
        tasks: dict[str, list[processes.Task]] = {}
        made: dict[str, producers.Made] = {}
        for key, training in wanted.items():
            try:
                tasks[key] = training.missing()
            except _core.MODEL_CODE_ERRORS as error:
                failed = _failed(training, error, self.root)
                made[key] = producers.Made(key, problems=(failed,))
        flat = [(key, task) for key, some in tasks.items() for task in some]
        failures = processes.run_longest_first([t for _, t in flat], keep_going=True)
        self.trained = len(flat)
        seconds = round(time.perf_counter() - began, 2)
        for key in tasks:
            errors = [e for (k, _), e in zip(flat, failures, strict=True) if k == key and e]
            # the first failure says what to fix; the others are often the same one
            problems = tuple(_failed(wanted[key], error, self.root) for error in errors[:1])
            fresh = bool(tasks[key])
            made[key] = producers.Made(key, problems=problems, fresh=fresh, seconds=seconds)
        return made

    def heading(self, asked: producers.Asked) -> str:
        return f"{self.subtype}: {asked.spec.title}, which this page's cells read"


def _module_file(module: str, search: list[Path]) -> Path | None:
    """The file of a dotted module name, found from ``search`` without importing it."""
    for folder in search:
        base = Path(folder).resolve().joinpath(*module.split("."))
        for path in (base.with_suffix(".py"), base / "__init__.py"):
            if path.is_file():
                return path
    return None


def _failed(training: Training, error: BaseException, root: Path) -> Problem:
    return Problem(
        f"the training failed: {type(error).__name__}: {error}{_where(error, root)}",
        hint="the page's cells load these runs and fail without them; fix the training "
        "code (every other page is built)",
    )


def _where(error: BaseException, root: Path) -> str:
    """`` (at model_src/train.py:123)``: the innermost frame of the project's own code,
    from the traceback of a pool's process (its cause) or of this one."""
    cause = error.__cause__
    text = str(cause) if cause else "".join(traceback.format_tb(error.__traceback__))
    inside = f"{Path(root).resolve()}/"
    frames = [
        (path.removeprefix(inside), line)
        for path, line in re.findall(r'File "([^"]+)", line (\d+)', text)
        if path.startswith(inside) and "/buildlib/" not in path
    ]
    return f" (at {frames[-1][0]}:{frames[-1][1]})" if frames else ""
