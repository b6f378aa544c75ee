"""LoRA (Hu et al. 2021): fine-tune a frozen model through small low-rank adapters.

    add_lora(model, rank=8)      # freezes the model, wraps c_attn and c_fc
    add_lora(model, 8, tokens=[7])   # ...and lets token 7's row of wte/lm_head train too
    ...train...                  # only the adapters (and those rows) learn
    remove_lora(model)           # the original Linears back: the base model, unchanged
    merge_lora(model)            # or fold each adapter into its Linear, for inference

A Linear computes x W^T + b, with W of shape (out, in). A full fine-tune learns a new
W, out * in numbers. LoRA learns a change of rank r instead, delta W = B A with A (r, in)
and B (out, r): r * (in + out) numbers. B starts at zero, so before the first step the
wrapped model computes exactly what the base model does.

A token the base model never read (a new special token) has a row of wte that no
adapter on a Linear can train. Real fine-tunes that add tokens train those rows beside
the adapters: PEFT's `modules_to_save` (the whole embedding) or, since PEFT 0.15 (March
2025), `trainable_token_indices` (only the chosen rows). TrainableTokens is the second.
"""

import math

import torch
from torch import nn

from .model import GPT, GPTConfig

TARGETS = ("c_attn", "c_fc")  # the Linears that get adapters: q, k, v and the MLP's first


class LoRALinear(nn.Module):
    """A frozen Linear plus a trainable low-rank change: x W^T + b + x A^T B^T.

    (The paper also scales the change by alpha / rank; with Adam that acts like a
    learning rate for the adapter, and here the learning rate itself does that job.)"""

    def __init__(self, base: nn.Linear, rank: int):
        super().__init__()
        self.base = base.requires_grad_(False)
        # A starts random (standard deviation 1/√in), B at zero: the change starts at 0
        self.lora_A = nn.Parameter(
            torch.randn(rank, base.in_features) / math.sqrt(base.in_features)
        )
        self.lora_B = nn.Parameter(torch.zeros(base.out_features, rank))

    def forward(self, x):  # x: (B, T, in)
        down = x @ self.lora_A.T  # (B, T, rank): the few directions the adapter reads
        return self.base(x) + down @ self.lora_B.T  # (B, T, out)

    def merged(self) -> nn.Linear:
        """One Linear computing the same (up to rounding): W + B A."""
        merged = nn.Linear(
            self.base.in_features, self.base.out_features, self.base.bias is not None
        )
        with torch.no_grad():
            merged.weight.copy_(self.base.weight + self.lora_B @ self.lora_A)
            if self.base.bias is not None:
                merged.bias.copy_(self.base.bias)
        return merged


class TrainableTokens(nn.Module):
    """A tied token table (wte, which is lm_head's weight) frozen except for the rows of
    `indices`, which train: the same module reads ids in (as wte) and scores hidden
    states out (as lm_head), so a trained row is the token both ways, as tying makes it."""

    def __init__(self, embedding: nn.Embedding, head: nn.Linear, indices: list[int]):
        super().__init__()
        self.embedding, self.head = embedding, head  # the originals, frozen and tied
        self.register_buffer("indices", torch.tensor(indices, dtype=torch.long))
        self.rows = nn.Parameter(head.weight[self.indices].detach().clone())  # (k, C)

    def table(self) -> torch.Tensor:
        """The whole table, (vocab, C): the frozen rows, with the trained ones in place."""
        return self.head.weight.index_copy(0, self.indices, self.rows)

    def forward(self, x):
        if x.dtype == torch.long:  # ids (B, T): read in, as wte
            return nn.functional.embedding(x, self.table())  # (B, T, C)
        return x @ self.table().T  # hidden states (B, T, C): scored out, as lm_head

    def merged(self) -> tuple[nn.Embedding, nn.Linear]:
        """A plain tied wte and lm_head holding the whole table."""
        head = nn.Linear(self.head.in_features, self.head.out_features, bias=False)
        embedding = nn.Embedding(*self.embedding.weight.shape)
        with torch.no_grad():
            head.weight.copy_(self.table())
        embedding.weight = head.weight
        return embedding, head


def _targets(model: nn.Module, kind: type):
    """(parent, name, child) for every child of type `kind` named in TARGETS."""
    return [
        (parent, name, child)
        for parent in model.modules()
        for name, child in parent.named_children()
        if name in TARGETS and isinstance(child, kind)
    ]


def add_lora(model: GPT, rank: int, tokens: list[int] = ()) -> GPT:
    """Freeze every parameter of `model`, then wrap each target Linear in a LoRALinear
    whose adapter is all that trains, and let the rows of `tokens` (ids) in the tied
    wte/lm_head train too. Changes the model in place and returns it."""
    model.requires_grad_(False)
    for parent, name, linear in _targets(model, nn.Linear):
        setattr(parent, name, LoRALinear(linear, rank))
    if tokens:
        rows = TrainableTokens(model.transformer.wte, model.lm_head, list(tokens))
        model.transformer.wte = model.lm_head = rows
    return model


def _token_rows(model: nn.Module) -> TrainableTokens | None:
    return next((m for m in model.modules() if isinstance(m, TrainableTokens)), None)


def remove_lora(model: nn.Module) -> nn.Module:
    """Put every wrapped Linear (and the token table) back as it was: what is left is the
    base model."""
    for parent, name, wrapped in _targets(model, LoRALinear):
        setattr(parent, name, wrapped.base)
    if rows := _token_rows(model):
        model.transformer.wte, model.lm_head = rows.embedding, rows.head
    return model


def merge_lora(model: nn.Module) -> nn.Module:
    """Replace every LoRALinear by one merged Linear: a plain GPT again, no slower than
    the base, which a runtime that knows nothing of LoRA can run."""
    for parent, name, wrapped in _targets(model, LoRALinear):
        setattr(parent, name, wrapped.merged())
    if rows := _token_rows(model):
        model.transformer.wte, model.lm_head = rows.merged()
    return model


def trainable(model: nn.Module) -> int:
    """Parameters the optimizer will update (configure_optimizers takes only these)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


class LoRAGPT(GPT):
    """A GPT with rank-`rank` adapters on every c_attn and c_fc, built in one go (the
    book's diagram draws this; fine-tuning adds adapters to a trained GPT instead)."""

    def __init__(self, config: GPTConfig, rank: int = 8):
        super().__init__(config)
        add_lora(self, rank)
