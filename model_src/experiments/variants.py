"""The modern variants of modern.py trained on the sort task, each like the sort model.

    from model_src.experiments import variants
    runs = variants.run_all()       # the first call trains (seconds each), later ones load
    runs["RoPE", 1337]["accuracy"]

Every run uses the sort preset's settings and the loop of train.py: the same seeded
initialisation, batches, AdamW groups, learning-rate schedule and clipping. A run's spec
names the switches of ModernConfig it turns on and, for a few probes, a training setting
it changes (a learning rate; `muon_lr` trains the block's matrices with Muon; `ngpt`
trains ngpt.py's model instead). The runs train in float32, where the book's sort model
trains in float64 (runner.sort_settings); "GPT-2, float64", the GPT-2 variant (nothing
changed) in the sort model's arithmetic, retraces it step for step. Every run is trained
with SEEDS; the runs the chapters compare (COMPARED) with more seeds, up to the step
where the comparisons are read. Each run is kept by runner.py in the book's store, keyed
on the code (this file, modern.py and all they import), the data, the settings and the
seed.
"""

from dataclasses import fields
from functools import partial
from pathlib import Path

import torch

from .. import muon, prepare, presets, tasks, trained
from .. import train as training
from ..modern import ModernConfig, ModernGPT, window_mask
from ..ngpt import NGPT, NGPTConfig
from . import seeds
from .runner import Experiment, rows, sort_settings

# One change at a time against GPT-2's block, then all five together (Llama's recipe).
# The sort model has 3 heads, so grouped-query attention can only share one k/v head.
VARIANTS: dict[str, dict] = {
    "GPT-2": {},
    "no biases": dict(bias=False),
    "RMSNorm": dict(rmsnorm=True),
    "SwiGLU": dict(swiglu=True),
    "RoPE": dict(rope=True),
    "GQA": dict(n_kv_head=1),
    "all five": dict(bias=False, rmsnorm=True, swiglu=True, rope=True, n_kv_head=1),
}
# Two runs that test why RoPE does worse on this task: RoPE with GPT-2's position table
# kept, and neither (nothing tells a position but the causal mask).
POSITION_PROBES: dict[str, dict] = {
    "RoPE + wpe": dict(rope=True, wpe=True),
    "no positions": dict(wpe=False),
}
# nanochat's block beyond Llama's: one change at a time, as above.
NANOCHAT: dict[str, dict] = {
    "ReLU²": dict(relu2=True),
    "QK-norm": dict(qk_norm=True),
    "untied": dict(untied=True),
}
# QK-norm where it should matter: a learning rate at which plain attention's scores grow.
HIGH_LR = 0.1  # ten times the sort preset's
HIGH_LR_PROBES: dict[str, dict] = {
    "GPT-2, lr 0.1": dict(learning_rate=HIGH_LR),
    "QK-norm, lr 0.1": dict(qk_norm=True, learning_rate=HIGH_LR),
}


