"""Whether training a comparison's seeds as one batched model pays on this machine: the
sort preset's model, one thread, its seeds trained one after another (train.py's way,
PyTorch's fused attention) against all of them at once, their parameters stacked and the
model called through torch.func.vmap (attention by hand: the fused kernel has no
batching rule and falls back to a loop). Both take AdamW steps on the same batches. It
prints the milliseconds a seed's training step costs each way, best of three rounds.

    python bench/batched_seeds.py          # about half a minute on one core

Issue 45 names this lever for paying for the seeds; the book trains its runs one by one
as long as the batched step costs a seed no less than the plain one.
"""

import copy
import json
import sys
import time
from pathlib import Path

import torch
from torch.func import functional_call, stack_module_state, vmap

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from model_src import presets, train
from model_src.model import GPT, causal_mask

PRESET, STEPS, ROUNDS, SEED_COUNTS = "sort", 40, 3, (4, 8)


def models(count: int) -> list[GPT]:
    """`count` models of the preset, each from its own seed."""
    book_seed = train.resolve_config(presets.config_file(PRESET), {})["seed"]
    made = []
    for seed in range(book_seed, book_seed + count):
        torch.manual_seed(seed)
        made.append(GPT(presets.gpt_config(PRESET)))
    return made


def batches(count: int) -> list:
    """One batch per seed for each of STEPS steps, drawn as train.fit draws them."""
    cfg = train.resolve_config(presets.config_file(PRESET), {})
    draw, generator = train.memory_batches(presets.dataset(PRESET), cfg), torch.Generator()
    generator.manual_seed(cfg["seed"])
    return [[draw("train", generator) for _ in range(count)] for _ in range(STEPS)]


def one_by_one(count: int, steps: list) -> float:
    """Seconds for each model's steps, one model after another."""
    start = time.perf_counter()
    for index, model in enumerate(models(count)):
        optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3, fused=True)
        for step in steps:
            model(*step[index])[1].backward()
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
    return time.perf_counter() - start


def explicit_attention(model: GPT) -> GPT:
    """`model` with its attention computed by hand, the path vmap batches (probe.py
    turns the fused kernel off the same way, to look inside)."""
    for block in model.transformer.h:
        block.attn.flash = False
        block.attn.register_buffer("bias", causal_mask(model.config.block_size))
    return model


def batched(count: int, steps: list) -> float:
    """Seconds for the same steps, every model's at once through vmap."""
    start = time.perf_counter()
    made = [explicit_attention(model) for model in models(count)]
    stacked, buffers = stack_module_state(made)
    params = {name: tensor.detach().requires_grad_() for name, tensor in stacked.items()}
    shape = copy.deepcopy(made[0])  # the module functional_call runs with those tensors

    def loss(p, b, x, y):
        return functional_call(shape, (p, b), (x, y))[1]

    optimizer = torch.optim.AdamW(params.values(), lr=1e-3, fused=True)
    for step in steps:
        x, y = (torch.stack(parts) for parts in zip(*step, strict=True))
        vmap(loss)(params, buffers, x, y).sum().backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
    return time.perf_counter() - start


def main() -> None:
    torch.set_num_threads(1)
    figures = {}
    for count in SEED_COUNTS:
        steps = batches(count)
        plain = min(one_by_one(count, steps) for _ in range(ROUNDS))
        together = min(batched(count, steps) for _ in range(ROUNDS))
        per_step = 1000 / (count * STEPS)
        figures[f"{count} seeds"] = {
            "one by one, ms a seed's step": round(plain * per_step, 2),
            "batched, ms a seed's step": round(together * per_step, 2),
            "one by one / batched": round(plain / together, 2),
        }
    print(json.dumps(figures, indent=1))


if __name__ == "__main__":
    main()
