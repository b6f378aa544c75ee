"""Trained models for the book: each one trained once, then loaded from a cache.

    from model_src import trained
    sort = trained.get("sort")        # the first call trains (seconds), later ones load
    sort.model, sort.metrics, sort.decode(ids), sort.weights

The cache entry's name carries a key: a digest of everything the result depends on,
namely the training code (train.py and all it imports, keyed on code, not comments),
the code of this file, of replay.py and of buildlib/store.py, the data, the final config
and the versions of torch, numpy and Python. Change any of them and the next get() trains
afresh; entries no build has used for a while are removed by `nox -s prune`. Whoever
reads a trained model keys on its `weights` digest instead, so a retrain that reproduces
the same weights redoes nothing downstream.

Under $NANOBOOK_CACHE_DIR (default: <repo>/.cache), one entry of buildlib/store.py's store:
    models/<name>-<key>/       ckpt.pt, meta.pkl, log.jsonl, summary.json, data/, meta.json,
                               and for sort models replay.json (see replay.py)

Several processes may ask at once (parallel Sphinx workers, the build's pool): the first
trains while holding the entry's lock, the others wait on it and then load. Training
writes into a temporary directory renamed into place only when complete, so an
interrupted run never leaves a half-written entry behind.
"""

import hashlib
import json
import pickle
import sys
from dataclasses import dataclass
from pathlib import Path

import torch

import buildlib.store
from buildlib.keys import code_digest, digest, producer_code
from buildlib.processes import Task
from buildlib.store import Store, default_cache, write_meta

from . import prepare, presets, replay
from . import train as training
from .experiments import seeds
from .model import GPT


@dataclass
class Trained:
    name: str
    model: GPT  # in eval mode, on the CPU
    config: dict  # every training setting, as used
    meta: dict  # the tokenizer: vocab_size, itos, stoi (and the task's details)
    out_dir: Path  # the cache entry
    metrics: list[dict]  # log.jsonl, one dict per logged step
    train_seconds: float
    tokens_per_second: float
    best_val_loss: float
    weights: str  # digest of the weights: what readers of the model key on
    replay: dict | None  # sort models: snapshots taken while it learned (replay.py)

    def encode(self, text: str) -> list[int]:
        return [self.meta["stoi"][ch] for ch in text]

    def decode(self, ids) -> str:
        return "".join(self.meta["itos"][int(i)] for i in ids)


def get(name: str, **overrides) -> Trained:
    """Preset `name` trained with its config file plus `overrides` (training settings
    such as max_iters=100): from the cache if it is there, trained first if not."""
    stored, entry = _made(name, overrides)
    return _load(name, entry, stored)


def models() -> Store:
    """Where trained models are kept: the cache's models/ folder."""
    return Store(default_cache() / "models")


def weights(name: str, **overrides) -> str:
    """get(name, **overrides).weights without loading the model: what keys need."""
    stored, _ = _made(name, overrides)
    return stored["weights"]


def stored_weights(name: str, **overrides) -> str | None:
    """weights(name, **overrides) if the cache holds it, else None (nothing is trained)."""
    stored = models().get(entry(name, overrides))
    return stored["weights"] if stored else None


def _made(name: str, overrides: dict) -> tuple[dict, Path]:
    """The entry's metadata and folder, trained first if the cache lacks it."""
    config = settings(name, overrides)
    data = presets.dataset(name)
    key = entry(name, overrides)
    store = models()
    meta = store.get_or_make(key, lambda tmp: _train_into(tmp, store.path(key), config, data))
    return meta, store.path(key)


def missing(requests: list[tuple[str, dict]]) -> list[Task]:
    """The trainings among `requests` that the cache lacks, as tasks for a process pool."""
    absent = [(n, o) for n, o in requests if not models().path(entry(n, o)).is_dir()]
    return [Task(_train_only, (name, over), _work(name, over)) for name, over in absent]


def _work(name: str, overrides: dict) -> int:
    return work(settings(name, overrides))


