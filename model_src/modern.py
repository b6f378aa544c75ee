"""What modern LLMs (Llama, Mistral, Qwen, nanochat, ...) change in GPT-2's block, one
switch each.

    model = ModernGPT(ModernConfig(**gpt_fields, rmsnorm=True, swiglu=True, rope=True))

Eight changes, each off by default. Llama's five:

    bias=False    no biases in the Linear layers and norms
    rmsnorm       RMSNorm: rescale by the root mean square, no mean subtracted, no bias
    swiglu        SwiGLU MLP: a gated MLP, its width cut to keep the parameter count
    rope          rotary position embeddings: positions turn q and k, no wpe table
    n_kv_head     grouped-query attention: fewer key/value heads than query heads

and three more of today's small GPTs (nanochat's block):

    relu2         ReLU² in the MLP instead of GELU: relu(x)**2
    qk_norm       queries and keys RMS-normalised per head before their dot product
    untied        an input embedding of its own, not shared with lm_head

One more switch, wpe, keeps or drops the learned position table on its own, to test what
RoPE brings apart from what it replaces. And one of nanochat's later changes (January
2026), after Mistral 7B (October 2023):

    window        sliding-window attention: each query sees only the last W positions

With every switch off, ModernGPT is GPT: the same parameters under the same names,
created in the same order, so one seed gives the same weights and a GPT state dict
loads into it. model.py, the GPT that nanoGPT checkpoints load into, is not changed.
"""

import math
from dataclasses import dataclass

import torch
import torch.nn as nn
from torch.nn import functional as F

from .model import GPT, MLP, GPTConfig, LayerNorm


@dataclass
class ModernConfig(GPTConfig):
    rmsnorm: bool = False
    swiglu: bool = False
    rope: bool = False
    n_kv_head: int = 0  # 0: as many as n_head (ordinary multi-head attention)
    # RoPE's speeds: pair i turns base^(-2i/hs) radians a position, so the slowest pair
    # turns once in 2π·base^((hs-2)/hs) positions: the larger the base, the slower the turns
    rope_base: float = 10000.0
    wpe: bool | None = None  # the learned position table; None: there is one unless rope
    relu2: bool = False
    qk_norm: bool = False
    untied: bool = False
    window: int = 0  # 0: every earlier position; W: only the last W, the query's own included

    def __post_init__(self):
        if self.wpe is None:
            self.wpe = not self.rope


class RMSNorm(nn.Module):
    """x / rms(x) * weight. LayerNorm also subtracts the mean and adds a bias; dropping
    both saves a reduction and, in practice (Zhang & Sennrich 2019), costs nothing."""

    def __init__(self, ndim: int, eps: float = 1e-5):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(ndim))

    def forward(self, x):
        rms = x.pow(2).mean(dim=-1, keepdim=True).add(self.eps).sqrt()  # (B, T, 1)
        return x / rms * self.weight


def rope_angles(head_size: int, block_size: int, base: float = 10000.0) -> torch.Tensor:
    """(block_size, hs/2) angles: position t turns channel pair i by t * base^(-2i/hs).
    Pair 0 turns fastest (a radian per position); later pairs ever more slowly."""
    speeds = base ** (-torch.arange(0, head_size, 2).float() / head_size)  # (hs/2,)
    return torch.outer(torch.arange(block_size).float(), speeds)  # (T, hs/2)


def window_mask(T: int, window: int, device=None) -> torch.Tensor:
    """(T, T) bool, True where query t may attend to key s: s <= t, as in causal attention,
    and s > t - window, the last `window` positions (t's own included). A key older than
    that is never read again, so a KV cache can drop it: the cache stops growing at W."""
    return torch.ones(T, T, dtype=torch.bool, device=device).tril().triu(1 - window)


def rotate(x: torch.Tensor, angles: torch.Tensor) -> torch.Tensor:
    """Turn each channel pair (x[2i], x[2i+1]) of x (B, nh, T, hs) by its angle at its
    position. A rotation keeps lengths, and q(t)·k(s) after turning by t and s depends
    on t - s only: attention scores see relative positions."""
    T = x.size(-2)
    cos, sin = angles[:T].cos(), angles[:T].sin()  # (T, hs/2), broadcast over B and nh
    even, odd = x[..., 0::2], x[..., 1::2]  # (B, nh, T, hs/2)
    turned = torch.stack((even * cos - odd * sin, even * sin + odd * cos), dim=-1)
    return turned.flatten(-2)  # pairs back side by side: (B, nh, T, hs)