def sort_windows() -> dict[str, int]:
    """Two sliding windows, from the sort task's lengths (P prompt letters, L layers).
    Through L layers a query reaches L·(W - 1) positions back (each layer's window passes
    on what its keys read), so: "blind", the largest W with which the query that writes
    the first sorted letter cannot reach the prompt's first letter at all; "prompt",
    W = P, with which that query sees every prompt letter in one layer."""
    prompt, layers = prepare.SORT_LENGTH, presets.gpt_config("sort").n_layer
    return {"blind": -(-(prompt - 1) // layers), "prompt": prompt}


WINDOWS = sort_windows()
WINDOW_RUNS: dict[str, dict] = {f"window {w}": dict(window=w) for w in WINDOWS.values()}
# The block's matrices trained by Muon (at nanochat's rate), everything else by AdamW.
MUON: dict[str, dict] = {"Muon": dict(muon_lr=0.02)}
# ngpt.py's model, with the paper's RoPE and with GPT-2's learned position table.
NGPT_RUNS: dict[str, dict] = {"nGPT": dict(ngpt=True), "nGPT + wpe": dict(ngpt=True, wpe=True)}
# GPT-2 in the sort preset's own float64 arithmetic: the other runs train in float32
# (runner.sort_settings), so this one is the check that the loop here is train.py's: it
# retraces the book's sort model, its float64 losses to their last bits.
BOOK_ARITHMETIC: dict[str, dict] = {"GPT-2, float64": dict(dtype="float64")}
SPECS = {
    **VARIANTS,
    **POSITION_PROBES,
    **NANOCHAT,
    **HIGH_LR_PROBES,
    **MUON,
    **NGPT_RUNS,
    **WINDOW_RUNS,
    **BOOK_ARITHMETIC,
}
# Every run, trained to its last step with the preset's seed and one more (moved by
# NANOBOOK_SEED): the chapters' tables and plots show these.
SEEDS = seeds.seeds(2)
# The runs the chapters compare, with how many seeds each comparison is decided over,
# paired by seed (verdicts.py): eight where the difference may lie within three standard
# errors of zero (fewer cannot call it absent), five where it lies far beyond them. Their
# seeds past SEEDS train only to COMPARED_STEPS, the steps whose evaluations the
# comparisons read: the schedule is the full run's, so such a run is the full run's first
# steps.
COMPARED: dict[str, int] = {
    **dict.fromkeys(("GPT-2", "no biases", "RMSNorm", "SwiGLU", "GQA", "RoPE + wpe"), 8),
    **dict.fromkeys((*NANOCHAT, "Muon", "nGPT", "nGPT + wpe"), 8),
    # near the noise under some seeds (all five's lag: 3.4 standard errors with five seeds
    # under NANOBOOK_SEED=13), and QK-norm's spike count at the high rate within it
    **dict.fromkeys(("RoPE", "all five", "no positions", *HIGH_LR_PROBES), 8),
    f"window {WINDOWS['prompt']}": 8,
    f"window {WINDOWS['blind']}": 5,  # it cannot sort every problem: predicted far behind
}
COMPARED_STEPS = 300
_SWITCHES = {f.name for cls in (ModernConfig, NGPTConfig) for f in fields(cls)}
_OWN = ("muon_lr", "ngpt")  # spec keys that are neither a switch nor a training setting


def settings(seed: int, spec: dict | None = None, steps: int | None = None) -> dict:
    """The sort preset's training settings with this seed and the spec's changes, cut
    to `steps` steps if given (the schedule unchanged)."""
    changed = {k: v for k, v in (spec or {}).items() if k not in _SWITCHES and k not in _OWN}
    cut = {} if steps is None else {"max_iters": steps}
    # fit's own estimate (eval_iters batches a split) goes unread: train_variant's observe
    # evaluates every held-out problem at the same steps, so one batch is enough for it
    unread = {"eval_iters": 1}
    overrides = {"seed": seed, **changed, **cut, **unread}
    return sort_settings(overrides)


def steps_of(seed: int) -> int | None:
    """How far a run with this seed trains: to the end (None) for SEEDS, else to
    COMPARED_STEPS."""
    return None if seed in SEEDS else COMPARED_STEPS


def seeds_of(name: str) -> tuple[int, ...]:
    """Every seed run `name` is trained with: its compared seeds, or SEEDS."""
    return seeds.seeds(COMPARED.get(name, len(SEEDS)))


def build(spec: dict) -> ModernGPT | NGPT:
    """The model a spec names, in the sort model's shape: an NGPT or a ModernGPT."""
    switches = {k: v for k, v in spec.items() if k in _SWITCHES}
    config = NGPTConfig if spec.get("ngpt") else ModernConfig
    model = NGPT if spec.get("ngpt") else ModernGPT
    return model(config(**{**vars(presets.gpt_config("sort")), **switches}))


def held_out_loss(model, data: prepare.Dataset) -> float:
    """Mean loss over every held-out problem, the sorted half scored, as training is."""
    x, y = prepare.sort_problems(data.val.reshape(-1, data.meta["seq_len"]), data.meta)
    model.eval()
    with torch.no_grad():
        loss = model(x, y)[1].item()
    model.train()
    return loss


def largest_score(model: ModernGPT, data: prepare.Dataset) -> float:
    """The largest attention score q·k/sqrt(hs) any head gives a key it can see, over
    every held-out problem: what the softmax of each head turns into weights."""
    seq_len = data.meta["seq_len"]
    rows = torch.from_numpy(data.val.reshape(-1, seq_len)[:, :-1].astype("int64"))
    inputs = []  # each attention's input, caught on the way through
    hooks = [
        block.attn.register_forward_pre_hook(lambda attn, args: inputs.append((attn, args[0])))
        for block in model.transformer.h
    ]
    model.eval()
    with torch.no_grad():
        model(rows, rows)
        T = rows.size(1)
        largest = max(
            attn.scores(x).masked_select(visible(attn, T)).max().item() for attn, x in inputs
        )
    model.train()
    for hook in hooks:
        hook.remove()
    return largest


def visible(attn, T: int) -> torch.Tensor:
    """(T, T) bool: the keys each query of `attn` may attend to, its window if it has one
    (nGPT's attention has none: every earlier key)."""
    return window_mask(T, getattr(attn, "window", 0) or T)


def train_variant(spec: dict, seed: int, steps: int | None = None) -> tuple[ModernGPT, dict]:
    """train.py's fit for a ModernGPT (or an NGPT), `steps` steps if given: returns the
    model and its record (train loss per step; held-out loss, exact-sort accuracy and
    largest attention score at every evaluation)."""
    cfg, data = settings(seed, spec, steps), presets.dataset("sort")
    record = {"loss": [], "eval_iter": [], "val_loss": [], "accuracy": [], "score": []}

    def observe(model, iter_num: int, loss: float | None) -> None:
        if loss is None:
            return  # before the first step: an NGPT starts on the sphere
        if isinstance(model, NGPT):
            model.normalize_weights()  # after every optimizer step: rows back on the sphere
        record["loss"].append(loss)
        if iter_num % cfg["eval_interval"] == 0:
            record["eval_iter"].append(iter_num)
            record["val_loss"].append(held_out_loss(model, data))
            record["accuracy"].append(tasks.sort_accuracy(model))
            record["score"].append(largest_score(model, data))

    with seeds.seeded(cfg["seed"], cfg["threads"]):
        model = build(spec)
        optimizer = make_optimizer(model, cfg, spec.get("muon_lr"))
        batches = training.memory_batches(data, cfg)
        summary = training.fit(model, cfg, batches, optimizer=optimizer, observe=observe)
    record["train_seconds"] = summary["train_seconds"]
    record["params"] = model.get_num_params()
    return model.eval(), record


def make_optimizer(model: ModernGPT, cfg: dict, muon_lr: float | None):
    """GPT's AdamW for every parameter; with a Muon rate, Muon for the block's matrices
    and AdamW for the rest, stepped as one."""
    betas = (cfg["beta1"], cfg["beta2"])
    if muon_lr is None:
        return model.configure_optimizers(cfg["weight_decay"], cfg["learning_rate"], betas, "cpu")
    return muon.optimizers(model, cfg["weight_decay"], cfg["learning_rate"], muon_lr, betas)


def run_settings(name: str, seed: int) -> dict:
    """Run `name`'s training settings with `seed`, cut to its steps."""
    return settings(seed, SPECS[name], steps_of(seed))


def work(name: str, seed: int) -> int:
    """The sort model's work for the run's steps: the specs barely change it."""
    return trained.work(settings(seed, steps=steps_of(seed)))


def train_run(name: str, seed: int) -> tuple[ModernGPT | NGPT, dict]:
    return train_variant(SPECS[name], seed, steps_of(seed))


def build_run(name: str) -> ModernGPT | NGPT:
    return build(SPECS[name])


EXPERIMENT = Experiment(
    folder="variants",
    code=Path(__file__),
    runs=SPECS,
    seeds=seeds_of,
    settings=run_settings,
    train=train_run,
    size=work,
    inputs=partial(rows, "sort"),
    build=build_run,
)
get, run_all, missing = EXPERIMENT.get, EXPERIMENT.run_all, EXPERIMENT.missing
RUNS = EXPERIMENT.every_run()