def work(config: dict) -> int:
    """A training's size, to order them: block weights (12·L·C²) times tokens seen."""
    tokens = config["max_iters"] * config["batch_size"] * config["block_size"]
    return 12 * config["n_layer"] * config["n_embd"] ** 2 * tokens


def _train_only(name: str, overrides: dict) -> None:
    get(name, **overrides)


def entry(name: str, overrides: dict) -> str:
    """The store entry of (name, overrides): its key, from its settings and data."""
    return f"{name}-{cache_key(settings(name, overrides), presets.dataset(name))}"


def settings(name: str, overrides: dict) -> dict:
    """Preset `name`'s training settings with `overrides`, its seed moved by NANOBOOK_SEED."""
    config = training.resolve_config(presets.config_file(name), overrides)
    return {**config, "seed": seeds.seed(config["seed"])}


def cache_key(config: dict, data: prepare.Dataset) -> str:
    # where files are written does not change what is learned
    settings = {k: v for k, v in config.items() if k not in ("out_dir", "data_dir")}
    return digest(
        code_digest(Path(__file__)),  # this file lays out the entry
        code_digest(Path(buildlib.store.__file__)),  # and the store records and checks it
        *producer_code(training.__file__),
        *producer_code(replay.__file__),
        data.train.tobytes(),
        data.val.tobytes(),
        json.dumps(data.meta, sort_keys=True),
        json.dumps(settings, sort_keys=True),
    )


def weights_digest(state_dict: dict) -> str:
    """Digest of a state dict's names, dtypes, shapes and values."""
    hasher = hashlib.sha256()
    for name in sorted(state_dict):
        tensor = state_dict[name].detach().cpu().contiguous()
        hasher.update(f"{name}:{tensor.dtype}:{tuple(tensor.shape)}\n".encode())
        hasher.update(tensor.numpy().tobytes())
    return hasher.hexdigest()[:16]


def _train_into(tmp: Path, entry: Path, config: dict, data: prepare.Dataset) -> None:
    print(f"training {entry.name} (cached for next time)", file=sys.stderr)
    prepare.write(data, tmp / "data")
    # the sort task is small enough to watch learn: keep snapshots along the way
    recorder = replay.Recorder(config) if data.meta["task"] == "sort" else None
    summary = training.train(
        {**config, "out_dir": str(tmp), "data_dir": str(tmp / "data")}, observe=recorder
    )
    if recorder:
        (tmp / "replay.json").write_text(json.dumps(recorder.record(), separators=(",", ":")))
    summary["config"] = {**config, "out_dir": str(entry), "data_dir": str(entry / "data")}
    (tmp / "summary.json").write_text(json.dumps(summary, indent=2))
    weights = weights_digest(torch.load(tmp / "ckpt.pt", map_location="cpu")["model"])
    files = {"checkpoint": "ckpt.pt", "tokenizer": "meta.pkl", "log": "log.jsonl"}
    if recorder:
        files["replay"] = "replay.json"
    write_meta(tmp, {"files": {**files, "summary": "summary.json"}, "weights": weights})


def _load(name: str, entry: Path, stored: dict) -> Trained:
    """The entry as a Trained; `stored` is its meta.json (the weights digest)."""
    model = GPT.from_checkpoint(torch.load(entry / "ckpt.pt", map_location="cpu"))
    summary = json.loads((entry / "summary.json").read_text())
    with open(entry / "meta.pkl", "rb") as f:
        meta = pickle.load(f)
    lines = (entry / "log.jsonl").read_text().splitlines()
    replay_file = entry / "replay.json"
    return Trained(
        name=name,
        model=model.eval(),
        config=summary["config"],
        meta=meta,
        out_dir=entry,
        metrics=[json.loads(line) for line in lines],
        train_seconds=summary["train_seconds"],
        tokens_per_second=summary["tokens_per_second"],
        best_val_loss=summary["best_val_loss"],
        weights=stored["weights"],
        replay=json.loads(replay_file.read_text()) if replay_file.exists() else None,
    )
