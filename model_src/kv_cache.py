"""Generation with a KV cache: the same tokens as GPT.generate, without recomputing the past.

GPT.generate runs the whole context through every block for each new token, although
the keys and values of the earlier positions are the same every time: a position only
attends to itself and to earlier positions, so nothing later changes them. Keeping
them per layer turns generation into

    prefill: one forward pass over the prompt, filling the cache;
    decode:  for each new token, a forward pass over that one position, whose query
             attends to the cached keys and values plus its own.

    from model_src import kv_cache
    out = kv_cache.generate(model, idx, max_new_tokens=100, temperature=0.8, top_k=20)

The cache holds one key and one value of C numbers per layer and position: 2·L·T·C
numbers per sequence. It reads the model's own modules, so any GPT (ours or loaded from
a nanoGPT checkpoint) works unchanged.
"""

import torch
from torch.nn import functional as F

from .model import GPT, CausalSelfAttention

Cache = list[tuple[torch.Tensor, torch.Tensor]]  # per layer: keys, values (B, nh, T, hs)


def attend(attn: CausalSelfAttention, x: torch.Tensor, past: tuple | None):
    """CausalSelfAttention.forward for the new positions x (B, t, C) after the cached
    ones; returns the output and the keys and values of all positions so far."""
    B, t, C = x.size()
    q, k, v = attn.c_attn(x).split(attn.n_embd, dim=2)  # each (B, t, C)
    q, k, v = (z.view(B, t, attn.n_head, C // attn.n_head).transpose(1, 2) for z in (q, k, v))
    if past is not None:
        k = torch.cat((past[0], k), dim=2)  # (B, nh, T, hs), T = cached + t
        v = torch.cat((past[1], v), dim=2)
    T = k.size(2)
    # the new queries are the last t of T positions: query i may see keys 0 ... T - t + i
    mask = torch.ones(t, T, dtype=torch.bool, device=x.device).tril(diagonal=T - t)
    y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)  # (B, nh, t, hs)
    y = y.transpose(1, 2).contiguous().view(B, t, C)
    return attn.c_proj(y), (k, v)


def forward(model: GPT, idx: torch.Tensor, cache: Cache | None):
    """GPT.forward without targets, for new tokens idx (B, t) placed after the cached
    positions. Returns the last position's logits (B, 1, vocab_size) and the new cache."""
    start = 0 if cache is None else cache[0][0].size(2)
    pos = torch.arange(start, start + idx.size(1), device=idx.device)
    x = model.transformer.wte(idx) + model.transformer.wpe(pos)  # (B, t, C)
    new_cache = []
    for layer, block in enumerate(model.transformer.h):
        out, kv = attend(block.attn, block.ln_1(x), None if cache is None else cache[layer])
        x = x + out
        x = x + block.mlp(block.ln_2(x))
        new_cache.append(kv)
    return model.lm_head(model.transformer.ln_f(x[:, [-1], :])), new_cache


class CachedGPT:
    """Stands in for the model inside GPT.generate: each call returns the same logits
    as model(context), but computes only the positions the cache has not seen."""

    def __init__(self, model: GPT):
        self.model, self.config = model, model.config
        self.cache: Cache | None = None

    def __call__(self, context: torch.Tensor):
        cached = 0 if self.cache is None else self.cache[0][0].size(2)
        if cached != context.size(1) - 1:
            # first call (prefill), or the context outgrew block_size and generate cropped
            # it: every token now sits at a new position, so the cached keys are stale
            self.cache, cached = None, 0
        logits, self.cache = forward(self.model, context[:, cached:], self.cache)
        return logits, None


def generate(model: GPT, idx, max_new_tokens, temperature=1.0, top_k=None, top_p=None):
    """GPT.generate with a KV cache: its loop and its sampling, run on a CachedGPT."""
    return GPT.generate(CachedGPT(model), idx, max_new_tokens, temperature, top_k, top_p)


def cache_numbers(model: GPT, context_length: int) -> int:
    """How many numbers the cache holds for one sequence: a key and a value of C numbers
    for every layer and position, 2·L·T·C."""
    return 2 * model.config.n_layer * context_length * model.config.n_embd


# What one sequence's cache holds, for the attention variants models use today. Plain
# arithmetic on the shape, no tensors: it counts models too large to build here.


def numbers_per_token(n_layer: int, n_kv_head: int, head_size: int) -> int:
    """A key and a value of head_size numbers per k/v head and layer, for each token of
    context. Multi-head attention has n_kv_head = n_head (then this is 2·L·C, as in
    cache_numbers); grouped-query attention fewer, each shared by a group of query
    heads; multi-query attention one."""
    return 2 * n_layer * n_kv_head * head_size


def mla_sizes(head_size: int) -> tuple[int, int]:
    """The latent and RoPE-key sizes of multi-head latent attention (MLA) as DeepSeek-V2
    (DeepSeek-AI, arXiv 2405.04434, May 2024) sets them from the head size d_h:
    d_c = 4·d_h and d_h^R = d_h / 2, 512 and 64 in its 236B model (d_h = 128)."""
    return 4 * head_size, head_size // 2


def latent_numbers_per_token(n_layer: int, latent_size: int, rope_size: int) -> int:
    """MLA caches, per layer and token, one compressed latent of latent_size numbers, out
    of which every head's key and value are projected when it attends, and one key of
    rope_size numbers, shared by all heads, that carries the position. The position
    cannot go into the latent: a rotation that depends on it would sit between the
    latent's projection to keys and the query, and that projection could no longer be
    folded into the query's, which is what lets MLA attend to the latent directly."""
    return n_layer * (latent_size + rope_size)


def windowed_numbers(n_kv_head: int, head_size: int, context: int, windows) -> int:
    """Numbers cached for one sequence of `context` tokens when layer l attends only to
    its last windows[l] positions (None: to all of them). A windowed layer never reads an
    older key again, so its cache can drop it: it stops growing at the window."""
    per_position = 2 * n_kv_head * head_size  # one layer's key and value
    return sum(per_position * (context if w is None else min(context, w)) for w in windows)


def nanochat_windows(n_layer: int, context: int) -> list[int | None]:
    """nanochat's layer windows since March 2026 (commit a825e63; pattern "SSSL" since
    January 2026): the pattern tiled over the layers, S a short window of a quarter of
    the context, L the whole context, and the last layer always L. nanochat rounds the
    quarter up to a multiple of 128 for its kernel (2048 -> 512, unchanged); the tiny
    models here would round past their whole context, so this keeps the quarter."""
    short = -(-context // 4)  # a quarter, rounded up
    windows = [None if layer % 4 == 3 else short for layer in range(n_layer)]
    windows[-1] = None
    return windows
