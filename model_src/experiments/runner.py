"""The book's experiments and their one runner: an experiment declares its runs, the
runner trains each (name, seed) once, keeps it in the book's store and reads it back.

    EXPERIMENT = Experiment(folder="variants", code=Path(__file__), runs=SPECS, ...)
    get, run_all, missing = EXPERIMENT.get, EXPERIMENT.run_all, EXPERIMENT.missing
    run_all()["RoPE", 1337]["model"]     # the first call trains (seconds each), later ones load

The training chapter's short runs (training_runs.py) and the experiments of chapters 11
to 15 (variants.py, char_ngpt.py, finetune_runs.py, arithmetic_runs.py and rl_runs.py)
are declared this way, beside this file. A run's entry is keyed on the experiment's code
(its module and all it imports, the model and its training included), on what else its
runs read (`inputs`: data, a start model's key), on the run's training settings and on
its description: change any of them and the run trains afresh. Its seeds come from
seeds.py, so NANOBOOK_SEED moves every one of them, and each run is trained inside
seeds.seeded (its seed, one thread, the caller's state untouched), whether or not the
experiment's own train function seeds it as well.
"""

import json
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import torch

from buildlib.keys import digest, producer_code
from buildlib.processes import Task, run_longest_first
from buildlib.store import Store, default_cache, write_meta

from .. import presets, trained
from ..train import resolve_config
from . import seeds

Run = tuple[str, int]  # (name, seed)


def slug(name: str) -> str:
    """A run's name as a file name: "GPT-2, lr 0.1" -> "gpt-2-lr-0.1", "ReLU²" -> "relu2",
    "LoRA r=8" -> "lora-r8", "#, unmasked" -> "hash-unmasked"."""
    words = name.lower().replace("²", "2").replace("#", "hash").replace("=", "")
    return "-".join(words.replace(",", " ").split())


def rows(preset: str) -> tuple[bytes, bytes]:
    """What runs on a preset's data read beside their code: its training and held-out
    rows (an experiment's `inputs`, as functools.partial(rows, "sort"))."""
    data = presets.dataset(preset)
    return data.train.tobytes(), data.val.tobytes()


def sort_settings(overrides: Mapping) -> dict:
    """The sort preset's training settings with `overrides`, for an experiment's run: in
    float32 arithmetic unless the overrides say otherwise. The preset's float64
    (train.arithmetic) makes the book's one sort run (almost always) the same on every
    machine and in the page; an experiment's claims rest on its seeds instead, and float32 trains
    them faster."""
    return resolve_config(presets.config_file("sort"), {"dtype": "float32", **overrides})


def one_by_one(runs: list[Run]) -> list[list[Run]]:
    """Every run a pool task of its own."""
    return [[run] for run in runs]


def seed_by_seed(runs: list[Run]) -> list[list[Run]]:
    """One pool task a seed, its runs in declared order: for runs that start from another
    run's model of the same seed."""
    seeds = dict.fromkeys(seed for _, seed in runs)
    return [[run for run in runs if run[1] == seed] for seed in seeds]


