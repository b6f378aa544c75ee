"""Trained models for the book: each one trained once, then loaded from a cache.

    from model_src import trained
    sort = trained.get("sort")        # the first call trains (seconds), later ones load
    sort.model, sort.metrics, sort.decode(ids)

The cache entry's name carries a key: a hash of everything the result depends on,
namely the training code (model.py, train.py, prepare.py), the preset's config file,
the data, the final config and the torch version. Change any of them and the next
get() trains afresh; stale entries just sit there until the cache is deleted.

Under $NANOBOOK_CACHE_DIR (default: <repo>/.cache):
    models/<name>-<key>/       ckpt.pt, meta.pkl, log.jsonl, summary.json, data/,
                               and for sort models replay.json (see replay.py)
    models/<name>-<key>.lock   locked (flock) by whoever is training that entry

Several processes may ask at once (parallel Sphinx workers): the first trains while
holding the lock, the others wait on it and then load. Training writes into a
temporary directory that is renamed into place only when complete, so an
interrupted run never leaves a half-written entry behind.
"""

import fcntl
import hashlib
import json
import os
import pickle
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import torch

from . import prepare, presets, replay
from . import train as training
from .model import GPT

PACKAGE = Path(__file__).parent
TRAINING_SOURCES = ("model.py", "train.py", "prepare.py", "replay.py", "probe.py")


def cache_dir() -> Path:
    return Path(os.environ.get("NANOBOOK_CACHE_DIR") or PACKAGE.parent / ".cache")


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
    replay: dict | None  # sort models: snapshots taken while it learned (replay.py)

    def encode(self, text: str) -> list[int]:
        return [self.meta["stoi"][ch] for ch in text]

    def decode(self, ids) -> str:
        return "".join(self.meta["itos"][int(i)] for i in ids)


def get(name: str, **overrides) -> Trained:
    """Preset `name` trained with its config file plus `overrides` (training settings
    such as max_iters=100): from the cache if it is there, trained first if not."""
    config = training.resolve_config(presets.config_file(name), overrides)
    data = presets.dataset(name)
    entry = cache_dir() / "models" / f"{name}-{cache_key(name, config, data)}"
    if not entry.is_dir():
        entry.parent.mkdir(parents=True, exist_ok=True)
        with open(entry.with_name(entry.name + ".lock"), "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file is closed
            if not entry.is_dir():  # another process may have trained it while we waited
                _train_into(entry, config, data)
    return _load(name, entry)


def cache_key(name: str, config: dict, data: prepare.Dataset) -> str:
    digest = hashlib.sha256()
    # where files are written does not change what is learned
    settings = {k: v for k, v in config.items() if k not in ("out_dir", "data_dir")}
    parts = [(PACKAGE / source).read_bytes() for source in TRAINING_SOURCES] + [
        presets.config_file(name).read_bytes(),
        data.train.tobytes(),
        data.val.tobytes(),
        json.dumps(data.meta, sort_keys=True).encode(),
        json.dumps(settings, sort_keys=True).encode(),
        torch.__version__.encode(),
    ]
    for part in parts:
        digest.update(len(part).to_bytes(8, "little"))  # so no two part lists collide
        digest.update(part)
    return digest.hexdigest()[:16]


def _train_into(entry: Path, config: dict, data: prepare.Dataset) -> None:
    # we hold the lock, so temporary directories left for this entry are from dead runs
    for stale in entry.parent.glob(f".{entry.name}-*"):
        shutil.rmtree(stale, ignore_errors=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{entry.name}-", dir=entry.parent))
    try:
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
        tmp.chmod(0o755)  # mkdtemp makes it private to us
        os.rename(tmp, entry)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _load(name: str, entry: Path) -> Trained:
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
        replay=json.loads(replay_file.read_text()) if replay_file.exists() else None,
    )
