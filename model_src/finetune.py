"""Fine-tuning the sort model into a (very small) assistant, with train.py's loop.

    from model_src import finetune
    runs = finetune.run_all()            # the first call trains (seconds each), later ones load
    runs["chat", 1337]["accuracy"]       # {"↑": [...], "#": [...]} every EVERY steps

Each run starts from a trained model, trains on conversations (chat.py) and is kept
by runs.py in the book's store, keyed on the code, the base model's weights, the
settings and the seed. The runs, in the order they build on one another:

    chat              the sort model, grown by chat.py's tokens, taught the format on
                      sort requests (↑) with the loss masked to the replies
    chat, unmasked    the same, every next token scored: the masking control
    #, #, unmasked    from chat: a new skill, the most common of 11 letters, masked or not
    mixture           from chat: # and ↑ conversations half and half, against forgetting
    LoRA r=8, r=2     from chat: # through rank-r adapters only (lora.py)
    LoRA r=8, # row   the same rank 8, with the # token's row of wte (tied: lm_head) trained
"""

import copy
import json
import time
from pathlib import Path

import torch

from buildlib.keys import code_inputs, digest
from buildlib.processes import Task, run_longest_first

from . import chat, lora, prepare, presets, trained
from . import train as training
from .experiments import seeds
from .model import GPT
from .runs import Runs

PACKAGE = Path(__file__).parent
# Every run with eight seeds, paired: the chapter's comparisons rest on all of them
# (experiments/verdicts.py); its curves show the first two.
COMPARED_SEEDS = seeds.seeds(8)
SEEDS = COMPARED_SEEDS[:2]
EVERY = 50  # steps between accuracy measurements during a run
HASH_LENGTH = 11  # letters in a # request: its conversation is as long as a sort one
HASH_POOL, HASH_HELD_OUT = 4000, 300  # # training conversations, and held-out ones
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
    return training.resolve_config(
        presets.config_file("sort"),
        dict(seed=seed, max_iters=steps, lr_decay_iters=steps, eval_interval=steps,
             learning_rate=lr, min_lr=lr / 10, warmup_iters=20, eval_iters=4,
             block_size=context()),
    )  # fmt: skip


def context() -> int:
    """Positions a conversation needs: its length minus the last token (only a target)."""
    return len(chat.render(chat.conversation("↑", "A" * prepare.SORT_LENGTH))[0]) - 1


def letters(task: str, split: str) -> list[str]:
    """The letters of every conversation of a task and split: the sort model's own
    train/val split for ↑; seeded random strings for #, the held-out ones never in train."""
    if task == "↑":
        data = prepare.sort_data()
        rows = getattr(data, split).reshape(-1, data.meta["seq_len"])[:, : data.meta["prompt_len"]]
        return ["".join(chat.LETTERS[i] for i in row) for row in rows]
    generator = torch.Generator().manual_seed(prepare.SORT_SEED)
    ids = torch.randint(
        len(chat.LETTERS), (HASH_POOL + 2 * HASH_HELD_OUT, HASH_LENGTH), generator=generator
    )
    strings = ["".join(chat.LETTERS[i] for i in row) for row in ids.tolist()]
    train = strings[:HASH_POOL]
    if split == "train":
        return train
    seen = set(train)
    return [s for s in strings[HASH_POOL:] if s not in seen][:HASH_HELD_OUT]


