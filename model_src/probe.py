"""Look at a GPT's attention weights without changing model.py.

The fused attention kernel never builds the (T, T) matrix of attention weights, so
inside the context manager every attention layer takes its plain path instead, and a
forward hook on `attn_dropout` catches the matrix on its way through (after softmax,
so each row sums to 1). On leaving, the model is exactly as it was.

    with attention_maps(model) as maps:
        model(idx)
    maps[layer]  # (B, nh, T, T): row t holds how much position t attends to each position

Dropout is applied inside the hooked module, so use model.eval() for clean maps.
"""

from collections.abc import Iterator
from contextlib import contextmanager

import torch

from .model import GPT, causal_mask


@contextmanager
def attention_maps(model: GPT) -> Iterator[list[torch.Tensor | None]]:
    """Yield a list with one entry per layer, filled by each forward pass inside the
    block (a later pass overwrites an earlier one's maps)."""
    maps: list[torch.Tensor | None] = [None] * len(model.transformer.h)
    undo = []  # how to put back each thing we change, run in reverse order on exit
    try:
        for layer, block in enumerate(model.transformer.h):
            attn = block.attn
            undo.append(lambda attn=attn, flash=attn.flash: setattr(attn, "flash", flash))
            attn.flash = False
            if not hasattr(attn, "bias"):
                # the plain path needs the mask; non-persistent keeps state_dict() unchanged
                mask = causal_mask(model.config.block_size).to(attn.c_attn.weight.device)
                attn.register_buffer("bias", mask, persistent=False)
                undo.append(lambda attn=attn: delattr(attn, "bias"))

            def record(module, inputs, output, layer=layer):
                maps[layer] = output.detach()

            undo.append(attn.attn_dropout.register_forward_hook(record).remove)
        yield maps
    finally:
        for step in reversed(undo):
            step()
