"""Look inside a GPT without changing model.py: its attention weights, and its heads
one at a time.

The fused attention kernel never builds the (T, T) matrix of attention weights, so
inside the context manager every attention layer takes its plain path instead, and a
forward hook on `attn_dropout` catches the matrix on its way through (after softmax,
so each row sums to 1). On leaving, the model is exactly as it was.

    with attention_maps(model) as maps:
        model(idx)
    maps[layer]  # (B, nh, T, T): row t holds how much position t attends to each position

Dropout is applied inside the hooked module, so use model.eval() for clean maps.
"""

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from functools import partial

import torch

from .model import GPT, causal_mask

# A head is needed when silencing it costs at least this share of the held-out problems: a
# single problem whose likeliest letters nearly tie can flip on rounding alone.
NEEDED_SHARE = 0.02


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


@contextmanager
def heads_off(model: GPT, heads: Iterable[tuple[int, int]]) -> Iterator[None]:
    """Silence the given (layer, head) pairs: their outputs are zeroed just before
    c_proj mixes the heads back together, so they write nothing into the stream.

    with heads_off(model, [(0, 2), (1, 0)]):
        model(idx)  # as if those two heads were never there
    """
    off: dict[int, list[int]] = {}
    for layer, head in heads:
        off.setdefault(layer, []).append(head)
    hs = model.config.n_embd // model.config.n_head
    handles = []

    def zero_heads(module, inputs, heads):
        y = inputs[0].clone()  # (B, T, C): the heads' outputs side by side
        for head in heads:
            y[..., head * hs : (head + 1) * hs] = 0
        return (y,)

    try:
        for layer, heads_here in off.items():
            c_proj = model.transformer.h[layer].attn.c_proj
            hook = partial(zero_heads, heads=heads_here)
            handles.append(c_proj.register_forward_pre_hook(hook))
        yield
    finally:
        for handle in handles:
            handle.remove()
