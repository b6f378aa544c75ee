"""Fine-tuning the sort model into a (very small) assistant, with train.py's loop.

    from model_src import finetune
    x, y = finetune.pool("#", "train", masked=True)     # every # conversation, as rows
    model, record = finetune.fine_tune(model, spec, cfg)  # train.fit on a run's mixture

A run starts from a trained model and trains on conversations (chat.py) of its tasks:
the sort requests (↑) the model knows and # (the most common of HASH_LENGTH letters),
mixed, the loss masked to the replies or not, through LoRA adapters (lora.py) or every
weight. The chapter's runs (which, in what order, with which settings and seeds) are
experiments/finetune_runs.py's, which keeps each in the book's store.
"""

import time

import torch

from . import chat, lora, prepare
from . import train as training
from .model import GPT

EVERY = 50  # steps between accuracy measurements during a run
HASH_LENGTH = 11  # letters in a # request: its conversation is as long as a sort one
HASH_POOL, HASH_HELD_OUT = 4000, 300  # # training conversations, and held-out ones


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


def fine_tune(model: GPT, spec: dict, cfg: dict) -> tuple[GPT, dict]:
    """train.py's loop on a run's conversations, from `model` (trained in place), with
    the run's spec (its tasks "mix", "masked", LoRA "rank" and the "tokens" whose rows
    it trains) and settings: returns the model (with its adapters, for a LoRA run) and
    its record: held-out accuracy on ↑ (and #, if it trains on it) every EVERY steps,
    trainable parameters, final losses and the CPU seconds the run took (training and
    those accuracy checks)."""
    if spec["rank"]:  # the adapters' A matrices: drawn from torch's seed, the caller's
        lora.add_lora(model, spec["rank"], token_ids(spec))
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
    record.update(trainable=lora.trainable(model), val_loss=summary["val_loss"])
    record["loss"] = [entry["loss"] for entry in summary["log"]]
    return model.eval(), record


def token_ids(spec: dict) -> list[int]:
    """The ids whose rows of the token table a LoRA run trains beside its adapters."""
    return [chat.STOI[token] for token in spec.get("tokens", ())]
