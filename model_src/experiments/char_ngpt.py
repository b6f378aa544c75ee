"""nGPT against GPT-2 on the char corpus: short runs in the char preset's shape.

    from model_src.experiments import char_ngpt
    runs = char_ngpt.run_all()       # the first call trains (seconds each), later ones load
    runs["nGPT", 1337]["losses"]     # the training loss at every step

Both models train with train.py's fit and the char preset's settings, cut to STEPS steps
(the learning-rate schedule shortened with them): the same seeded batches, AdamW groups
and clipping. nGPT (with RoPE, as in the paper) puts its rows back on the sphere after
every step. Both are trained with COMPARED_SEEDS, paired by seed, since the chapter
compares them (verdicts.py); its table and plot show the first SEEDS. Each run is kept
by runner.py in the book's store, keyed on the code (this file and all it imports), the
data, the settings and the seed.
"""

import dataclasses
import time
from functools import partial
from pathlib import Path

from .. import presets, trained
from .. import train as training
from ..model import GPT
from ..ngpt import NGPT, NGPTConfig
from . import seeds
from .runner import Experiment, rows

STEPS = 120  # under a tenth of the char preset's run: enough to see who gets ahead
MODELS = ("GPT-2", "nGPT")
SEEDS = seeds.seeds(2)  # the runs the table and the plot show
# the runs the comparisons rest on, SEEDS and more: eight, for one of them (the steps to
# the lower loss target) may lie within the noise
COMPARED_SEEDS = seeds.seeds(8)


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

    with seeds.seeded(seed, cfg["threads"]):
        model = build(name)
        started = time.process_time()
        summary = training.fit(model, cfg, training.memory_batches(data, cfg), observe=observe)
        cpu_seconds = time.process_time() - started
    record = {
        "losses": losses,
        "train_loss": summary["train_loss"],
        "val_loss": summary["val_loss"],
        "cpu_seconds": cpu_seconds,
        "params": model.get_num_params(),
    }
    return model.eval(), record


def run_settings(name: str, seed: int) -> dict:
    return settings(seed)


def work(name: str, seed: int) -> int:
    return trained.work(settings(seed))


EXPERIMENT = Experiment(
    folder="char-ngpt",
    code=Path(__file__),
    runs={name: name for name in MODELS},
    seeds=COMPARED_SEEDS,
    settings=run_settings,
    train=train_run,
    size=work,
    inputs=partial(rows, "char"),
    build=build,
    prefix="char-",
)
get, run_all, missing = EXPERIMENT.get, EXPERIMENT.run_all, EXPERIMENT.missing
RUNS = EXPERIMENT.every_run()
