"""Named training runs kept in the book's store: each (name, seed) is trained once, then
read back as its record (and model). The experiments of chapters 11 to 15 (variants.py,
char_ngpt.py, finetune.py, arithmetic.py, rl_runs.py) each describe theirs with a `Runs`.

    RUNS = Runs("variants", entries=_entries, train=train_run, build=build)
    RUNS.get("RoPE", 1337)["model"]
"""

import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from buildlib.store import Store, write_meta

from . import trained

Run = tuple[str, int]  # (name, seed)


@dataclass(frozen=True)
class Runs:
    folder: str  # the store's folder for these runs
    # every run's entry name, with its key (what the run depends on: code, data, settings)
    entries: Callable[[], dict[Run, str]]
    # a run: (the trained model, or None if it keeps none, and its JSON record)
    train: Callable[[str, int], tuple[torch.nn.Module | None, dict]]
    # an untrained model of run `name` to load the weights into (None: records only)
    build: Callable[[str], torch.nn.Module] | None = None

    def store(self) -> Store:
        return Store(trained.cache_dir() / self.folder)

    def get(self, name: str, seed: int) -> dict:
        """The run's record, trained first if not cached; "model" holds its model."""
        _, path = self._made(name, seed)
        record = json.loads((path / "record.json").read_text())
        if self.build is None:
            return record
        model = self.build(name)
        model.load_state_dict(torch.load(path / "model.pt", map_location="cpu"))
        return {**record, "model": model.eval()}

    def weights(self, name: str, seed: int) -> str:
        """The digest of the run's weights, as its entry recorded it: what readers of the
        model key on, read without loading it (trained first if not cached)."""
        meta, _ = self._made(name, seed)
        return meta["weights"]

    def _made(self, name: str, seed: int) -> tuple[dict, Path]:
        """The run's entry metadata and folder, trained first if the cache lacks it."""
        store, entry = self.store(), self.entries()[name, seed]
        meta = store.get_or_make(entry, lambda tmp: self._train_into(tmp, name, seed, entry))
        return meta, store.path(entry)

    def make(self, name: str, seed: int) -> None:
        """Train the run if missing (a process pool's task: it sends nothing back)."""
        self._made(name, seed)

    def absent(self) -> list[Run]:
        """The runs the cache lacks."""
        store = self.store()
        return [run for run, entry in self.entries().items() if store.get(entry) is None]

    def _train_into(self, tmp: Path, name: str, seed: int, entry: str) -> None:
        print(f"training {entry} (cached for next time)", file=sys.stderr)
        model, record = self.train(name, seed)
        (tmp / "record.json").write_text(json.dumps(record))
        files, meta = {"record": "record.json"}, {}
        if model is not None:
            torch.save(model.state_dict(), tmp / "model.pt")
            files["weights"] = "model.pt"
            meta["weights"] = trained.weights_digest(model.state_dict())
        write_meta(tmp, {"files": files, **meta})
