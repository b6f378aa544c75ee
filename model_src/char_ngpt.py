"""nGPT against GPT-2 on the char corpus: short runs in the char preset's shape.

    runs = char_ngpt.run_all()       # the first call trains (seconds each), later ones load
    runs["nGPT", 1337]["losses"]     # the training loss at every step

Both models train with train.py's fit and the char preset's settings, cut to STEPS steps
(the learning-rate schedule shortened with them): the same seeded batches, AdamW groups
and clipping. nGPT (with RoPE, as in the paper) puts its rows back on the sphere after
every step. Both are trained with COMPARED_SEEDS, paired by seed, since the chapter
compares them (experiments/verdicts.py); its table and plot show the first SEEDS. Each
run is kept by runs.py in the book's store, keyed on the code (this file and all it
imports), the data, the settings and the seed.
"""

import dataclasses
import json
import time
from pathlib import Path

import torch

from buildlib.keys import code_inputs, digest
from buildlib.processes import Task, run_longest_first

from . import presets, trained
from . import train as training
from .experiments import seeds
from .model import GPT
from .ngpt import NGPT, NGPTConfig
from .runs import Runs

PACKAGE = Path(__file__).parent
STEPS = 120  # under a tenth of the char preset's run: enough to see who gets ahead
MODELS = ("GPT-2", "nGPT")
SEEDS = seeds.seeds(2)  # the runs the table and the plot show
COMPARED_SEEDS = seeds.seeds(5)  # the runs the comparisons rest on: SEEDS and more
RUNS = [(name, seed) for name in MODELS for seed in COMPARED_SEEDS]


def settings(seed: int) -> dict:
    """The char preset's settings with this seed, STEPS steps and one evaluation at the
    end over more batches than the preset's, so the two models' losses compare closely."""
    changes = dict(seed=seed, max_iters=STEPS, lr_decay_iters=STEPS, eval_interval=STEPS)
    return training.resolve_config(presets.config_file("char"), {**changes, "eval_iters": 32})


def build(name: str) -> GPT | NGPT:
    """The model `name` stands for, in the char preset's shape."""
    config = presets.gpt_config("char")
    if name == "nGPT":
        return NGPT(NGPTConfig(**dataclasses.asdict(config)))
    return GPT(config)


def train_run(name: str, seed: int) -> tuple[GPT | NGPT, dict]:
    """fit's loop for one model and seed: the model and its record (training loss per
    step, the final evaluation, the CPU seconds the run took)."""
    cfg, data = settings(seed), presets.dataset("char")

    losses = []

    def observe(model, iter_num: int, loss: float | None) -> None:
        if isinstance(model, NGPT):
            model.normalize_weights()  # after every optimizer step: rows back on the sphere
        if loss is not None:
            losses.append(loss)

    threads_before = torch.get_num_threads()
    torch.set_num_threads(cfg["threads"])
    try:
        with torch.random.fork_rng():
            torch.manual_seed(seed)
            model = build(name)
            started = time.process_time()
            summary = training.fit(model, cfg, training.memory_batches(data, cfg), observe=observe)
            cpu_seconds = time.process_time() - started
    finally:
        torch.set_num_threads(threads_before)
    record = {
        "losses": losses,
        "train_loss": summary["train_loss"],
        "val_loss": summary["val_loss"],
        "cpu_seconds": cpu_seconds,
        "params": model.get_num_params(),
    }
    return model.eval(), record


def _entries() -> dict[tuple[str, int], str]:
    data = presets.dataset("char")
    shared = (*code_inputs(Path(__file__), search=[PACKAGE.parent]), data.train.tobytes())
    return {
        (name, seed): f"char-{name.lower()}-{seed}-"
        + digest(*shared, data.val.tobytes(), name, json.dumps(settings(seed), sort_keys=True))
        for name, seed in RUNS
    }


STORED = Runs("char-ngpt", entries=_entries, train=train_run, build=build)


def run_all(jobs: int | None = None) -> dict[tuple[str, int], dict]:
    """Every run, {(name, seed): record}; missing ones are trained first, each in its own
    process with one thread, as variants.run_all does."""
    run_longest_first(missing(), jobs)
    return {run: STORED.get(*run) for run in RUNS}


def missing() -> list[Task]:
    """The runs the cache lacks, as tasks for a process pool (the book build trains them
    before any page is read)."""
    size = trained.work(settings(SEEDS[0]))
    return [Task(STORED.make, run, size) for run in STORED.absent()]