def pool(task: str, split: str, masked: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """Every conversation of a task and split as (x, y) rows, (N, T) each."""
    pairs = [
        chat.example(*chat.render(chat.conversation(task, text)), masked)
        for text in letters(task, split)
    ]
    return torch.stack([x for x, _ in pairs]), torch.stack([y for _, y in pairs])


def batches(mix: tuple[str, ...], masked: bool, batch_size: int):
    """batches(split, generator) for train.fit: each row a conversation of one of the
    mixture's tasks, the task drawn first (so tasks weigh alike, however many
    conversations each has), then one of its conversations."""
    pools = {}
    for split in ("train", "val"):
        parts = [pool(task, split, masked) for task in mix]
        sizes = torch.tensor([len(x) for x, _ in parts])
        starts = sizes.cumsum(0) - sizes  # where each task's rows begin
        pools[split] = (
            torch.cat([x for x, _ in parts]),
            torch.cat([y for _, y in parts]),
            starts,
            sizes,
        )

    def draw(split: str, generator: torch.Generator):
        x, y, starts, sizes = pools[split]
        task = torch.randint(len(mix), (batch_size,), generator=generator)
        within = (torch.rand(batch_size, generator=generator) * sizes[task]).long()
        picks = starts[task] + within
        return x[picks], y[picks]

    return draw


@torch.no_grad()
def accuracy(model: GPT, task: str) -> float:
    """Share of held-out requests whose greedy reply is exactly right, <end> included."""
    texts = letters(task, "val")
    prompts = torch.tensor([chat.prompt(task, text) for text in texts])  # (N, prompt)
    wanted = [chat.tokens("assistant", chat.TASKS[task](text))[1:] for text in texts]
    wanted = torch.tensor([[chat.STOI[t] for t in reply] for reply in wanted])  # (N, reply)
    was_training = model.training
    got = chat.reply(model.eval(), prompts, wanted.size(1))
    model.train(was_training)
    return (got == wanted).all(dim=1).float().mean().item()


def start_model(name: str, seed: int) -> GPT:
    """A run's starting point: the sort model grown by chat.py's tokens (new rows seeded
    by the run's seed), or the trained model of the run it builds on."""
    start = RUNS[name]["start"]
    if start != "base":
        return copy.deepcopy(get(start, seed)["model"])
    torch.manual_seed(seed)
    return chat.grow(trained.get("sort").model, len(chat.VOCAB), context())


def fine_tune(name: str, seed: int) -> tuple[GPT, dict]:
    """train.py's loop on a run's conversations: returns the model (with its adapters,
    for a LoRA run) and its record: held-out accuracy on ↑ (and #, if it trains on
    it) every EVERY steps,
    trainable parameters, final losses and the CPU seconds the training took."""
    spec, cfg = RUNS[name], settings(name, seed)
    model = start_model(name, seed).train()
    threads_before = torch.get_num_threads()
    torch.set_num_threads(cfg["threads"])
    try:
        with torch.random.fork_rng():
            torch.manual_seed(seed)  # the adapters' A matrices
            if spec["rank"]:
                lora.add_lora(model, spec["rank"], token_ids(name))
            # the skills that matter here: what the run trains, and the sort it must keep
            measured = dict.fromkeys(("↑", *spec["mix"]))
            record = {"step": [], "accuracy": {task: [] for task in measured}}

            def observe(model, step, loss):
                if step % EVERY == 0:
                    record["step"].append(step)
                    for task in measured:
                        record["accuracy"][task].append(accuracy(model, task))

            cpu_start = time.process_time()
            draw = batches(spec["mix"], spec["masked"], cfg["batch_size"])
            summary = training.fit(model, cfg, draw, observe=observe)
            record["cpu_seconds"] = time.process_time() - cpu_start
    finally:
        torch.set_num_threads(threads_before)
    record.update(trainable=lora.trainable(model), val_loss=summary["val_loss"])
    record["loss"] = [entry["loss"] for entry in summary["log"]]
    return model.eval(), record


def _entries() -> dict[tuple[str, int], str]:
    """Every run's entry name, with its key: the code, the base model and the settings.
    The base model counts by its own cache key, so naming the runs trains nothing."""
    base = trained.cache_key(trained.settings("sort", {}), presets.dataset("sort"))
    shared = (*code_inputs(Path(__file__), search=[PACKAGE.parent]), base)
    return {
        (name, seed): f"{slug(name)}-{seed}-"
        + digest(
            *shared,
            json.dumps(settings(name, seed), sort_keys=True),
            json.dumps(RUNS[name], sort_keys=True),
        )
        for name, seed in every_run()
    }


def every_run() -> list[tuple[str, int]]:
    """(name, seed) of every run, seed by seed."""
    return [(name, seed) for seed in COMPARED_SEEDS for name in RUNS]


def slug(name: str) -> str:
    """A run's name as a file name: "LoRA r=8" -> "lora-r8", "#, unmasked" -> "hash-unmasked"."""
    words = name.lower().replace("#", "hash").replace("=", "").replace(",", " ")
    return "-".join(words.split())


def _build(name: str) -> GPT:
    """The chat model's shape, with run `name`'s adapters."""
    model = GPT(presets.gpt_config("sort", vocab_size=len(chat.VOCAB), block_size=context()))
    if RUNS[name]["rank"]:
        lora.add_lora(model, RUNS[name]["rank"], token_ids(name))
    return model


def token_ids(name: str) -> list[int]:
    """The ids whose rows of the token table a LoRA run trains beside its adapters."""
    return [chat.STOI[token] for token in RUNS[name].get("tokens", ())]


STORED = Runs("finetune", entries=_entries, train=fine_tune, build=_build)


def get(name: str, seed: int = SEEDS[0]) -> dict:
    """The record of run `name` with `seed`, trained first if not cached; `model` holds
    the trained GPT (with its adapters, for a LoRA run)."""
    return STORED.get(name, seed)


def run_all(jobs: int | None = None) -> dict[tuple[str, int], dict]:
    """Every run with each of its seeds, {(name, seed): record}; missing ones trained first."""
    run_longest_first(missing(), jobs)
    return {(name, seed): get(name, seed) for name, seed in every_run()}


def missing() -> list[Task]:
    """The runs the cache lacks, as tasks for a process pool: one per seed, training
    that seed's missing runs in order, since most runs start from another's model."""
    absent = STORED.absent()
    tasks = []
    for seed in COMPARED_SEEDS:
        names = tuple(name for name in RUNS if (name, seed) in absent)
        if names:
            size = sum(trained.work(settings(name, seed)) for name in names)
            tasks.append(Task(_train_only, (names, seed), size))
    return tasks


def _train_only(names: tuple[str, ...], seed: int) -> None:
    for name in names:
        STORED.make(name, seed)
