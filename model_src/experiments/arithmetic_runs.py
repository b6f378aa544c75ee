"""The Tools chapter's runs: arithmetic.py's addition models, trained with and without
the calculator, each once, then read from the book's store.

    from model_src.experiments import arithmetic_runs
    runs = arithmetic_runs.run_all()   # the first call trains (seconds each), later ones load
    runs["calculator", 1337]["model"], runs["calculator", 1337]["eval"]["tool on"]

Each run is kept by runner.py in the book's store, keyed on the code (this file,
arithmetic.py, engine.py and all they import), the settings and the seed.
"""

import dataclasses
import time
from pathlib import Path

from .. import train as training
from .. import trained
from ..arithmetic import batches, evaluate, gpt_config
from ..model import GPT
from . import seeds
from .runner import Experiment

RUNS = {"calculator": True, "no tool": False}  # name -> trained with the tool?
# eight (verdicts.py): tool on against off is a gap of nearly every sum, far beyond what a
# seed moves, but the units digit without the tool is compared with a guess, and that
# difference may lie within the noise
SEEDS = seeds.seeds(8)
# the sort preset's optimiser settings, for as many steps as the tools chapter gives the
# model to learn the call (the chapter counts the seeds in which it has, at the end)
SETTINGS = dict(
    dataset="addition",  # only a label in fit's log lines
    batch_size=32,
    max_iters=300,
    learning_rate=1e-2,
    min_lr=1e-3,
    warmup_iters=50,
    lr_decay_iters=300,
    beta2=0.99,
    eval_interval=100,
    eval_iters=4,
    log_interval=1,
)


def settings(name: str, seed: int) -> dict:
    """The same settings for both runs, with `seed` and one thread."""
    return training.resolve_config(None, {**SETTINGS, "seed": seed, "threads": 1})


def train_run(name: str, seed: int) -> tuple[GPT, dict]:
    """train.py's loop on addition rows, with or without the calculator call."""
    cfg = settings(name, seed)
    with seeds.seeded(cfg["seed"], cfg["threads"]):
        model = GPT(gpt_config())
        summary = training.fit(model, cfg, batches(RUNS[name], cfg["batch_size"]))
    return model.eval(), summary


def train_and_evaluate(name: str, seed: int) -> tuple[GPT, dict]:
    """Run `name` with `seed`: the model and its record ("summary" of fit, "eval": the
    held-out completions per mode, the CPU seconds of training)."""
    started = time.process_time()
    model, summary = train_run(name, seed)
    record = {"summary": summary, "cpu_seconds": time.process_time() - started}
    modes = {"tool on": True, "tool off": False} if RUNS[name] else {"tool off": False}
    record["eval"] = {mode: evaluate(model, tool) for mode, tool in modes.items()}
    return model, record


def work(name: str, seed: int) -> int:
    return trained.work({**settings(name, seed), **dataclasses.asdict(gpt_config())})


def build(name: str) -> GPT:
    return GPT(gpt_config())


def shown_seed(name: str) -> int:
    """The seed of run `name` that the chapter's quiz and live widgets load: its first."""
    return EXPERIMENT.seeds_of(name)[0]


EXPERIMENT = Experiment(
    folder="arithmetic",
    code=Path(__file__),
    runs=RUNS,
    seeds=SEEDS,
    settings=settings,
    train=train_and_evaluate,
    size=work,
    build=build,
    prefix="addition-",
)
get, run_all, missing = EXPERIMENT.get, EXPERIMENT.run_all, EXPERIMENT.missing
