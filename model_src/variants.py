"""The modern variants of modern.py trained on the sort task, each like the sort model.

    from model_src import variants
    runs = variants.run_all()       # the first call trains (seconds each), later ones load
    runs["RoPE", 1337]["accuracy"]

Every run uses the sort preset's settings and the loop of train.py: the same seeded
initialisation, batches, AdamW groups, learning-rate schedule and clipping. Only the
switches of ModernConfig differ, so the "GPT-2" variant (all switches off) retraces the
book's sort model step for step. Each run is an entry of ext/store.py's store, keyed on
the code (this file, modern.py and all they import), the data, the settings and the seed.
"""

import json
import sys
import time
from pathlib import Path

import torch

from ext.processes import Task, run_longest_first
from ext.store import Store, code_inputs, digest, write_meta

from . import prepare, presets, tasks, trained
from . import train as training
from .modern import ModernConfig, ModernGPT

PACKAGE = Path(__file__).parent

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
SWITCHES = {**VARIANTS, **POSITION_PROBES}
SEEDS = (1337, 1338)  # the preset's seed, and one more to see what a seed alone changes
RUNS = [(name, seed) for name in SWITCHES for seed in SEEDS]


def settings(seed: int) -> dict:
    return training.resolve_config(presets.config_file("sort"), {"seed": seed})


def model_config(switches: dict) -> ModernConfig:
    return ModernConfig(**{**vars(presets.gpt_config("sort")), **switches})


def held_out_loss(model, data: prepare.Dataset) -> float:
    """Mean loss over every held-out problem, the sorted half scored, as training is."""
    seq_len, prompt_len = data.meta["seq_len"], data.meta["prompt_len"]
    rows = torch.from_numpy(data.val.reshape(-1, seq_len).astype("int64"))
    x, y = rows[:, :-1], rows[:, 1:].clone()
    y[:, : prompt_len - 1] = -1
    model.eval()
    with torch.no_grad():
        loss = model(x, y)[1].item()
    model.train()
    return loss


def train_variant(switches: dict, seed: int) -> tuple[ModernGPT, dict]:
    """train.py's loop for a ModernGPT: returns the model and its record (train loss per
    step; held-out loss and exact-sort accuracy at every evaluation)."""
    cfg, data = settings(seed), presets.dataset("sort")
    threads_before = torch.get_num_threads()
    torch.set_num_threads(cfg["threads"])
    try:
        with torch.random.fork_rng():
            torch.manual_seed(cfg["seed"])
            model = ModernGPT(model_config(switches))
            betas = (cfg["beta1"], cfg["beta2"])
            optimizer = model.configure_optimizers(
                cfg["weight_decay"], cfg["learning_rate"], betas, "cpu"
            )
            generator = torch.Generator().manual_seed(cfg["seed"])
            record = {"loss": [], "eval_iter": [], "val_loss": [], "accuracy": []}
            start = time.perf_counter()
            for it in range(cfg["max_iters"]):
                for group in optimizer.param_groups:
                    group["lr"] = training.get_lr(it, cfg)
                x, y = prepare.sample_batch(
                    data.train, data.meta, cfg["batch_size"], cfg["block_size"], generator
                )
                _, loss = model(x, y)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(model.parameters(), cfg["grad_clip"])
                optimizer.step()
                optimizer.zero_grad(set_to_none=True)
                record["loss"].append(loss.item())
                if (it + 1) % cfg["eval_interval"] == 0:
                    record["eval_iter"].append(it + 1)
                    record["val_loss"].append(held_out_loss(model, data))
                    record["accuracy"].append(tasks.sort_accuracy(model))
            record["train_seconds"] = time.perf_counter() - start
    finally:
        torch.set_num_threads(threads_before)
    record["params"] = model.get_num_params()
    return model.eval(), record


def _entries() -> dict[tuple[str, int], str]:
    """Every run's entry name, with its key; the code and the data are digested once."""
    data = presets.dataset("sort")
    shared = (
        *code_inputs(Path(__file__), search=[PACKAGE.parent]),
        data.train.tobytes(),
        data.val.tobytes(),
    )
    return {
        (name, seed): f"{name.lower().replace(' ', '-')}-{seed}-"
        + digest(
            *shared,
            json.dumps(settings(seed), sort_keys=True),
            json.dumps(SWITCHES[name], sort_keys=True),
        )
        for name, seed in RUNS
    }


def _store() -> Store:
    return Store(trained.cache_dir() / "variants")


def get(name: str, seed: int = SEEDS[0]) -> dict:
    """The record of variant `name` trained with `seed`, trained first if not cached;
    `model` holds the trained ModernGPT."""
    return _get(name, seed, _entries()[name, seed])


def _get(name: str, seed: int, entry: str) -> dict:
    store = _store()

    def make(tmp: Path) -> None:
        print(f"training {entry} (cached for next time)", file=sys.stderr)
        model, record = train_variant(SWITCHES[name], seed)
        torch.save(model.state_dict(), tmp / "model.pt")
        (tmp / "record.json").write_text(json.dumps(record))
        write_meta(tmp, {"files": {"weights": "model.pt", "record": "record.json"}})

    store.get_or_make(entry, make)
    path = store.path(entry)
    model = ModernGPT(model_config(SWITCHES[name]))
    model.load_state_dict(torch.load(path / "model.pt", map_location="cpu"))
    return {**json.loads((path / "record.json").read_text()), "model": model.eval()}


def run_all(jobs: int | None = None) -> dict[tuple[str, int], dict]:
    """Every variant with every seed, {(name, seed): record}; missing ones are trained
    first, `jobs` at a time, each in its own process with one thread (as trained.py's
    train_all does), so the results are the same as when trained one by one."""
    run_longest_first(missing(), jobs)
    entries = _entries()
    return {run: _get(*run, entries[run]) for run in RUNS}


def missing() -> list[Task]:
    """The runs the cache lacks, as tasks for a process pool (a book build trains them
    before any page is read, beside the preset models)."""
    size = trained.work(settings(SEEDS[0]))  # the sort model's: the switches barely change it
    absent = [run for run, entry in _entries().items() if _store().get(entry) is None]
    return [Task(_train_only, run, size) for run in absent]


def _train_only(name: str, seed: int) -> None:
    get(name, seed)