@dataclass(frozen=True)
class Experiment:
    """An experiment's declaration: its runs and how to train one. Every field is a value
    or a module-level function, so that the build's spawned processes can take its tasks."""

    folder: str  # the store's folder for its runs
    code: Path  # the module that declares it: its code and all it imports key every run
    # every run's name, with its description (JSON): what the run is, in its key
    runs: Mapping[str, object]
    # every run's seeds (seeds.seeds), or a function of the name for runs that differ
    seeds: tuple[int, ...] | Callable[[str], tuple[int, ...]]
    settings: Callable[[str, int], dict]  # the training settings of (name, seed), keyed
    # one run: (the trained model, or None if it keeps none, and its JSON record)
    train: Callable[[str, int], tuple[torch.nn.Module | None, dict]]
    size: Callable[[str, int], int]  # a run's work, to train the longest first
    inputs: Callable[[], tuple] = tuple  # what else every run reads: data, a start model
    # an untrained model of run `name` to load the weights into (None: records only)
    build: Callable[[str], torch.nn.Module] | None = None
    prefix: str = ""  # before every entry's name, if the run names alone are too bare
    # the runs the cache lacks -> the lists the pool trains in one process each, in order
    # (a trainer of several seeds at once would take one run's seeds as one list)
    tasks: Callable[[list[Run]], list[list[Run]]] = one_by_one

    def every_run(self) -> list[Run]:
        """(name, seed) of every run, name by name."""
        return [(name, seed) for name in self.runs for seed in self.seeds_of(name)]

    def seeds_of(self, name: str) -> tuple[int, ...]:
        """The seeds run `name` is trained with."""
        return self.seeds if isinstance(self.seeds, tuple) else self.seeds(name)

    def entries(self) -> dict[Run, str]:
        """Every run's entry name, with its key; the shared inputs are digested once."""
        shared = (*producer_code(self.code), *self.inputs())
        return {
            (name, seed): f"{self.prefix}{slug(name)}-{seed}-"
            + digest(
                *shared,
                json.dumps(self.settings(name, seed), sort_keys=True),
                json.dumps(self.runs[name], sort_keys=True),
            )
            for name, seed in self.every_run()
        }

    def get(self, name: str, seed: int | None = None) -> dict:
        """Run `name`'s record with `seed` (default: its first), trained first if not
        cached; "model" holds its trained model, if the experiment keeps one."""
        _, path = self._made(name, seed)
        record = json.loads((path / "record.json").read_text())
        if self.build is None:
            return record
        model = self.build(name)
        model.load_state_dict(torch.load(path / "model.pt", map_location="cpu"))
        return {**record, "model": model.eval()}

    def weights(self, name: str, seed: int | None = None) -> str:
        """The digest of the run's weights, as its entry recorded it: what readers of the
        model key on, read without loading it (trained first if not cached)."""
        meta, _ = self._made(name, seed)
        return meta["weights"]

    def run_all(self, jobs: int | None = None) -> dict[Run, dict]:
        """Every run, {(name, seed): record}: the missing ones trained first, `jobs` at a
        time, each task in its own process with the run's one thread, so the results are
        the same as when trained one by one."""
        run_longest_first(self.missing(), jobs)
        return {run: self.get(*run) for run in self.every_run()}

    def missing(self) -> list[Task]:
        """The runs the cache lacks, as tasks for a process pool (a book build trains them
        before any page is read), each sized by the work of its runs."""
        return [
            Task(self.make, (tuple(runs),), sum(self.size(*run) for run in runs))
            for runs in self.tasks(self.absent())
        ]

    def absent(self) -> list[Run]:
        """The runs the cache lacks."""
        store = self.store()
        return [run for run, entry in self.entries().items() if store.get(entry) is None]

    def make(self, runs: tuple[Run, ...]) -> None:
        """Train each of `runs` the cache lacks, in order (a pool's task: it sends nothing
        back)."""
        for name, seed in runs:
            self._made(name, seed)

    def store(self) -> Store:
        """The store's folder of this experiment's runs."""
        return Store(default_cache() / self.folder)

    def _made(self, name: str, seed: int | None) -> tuple[dict, Path]:
        """The run's entry metadata and folder, trained first if the cache lacks it."""
        seed = self.seeds_of(name)[0] if seed is None else seed
        store, entry = self.store(), self.entries()[name, seed]
        meta = store.get_or_make(entry, lambda tmp: self._train_into(tmp, name, seed, entry))
        return meta, store.path(entry)

    def _train_into(self, tmp: Path, name: str, seed: int, entry: str) -> None:
        print(f"training {entry} (cached for next time)", file=sys.stderr)
        with seeds.seeded(seed, threads=1):  # what an experiment's train leaves unseeded
            model, record = self.train(name, seed)
        (tmp / "record.json").write_text(json.dumps(record))
        files, meta = {"record": "record.json"}, {}
        if model is not None:
            torch.save(model.state_dict(), tmp / "model.pt")
            files["weights"] = "model.pt"
            meta["weights"] = trained.weights_digest(model.state_dict())
        write_meta(tmp, {"files": files, **meta})
