"""The fine-tuning chapter's runs: finetune.py's fine-tuning, each run trained once,
then read from the book's store.

    from model_src.experiments import finetune_runs
    runs = finetune_runs.run_all()       # the first call trains (seconds each), later ones load
    runs["chat", 1337]["accuracy"]       # {"↑": [...], "#": [...]} every finetune.EVERY steps

Each run is kept by runner.py in the book's store, keyed on the code, the base model's
weights, the settings and the seed. The runs, in the order they build on one another:

    chat              the sort model, grown by chat.py's tokens, taught the format on
                      sort requests (↑) with the loss masked to the replies
    chat, unmasked    the same, every next token scored: the masking control
    #, #, unmasked    from chat: a new skill, the most common of 11 letters, masked or not
    mixture           from chat: # and ↑ conversations half and half, against forgetting
    LoRA r=8, r=2     from chat: # through rank-r adapters only (lora.py)
    LoRA r=8, # row   the same rank 8, with the # token's row of wte (tied: lm_head) trained
"""

import copy
from pathlib import Path

import torch

from .. import chat, lora, presets, trained
from ..finetune import context, fine_tune, token_ids
from ..model import GPT
from . import seeds
from .runner import Experiment, seed_by_seed, sort_settings

# Every run with eight seeds, paired: the chapter's comparisons rest on all of them
# (verdicts.py); its curves show the first two.
COMPARED_SEEDS = seeds.seeds(8)
SEEDS = COMPARED_SEEDS[:2]
# name: the run it starts from, its task mixture, loss masking, LoRA rank, and settings
RUNS: dict[str, dict] = {
    "chat": dict(start="base", mix=("↑",), masked=True, rank=0, max_iters=200),
    "chat, unmasked": dict(start="base", mix=("↑",), masked=False, rank=0, max_iters=200),
    "#": dict(start="chat", mix=("#",), masked=True, rank=0, max_iters=100),
    "#, unmasked": dict(start="chat", mix=("#",), masked=False, rank=0, max_iters=100),
    "mixture": dict(start="chat", mix=("#", "↑"), masked=True, rank=0, max_iters=100),
    "LoRA r=8": dict(start="chat", mix=("#",), masked=True, rank=8, max_iters=100),
    "LoRA r=2": dict(start="chat", mix=("#",), masked=True, rank=2, max_iters=100),
    "LoRA r=8, # row": dict(
        start="chat", mix=("#",), masked=True, rank=8, max_iters=100, tokens=("#",)
    ),
}
LEARNING_RATE = {"full": 3e-3, "lora": 1e-2}  # adapters start at zero: a larger step


def settings(name: str, seed: int) -> dict:
    """The sort preset's settings, shortened for fine-tuning: a brief warmup, a decay to
    a tenth, one evaluation at the end, the conversation's context."""
    spec = RUNS[name]
    lr = LEARNING_RATE["lora" if spec["rank"] else "full"]
    steps = spec["max_iters"]
    return sort_settings(
        dict(seed=seed, max_iters=steps, lr_decay_iters=steps, eval_interval=steps,
             learning_rate=lr, min_lr=lr / 10, warmup_iters=20, eval_iters=4,
             block_size=context()),
    )  # fmt: skip


def start_model(name: str, seed: int) -> GPT:
    """A run's starting point: the sort model grown by chat.py's tokens (new rows seeded
    by the run's seed), or the trained model of the run it builds on."""
    start = RUNS[name]["start"]
    if start != "base":
        return copy.deepcopy(get(start, seed)["model"])
    torch.manual_seed(seed)
    return chat.grow(trained.get("sort").model, len(chat.VOCAB), context())


def train_run(name: str, seed: int) -> tuple[GPT, dict]:
    """finetune.fine_tune from the run's start model, seeded by `seed` (the adapters' A
    matrices), with the run's settings."""
    cfg = settings(name, seed)
    model = start_model(name, seed).train()
    with seeds.seeded(seed, cfg["threads"]):
        return fine_tune(model, RUNS[name], cfg)


def base_model() -> tuple[str]:
    """The sort model every run grows from, by its own cache key: naming the runs trains
    nothing."""
    return (trained.cache_key(trained.settings("sort", {}), presets.dataset("sort")),)


def build(name: str) -> GPT:
    """The chat model's shape, with run `name`'s adapters."""
    model = GPT(presets.gpt_config("sort", vocab_size=len(chat.VOCAB), block_size=context()))
    if RUNS[name]["rank"]:
        lora.add_lora(model, RUNS[name]["rank"], token_ids(RUNS[name]))
    return model


def work(name: str, seed: int) -> int:
    return trained.work(settings(name, seed))


EXPERIMENT = Experiment(
    folder="finetune",
    code=Path(__file__),
    runs=RUNS,
    seeds=COMPARED_SEEDS,
    settings=settings,
    train=train_run,
    size=work,
    inputs=base_model,
    build=build,
    # most runs start from another's model of the same seed: one task a seed, in order
    tasks=seed_by_seed,
)
get, run_all, missing = EXPERIMENT.get, EXPERIMENT.run_all, EXPERIMENT.missing