class Attention(nn.Module):
    """CausalSelfAttention with four options: queries and keys turned by RoPE,
    n_kv_head < n_head key/value heads, each shared by a group of query heads (GQA),
    queries and keys normalised before they meet (QK-norm), and a sliding window."""

    def __init__(self, config: ModernConfig):
        super().__init__()
        self.n_head = config.n_head
        self.n_kv_head = config.n_kv_head or config.n_head
        if config.n_embd % config.n_head or config.n_head % self.n_kv_head:
            raise ValueError("n_embd must divide by n_head, and n_head by n_kv_head")
        hs = config.n_embd // config.n_head
        # queries for every head; keys and values only for the n_kv_head shared ones
        self.c_attn = nn.Linear(
            config.n_embd, config.n_embd + 2 * self.n_kv_head * hs, bias=config.bias
        )
        self.c_proj = nn.Linear(config.n_embd, config.n_embd, bias=config.bias)
        if config.rope:  # a constant of the shape, not learned: left out of the state dict
            angles = rope_angles(hs, config.block_size, config.rope_base)
            self.register_buffer("angles", angles, persistent=False)
        else:
            self.angles = None
        self.qk_norm = config.qk_norm
        if config.window < 0:
            raise ValueError("window must be 0 (no window) or a number of positions")
        self.window = config.window

    def heads(self, x):
        """Queries, keys and values, each (B, nh, T, hs), as the attention weights see them."""
        B, T, C = x.size()
        hs, kv = C // self.n_head, self.n_kv_head
        q, k, v = self.c_attn(x).split([C, kv * hs, kv * hs], dim=2)
        q = q.view(B, T, self.n_head, hs).transpose(1, 2)  # (B, nh, T, hs)
        k = k.view(B, T, kv, hs).transpose(1, 2)  # (B, kv, T, hs)
        v = v.view(B, T, kv, hs).transpose(1, 2)  # (B, kv, T, hs)
        if self.qk_norm:  # q, k of length sqrt(hs): scores q·k/sqrt(hs) within ±sqrt(hs)
            q, k = F.rms_norm(q, (hs,)), F.rms_norm(k, (hs,))
        if self.angles is not None:
            q, k = rotate(q, self.angles), rotate(k, self.angles)  # v carries content only
        # each key/value head serves n_head // kv consecutive query heads; only kv of
        # them are computed, and a KV cache would store only kv of them
        k = k.repeat_interleave(self.n_head // kv, dim=1)  # (B, nh, T, hs)
        v = v.repeat_interleave(self.n_head // kv, dim=1)  # (B, nh, T, hs)
        return q, k, v

    def forward(self, x):
        B, T, C = x.size()
        if self.window:
            mask = window_mask(T, self.window, x.device)
            y = F.scaled_dot_product_attention(*self.heads(x), attn_mask=mask)  # (B, nh, T, hs)
        else:  # GPT's call, kept as it was: the switches off give GPT's numbers exactly
            y = F.scaled_dot_product_attention(*self.heads(x), is_causal=True)
        y = y.transpose(1, 2).contiguous().view(B, T, C)
        return self.c_proj(y)

    def scores(self, x):
        """The scores the softmax turns into weights, q·k/sqrt(hs): (B, nh, T, T), every
        key left in (the causal mask, and the window if any, are applied after them)."""
        q, k, _ = self.heads(x)
        return q @ k.transpose(-2, -1) / math.sqrt(q.size(-1))


class SwiGLU(nn.Module):
    """silu(x W_gate) * (x W_up), projected back (Shazeer 2020). The gate lets each
    hidden unit scale its own signal. Three matrices instead of two: a hidden width of
    8C/3 instead of 4C keeps the MLP at 8C^2 weights, as in GPT-2."""

    def __init__(self, config: ModernConfig):
        super().__init__()
        self.hidden = 8 * config.n_embd // 3
        # gate and up projection in one matmul, as c_attn makes q, k and v in one
        self.c_fc = nn.Linear(config.n_embd, 2 * self.hidden, bias=config.bias)
        self.c_proj = nn.Linear(self.hidden, config.n_embd, bias=config.bias)

    def forward(self, x):
        gate, up = self.c_fc(x).split(self.hidden, dim=-1)  # each (B, T, hidden)
        return self.c_proj(F.silu(gate) * up)  # (B, T, C)


class ReLU2MLP(nn.Module):
    """GPT's MLP with relu(x)**2 for GELU (So et al. 2021, Primer; nanochat's MLP): as
    cheap as ReLU, and smooth at 0 like GELU. Same weights, same count, same names."""

    def __init__(self, config: ModernConfig):
        super().__init__()
        self.c_fc = nn.Linear(config.n_embd, 4 * config.n_embd, bias=config.bias)
        self.c_proj = nn.Linear(4 * config.n_embd, config.n_embd, bias=config.bias)

    def forward(self, x):
        return self.c_proj(F.relu(self.c_fc(x)).square())  # (B, T, 4C) in, (B, T, C) out


class ModernBlock(nn.Module):
    """Block, with the norm, attention and MLP its config picks."""

    def __init__(self, config: ModernConfig):
        super().__init__()
        self.ln_1 = norm(config)
        self.attn = Attention(config)
        self.ln_2 = norm(config)
        if config.swiglu:
            self.mlp = SwiGLU(config)
        else:
            self.mlp = ReLU2MLP(config) if config.relu2 else MLP(config)

    def forward(self, x):
        x = x + self.attn(self.ln_1(x))
        x = x + self.mlp(self.ln_2(x))
        return x


def norm(config: ModernConfig) -> nn.Module:
    return RMSNorm(config.n_embd) if config.rmsnorm else LayerNorm(config.n_embd, config.bias)


class ModernGPT(nn.Module):
    """GPT with the switches of ModernConfig. No dropout: modern pretraining runs see
    each token about once, so there is little to overfit."""

    def __init__(self, config: ModernConfig):
        super().__init__()
        if config.dropout:
            raise ValueError("ModernGPT has no dropout; set dropout=0.0")
        self.config = config
        layers = dict(wte=nn.Embedding(config.vocab_size, config.n_embd))
        if config.wpe:  # by default only without RoPE: with it, positions live in the scores
            layers["wpe"] = nn.Embedding(config.block_size, config.n_embd)
        layers["h"] = nn.ModuleList([ModernBlock(config) for _ in range(config.n_layer)])
        layers["ln_f"] = norm(config)
        self.transformer = nn.ModuleDict(layers)
        self.lm_head = nn.Linear(config.n_embd, config.vocab_size, bias=False)
        if not config.untied:  # tied, as in GPT; untied, wte keeps its own initial weights
            self.transformer.wte.weight = self.lm_head.weight
        self.apply(self._init_weights)
        for name, param in self.named_parameters():  # GPT's scaled residual writes
            if name.endswith("c_proj.weight"):
                nn.init.normal_(param, mean=0.0, std=0.02 / math.sqrt(2 * config.n_layer))

    # unchanged from GPT
    _init_weights = GPT._init_weights
    configure_optimizers = GPT.configure_optimizers
    generate = GPT.generate

    def get_num_params(self, non_embedding: bool = True) -> int:
        """As GPT counts them: without the position table, if there is one."""
        n_params = sum(p.numel() for p in self.parameters())
        if non_embedding and "wpe" in self.transformer:
            n_params -= self.transformer.wpe.weight.numel()
        return n_params

    def embed(self, idx):
        """Each token's vector, plus its position's row if there is a position table."""
        T = idx.size(1)
        if self.config.block_size < T:
            raise ValueError(f"sequence of length {T} exceeds block_size {self.config.block_size}")
        x = self.transformer.wte(idx)  # (B, T, C)
        if "wpe" in self.transformer:
            x = x + self.transformer.wpe(torch.arange(T, device=idx.device))
        return x  # (B, T, C)

    def forward(self, idx, targets=None):
        """As GPT.forward: all logits and the loss with targets, else the last logits."""
        x = self.embed(idx)  # (B, T, C)
        for block in self.transformer.h:
            x = block(x)
        x = self.transformer.ln_f(x)
        if targets is None:
            return self.lm_head(x[:, [-1], :]), None  # (B, 1, vocab_size)
        logits = self.lm_head(x)  # (B, T, vocab_size)
        loss = F.cross_entropy(logits.view(-1, logits.size(-1)), targets.view(-1), ignore_index=-1)
        return logits, loss
