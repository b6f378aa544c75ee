"""The memory calculator's formulas against real tensors, for the book's two models.

Each preset's model is built (untrained: sizes do not depend on the weights) in float32
and in bfloat16, as GPT and, with one k/v head, as modern.py's grouped-query GPT; one
training step is taken with each optimizer. What model_src/memory.py measures (weights,
gradients, the optimizer's buffers, the tensors autograd saves), the numbers a
kv_cache.CachedGPT holds and the FLOPs per token GPT.estimate_mfu counts must equal the
formulas evaluated as the page evaluates them.
"""

from __future__ import annotations

import dataclasses

import torch

from model_src import kv_cache, memory, muon, presets
from model_src.footprint import PRECISIONS
from model_src.model import GPT
from model_src.modern import ModernConfig, ModernGPT

from . import formulas

DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16}
BATCH = 2  # enough to show what grows with the batch; small enough to be quick


def built(preset: str, n_kv_head: int, dtype) -> torch.nn.Module:
    config = presets.gpt_config(preset)
    torch.manual_seed(0)
    if n_kv_head == config.n_head:
        return GPT(config).to(dtype)
    return ModernGPT(ModernConfig(**dataclasses.asdict(config), n_kv_head=n_kv_head)).to(dtype)


def optimizer(name: str, model):
    """The optimizer as the book builds it, and the ones whose buffers memory counts."""
    if name == "adamw":
        made = torch.optim.AdamW(model.parameters())
        return made, [made]
    if name == "muon":
        made = muon.optimizers(model, 0.1, 1e-3, 0.02, (0.9, 0.99))
        return made, [made.muon, made.adamw]
    made = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    return made, [made]


def measured(preset: str, n_kv_head: int, precision: str) -> dict:
    """What the tensors hold: autograd's saved tensors in a forward pass, then the
    weights, gradients and each optimizer's buffers after a step with it."""
    model = built(preset, n_kv_head, DTYPES[precision])
    idx = presets.sample_input(preset, batch=BATCH).contiguous()  # (B, T), T = block_size
    counts = {
        "parameters": sum(p.numel() for p in model.parameters()),
        "activations": memory.saved_bytes(model, idx),
        "flops_per_token": GPT.estimate_mfu(model, 1, 1.0, 1.0) / idx.size(1),
    }
    model(idx, idx)[1].backward()
    for name in ("adamw", "muon", "sgd"):  # the same gradients for each
        step, counted = optimizer(name, model)
        step.step()
        counts[f"optimizer:{name}"] = sum(
            memory.state_bytes(model, o)["optimizer"] for o in counted
        )
        state = memory.state_bytes(model, counted[0])
        counts["weights"], counts["gradients"] = state["weights"], state["gradients"]
    return counts


def cache_bytes(preset: str, precision: str) -> int:
    """The bytes a CachedGPT holds after reading BATCH full contexts (multi-head only:
    the book's cache runs GPT)."""
    runner = kv_cache.CachedGPT(built(preset, presets.gpt_config(preset).n_head, DTYPES[precision]))
    with torch.no_grad():
        runner(presets.sample_input(preset, batch=BATCH).contiguous())
    return sum(k.numel() * k.element_size() + v.numel() * v.element_size() for k, v in runner.cache)


def inputs(preset: str, n_kv_head: int, precision: str) -> dict:
    config = presets.gpt_config(preset)
    return {
        "n_layer": config.n_layer,
        "n_embd": config.n_embd,
        "n_head": config.n_head,
        "n_kv_head": n_kv_head,
        "vocab_size": config.vocab_size,
        "context": config.block_size,
        "batch": BATCH,
        "bias": int(config.bias),
        "precision": PRECISIONS[precision],
    }


def disagreements(trees: dict) -> list[str]:
    """Every formula that differs from its measurement, said with both values."""
    found = []
    for preset in presets.PRESETS:
        for n_kv_head in sorted({presets.gpt_config(preset).n_head, 1}):
            for precision in PRECISIONS:
                values = inputs(preset, n_kv_head, precision)
                counts = measured(preset, n_kv_head, precision)
                if n_kv_head == values["n_head"]:
                    counts["kv_cache"] = cache_bytes(preset, precision)
                for output, count in counts.items():
                    formula = formulas.evaluate(trees[output], values)
                    if formula != count:
                        found.append(
                            f"{output} of the {preset} model ({precision}, {n_kv_head} k/v "
                            f"heads): the formula gives {formula}, the tensors {count}"
                        )
    return found
