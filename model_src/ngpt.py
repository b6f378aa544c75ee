"""nGPT, the transformer on the hypersphere (Loshchilov et al. 2024), written to be read.

    model = NGPT(NGPTConfig(**gpt_fields))
    ...optimizer.step(); model.normalize_weights()   # after every step

nGPT keeps its vectors at length 1:

    the token embeddings, and every weight matrix's vectors along h (normalize_weights),
    the hidden state h, after every attention and every MLP,
    each head's queries and keys inside attention, before their scale s_qk.

(The values, and what attention and the MLP propose before it is normalised, may have any
length.)

There are no LayerNorms: a block moves h a small step along the sphere towards what its
attention or MLP proposes, by a learned amount per channel (the "eigen learning rates"
alpha), and puts it back on the sphere. A dot product of unit vectors is a cosine, so
learned scales (s_qk, s_u, s_v, s_z) set how sharp attention, the MLP and the output are.
Positions turn q and k (RoPE, as in the paper); `wpe` adds GPT's learned table instead.
"""

import math
from dataclasses import dataclass

import torch
import torch.nn as nn
from torch.nn import functional as F

from .model import GPT, GPTConfig
from .modern import ModernGPT, rope_angles, rotate


@dataclass
class NGPTConfig(GPTConfig):
    # never read: every Linear below has no bias, since every output is a cosine times a
    # scale, whatever a GPT config passed in says (the sort preset's has bias=True)
    bias: bool = False
    rope_base: float = 10000.0
    wpe: bool = False  # a learned position table added to the token's vector (not RoPE)
    alpha_init: float = 0.05  # each block starts by moving h 5% of the way to its proposal
    norm_eps: float = 0.0  # lengths within 1 ± norm_eps are left as they are


def unit(x: torch.Tensor, norm_eps: float = 0.0, dim: int = -1) -> torch.Tensor:
    """x scaled to length 1 along dim. With norm_eps > 0, a vector whose length is within
    1 ± norm_eps is left alone, one outside is scaled to the nearer edge of that shell."""
    length = x.norm(dim=dim, keepdim=True)
    target = length.detach().clamp(1.0 - norm_eps, 1.0 + norm_eps)
    return x / length.clamp_min(1e-12) * target


class Scale(nn.Module):
    """A learned factor per channel, `init` at the start. It is stored as `scale` and
    multiplied by init/scale when used: Adam moves every parameter by about its learning
    rate per step, and storing a factor at a smaller size makes it move faster."""

    def __init__(self, size: int, init: float, scale: float):
        super().__init__()
        self.ratio = init / scale
        self.weight = nn.Parameter(torch.full((size,), scale))

    def forward(self):
        return self.weight * self.ratio  # (size,)


