"""The training chapter's runs: the sort run's loop, written out, with one setting changed.

    from model_src.experiments import training_runs
    runs = training_runs.over_seeds("not clipped")  # one record a seed, trained once
    runs[0]["evals"]                                # [[step, val loss, train loss], ...]

`short_run` is train.py's loop spelled out step by step, so that it can measure what
fit does not report: the length of every update (all parameters as one vector) and,
every few steps, the loss on every held-out problem and on as many training problems.
Each run changes the sort preset's settings (clipping, the peak rate, warmup, or few
training problems, with and without dropout) and is trained from the same eight seeds as
the others, paired by seed (verdicts.py). Two full-length runs per seed test weight decay on
every parameter against train.py's two groups; the first of them, the sort run's own
settings, also tells how often the clip fires from start to end. Each run is kept by
runner.py in the book's store, keyed on this code, the data, its settings and its seed.
"""

from functools import partial
from pathlib import Path

import torch

from .. import prepare, presets, tasks, trained
from ..model import GPT
from ..train import get_lr, resolve_config
from . import seeds
from .runner import Experiment, rows

SEEDS = seeds.seeds(8)  # the book's rule: eight seeds where an effect may be small
STEPS = 200  # how far the short runs go: the spikes section reads them to the end
FEW_PROBLEMS, DROPOUT = 16, 0.2  # the overfitting runs: so few problems, that dropout


def sort_config() -> dict:
    """The sort preset's training settings, as the book's sort model trained with them."""
    return resolve_config(presets.config_file("sort"), {})


def _short(**changes) -> dict:
    return {"steps": STEPS, "changes": changes}


def _peaks(scale: float) -> dict:
    """The peak rate and the schedule's floor, both scaled."""
    cfg = sort_config()
    return _short(learning_rate=cfg["learning_rate"] * scale, min_lr=cfg["min_lr"] * scale)


# name: the short run's steps and changed settings, or a full run's weight decay
RUNS: dict[str, dict] = {
    "clipped": _short(),  # the sort run's own settings
    "not clipped": _short(grad_clip=0.0),
    "peak x0.3": _peaks(0.3),
    "peak x3": _peaks(3),
    "no warmup": _short(warmup_iters=0),
    "few problems": {**_short(), "problems": FEW_PROBLEMS, "every": 20},
    "few problems, dropout": {
        **_short(),
        "problems": FEW_PROBLEMS,
        "every": 20,
        "dropout": DROPOUT,
    },
    "decay in two groups": {"decay_everything": False},
    "decay on everything": {"decay_everything": True},
}


def all_problems(flat_rows, meta: dict, count: int | None = None):
    """Inputs and targets for the first `count` problems of a split (all by default);
    the prompt is not scored."""
    return prepare.sort_problems(flat_rows.reshape(-1, meta["seq_len"])[:count], meta)


def short_run(steps, seed, rows=None, dropout=0.0, every=10, **changes) -> dict:
    """The sort run's loop from `seed` for `steps` steps, some settings changed.
    Every step: the update's length and the rate; every `every` steps:
    [step, val loss, train loss] on every held-out problem and as many
    training problems."""
    cfg, data = {**sort_config(), **changes}, prepare.sort_data()
    rows = data.train if rows is None else rows
    torch.manual_seed(seed)
    model = GPT(presets.gpt_config("sort", dropout=dropout))
    decay, peak = cfg["weight_decay"], cfg["learning_rate"]
    betas = (cfg["beta1"], cfg["beta2"])
    optimizer = model.configure_optimizers(decay, peak, betas, "cpu")
    generator = torch.Generator().manual_seed(seed)
    val = all_problems(data.val, data.meta)
    train = all_problems(rows, data.meta, len(val[0]))
    run = {"evals": [], "lengths": [], "rates": []}
    for it in range(steps):
        lr = get_lr(it, cfg)
        for group in optimizer.param_groups:
            group["lr"] = lr
        x, y = prepare.sample_batch(
            rows, data.meta, cfg["batch_size"], cfg["block_size"], generator
        )
        model(x, y)[1].backward()
        if cfg["grad_clip"]:
            torch.nn.utils.clip_grad_norm_(model.parameters(), cfg["grad_clip"])
        before = torch.cat([p.detach().flatten() for p in model.parameters()])
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        after = torch.cat([p.detach().flatten() for p in model.parameters()])
        run["lengths"].append((after - before).norm().item())
        run["rates"].append(lr)
        if (it + 1) % every == 0:
            model.eval()
            with torch.no_grad():
                losses = model(*val)[1].item(), model(*train)[1].item()
                run["evals"].append([it + 1, *losses])
            model.train()
    return run