class NormAttention(nn.Module):
    """Causal attention between unit queries and keys: a score is a cosine, scaled."""

    def __init__(self, config: NGPTConfig):
        super().__init__()
        C, self.n_head = config.n_embd, config.n_head
        self.c_attn = nn.Linear(C, 3 * C, bias=False)
        self.c_proj = nn.Linear(C, C, bias=False)
        self.s_qk = Scale(C, 1.0, 1 / math.sqrt(C))  # a scale per channel of q and k
        hs = C // config.n_head
        angles = None if config.wpe else rope_angles(hs, config.block_size, config.rope_base)
        self.register_buffer("angles", angles, persistent=False)

    def heads(self, h):
        """Queries, keys and values, each (B, nh, T, hs): q and k unit vectors, then
        scaled channel by channel by s_qk (all ones at the start)."""
        B, T, C = h.size()
        qkv = self.c_attn(h).view(B, T, 3, self.n_head, C // self.n_head)
        q, k, v = qkv.permute(2, 0, 3, 1, 4)  # each (B, nh, T, hs)
        if self.angles is not None:
            q, k = rotate(q, self.angles), rotate(k, self.angles)
        s_qk = self.s_qk().view(self.n_head, 1, C // self.n_head)  # (nh, 1, hs)
        return unit(q) * s_qk, unit(k) * s_qk, v

    def forward(self, h):
        B, T, C = h.size()
        q, k, v = self.heads(h)
        # a cosine times s_qk^2 lies in about [-1, 1] at the start: sqrt(hs), not
        # 1/sqrt(hs), gives the softmax GPT's range of scores
        scale = math.sqrt(C // self.n_head)
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True, scale=scale)
        return self.c_proj(y.transpose(1, 2).reshape(B, T, C))

    def scores(self, h):
        """What the softmax turns into weights: (B, nh, T, T), the future left in."""
        q, k, _ = self.heads(h)
        return q @ k.transpose(-2, -1) * math.sqrt(q.size(-1))


class NormMLP(nn.Module):
    """A SwiGLU MLP (modern.py's width, 8C/3) whose two projections, each a cosine with
    unit rows and a unit h, are scaled: v, the gate, by s_v·√C, since a cosine is too small
    for SiLU to bend; u, the branch the gate multiplies, by s_u."""

    def __init__(self, config: NGPTConfig):
        super().__init__()
        C, self.hidden = config.n_embd, 8 * config.n_embd // 3
        self.c_fc = nn.Linear(C, 2 * self.hidden, bias=False)
        self.c_proj = nn.Linear(self.hidden, C, bias=False)
        self.s_u = Scale(self.hidden, 1.0, 1.0)
        self.s_v = Scale(self.hidden, 1.0, 1.0)
        self.sqrt_C = math.sqrt(C)

    def forward(self, h):
        u, v = self.c_fc(h).split(self.hidden, dim=-1)  # each (B, T, hidden)
        u, v = u * self.s_u(), v * self.s_v() * self.sqrt_C  # v: a cosine, back to GPT's range
        return self.c_proj(u * F.silu(v))  # (B, T, C)


class NormBlock(nn.Module):
    """h moves towards each sub-layer's proposal, by alpha per channel, along the sphere."""

    def __init__(self, config: NGPTConfig):
        super().__init__()
        C, self.norm_eps = config.n_embd, config.norm_eps
        self.attn, self.mlp = NormAttention(config), NormMLP(config)
        self.alpha_a = Scale(C, config.alpha_init, 1 / math.sqrt(C))  # eigen learning rates
        self.alpha_m = Scale(C, config.alpha_init, 1 / math.sqrt(C))

    def forward(self, h):
        eps = self.norm_eps
        # h + alpha (target - h): linear interpolation, then back onto the sphere
        h = unit(h + self.alpha_a() * (unit(self.attn(h), eps) - h), eps)
        h = unit(h + self.alpha_m() * (unit(self.mlp(h), eps) - h), eps)
        return h  # (B, T, C), every position of length 1


class NGPT(nn.Module):
    """Unit token vectors in, nGPT blocks, an untied output layer whose rows are unit too:
    each logit is a cosine between h and a token's output vector, times s_z."""

    def __init__(self, config: NGPTConfig):
        super().__init__()
        if config.dropout:
            raise ValueError("NGPT has no dropout; set dropout=0.0")
        self.config = config
        layers = dict(wte=nn.Embedding(config.vocab_size, config.n_embd))
        if config.wpe:
            layers["wpe"] = nn.Embedding(config.block_size, config.n_embd)
        layers["h"] = nn.ModuleList([NormBlock(config) for _ in range(config.n_layer)])
        self.transformer = nn.ModuleDict(layers)
        self.lm_head = nn.Linear(config.n_embd, config.vocab_size, bias=False)
        self.s_z = Scale(config.vocab_size, 1.0, 1 / math.sqrt(config.n_embd))
        self.apply(self._init_weights)  # only directions survive normalize_weights
        self.normalize_weights()

    _init_weights = GPT._init_weights
    configure_optimizers = GPT.configure_optimizers
    generate = GPT.generate
    # counted and embedded as ModernGPT does: tokens, and a position table if there is one
    get_num_params = ModernGPT.get_num_params
    embed = ModernGPT.embed

    @torch.no_grad()
    def normalize_weights(self):
        """Every vector that lives in the C-dimensional space back to length 1: the rows
        of the embeddings and of the matrices reading h (one per output), the columns of
        the matrices writing to it (one per input)."""
        for name, param in self.named_parameters():
            if name.endswith("c_proj.weight"):
                param.copy_(unit(param, dim=0))  # (C, inputs): each input's write to h
            elif param.dim() == 2:
                param.copy_(unit(param, dim=1))  # (outputs, C) or (vocab/T, C)

    def forward(self, idx, targets=None):
        """As GPT.forward: all logits and the loss with targets, else the last logits."""
        h = self.embed(idx)  # (B, T, C): unit token rows, plus a position's row with wpe
        if "wpe" in self.transformer:
            h = unit(h)  # the sum, back on the sphere
        for block in self.transformer.h:
            h = block(h)
        if targets is None:
            return self.s_z() * self.lm_head(h[:, [-1], :]), None  # (B, 1, vocab_size)
        logits = self.s_z() * self.lm_head(h)  # (B, T, vocab_size)
        loss = F.cross_entropy(logits.view(-1, logits.size(-1)), targets.view(-1), ignore_index=-1)
        return logits, loss