def trained_gains(seed: int, decay_everything: bool) -> dict:
    """The sort model's full run from `seed`, its weight decay on train.py's two groups
    or on every parameter: its sort accuracy at the end, its mean LayerNorm gain, and
    the gradient's norm before clipping at every step."""
    cfg, data = sort_config(), prepare.sort_data()
    torch.manual_seed(seed)
    model = GPT(presets.gpt_config("sort"))
    betas = (cfg["beta1"], cfg["beta2"])
    if decay_everything:
        # fused, as configure_optimizers asks for it: the two runs differ only in groups
        optimizer = torch.optim.AdamW(
            model.parameters(),
            lr=cfg["learning_rate"],
            betas=betas,
            weight_decay=cfg["weight_decay"],
            fused=True,
        )
    else:
        optimizer = model.configure_optimizers(
            cfg["weight_decay"], cfg["learning_rate"], betas, "cpu"
        )
    generator = torch.Generator().manual_seed(seed)
    grad_norms = []
    for it in range(cfg["max_iters"]):
        for group in optimizer.param_groups:
            group["lr"] = get_lr(it, cfg)
        x, y = prepare.sample_batch(
            data.train, data.meta, cfg["batch_size"], cfg["block_size"], generator
        )
        model(x, y)[1].backward()
        norm = torch.nn.utils.clip_grad_norm_(model.parameters(), cfg["grad_clip"])
        grad_norms.append(norm.item())  # the norm before the clip: how often it fired
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
    norms = [m for name, m in model.named_modules() if name.endswith(("ln_1", "ln_2", "ln_f"))]
    gain = torch.cat([m.weight.detach() for m in norms]).mean().item()
    accuracy = tasks.sort_accuracy(model.eval())
    return {"accuracy": accuracy, "gain": gain, "grad_norms": grad_norms}


def train_run(name: str, seed: int) -> tuple[None, dict]:
    """Run `name` from `seed`: its record only (the chapter reads no weights)."""
    spec = RUNS[name]
    if "decay_everything" in spec:
        return None, trained_gains(seed, spec["decay_everything"])
    data = prepare.sort_data()
    problems = spec.get("problems")
    few = data.train if problems is None else data.train[: problems * data.meta["seq_len"]]
    run = short_run(
        spec["steps"],
        seed,
        rows=few,
        dropout=spec.get("dropout", 0.0),
        every=spec.get("every", 10),
        **spec["changes"],
    )
    return None, run


def run_settings(name: str, seed: int) -> dict:
    """What a run's key holds beside its spec: the sort preset's settings and the seed."""
    return {**sort_config(), "seed": seed}


def work(name: str, seed: int) -> int:
    """The sort model's work for the run's steps (trained.work), to train the longest first."""
    config = sort_config()
    return trained.work({**config, "max_iters": RUNS[name].get("steps", config["max_iters"])})


EXPERIMENT = Experiment(
    folder="training",
    code=Path(__file__),
    runs=RUNS,
    seeds=SEEDS,
    settings=run_settings,
    train=train_run,
    size=work,
    inputs=partial(rows, "sort"),
)
get, run_all, missing = EXPERIMENT.get, EXPERIMENT.run_all, EXPERIMENT.missing


def over_seeds(name: str) -> list[dict]:
    """Run `name`'s record from each of SEEDS, in order (trained first if not cached)."""
    return [get(name, seed) for seed in SEEDS]
