"""A GPT language model in one file, meant to be read from top to bottom.

The architecture, the class names and every parameter name follow Andrej Karpathy's
nanoGPT, so checkpoints load in either project. The building blocks come first:

    LayerNorm -> CausalSelfAttention -> MLP -> Block -> GPTConfig -> GPT

Shape comments use B = batch size, T = sequence length (time), C = channels
(n_embd), nh = number of heads, hs = head size (C // nh).
"""

import math
from dataclasses import dataclass

import torch
import torch.nn as nn
from torch.nn import functional as F


class LayerNorm(nn.Module):
    """Normalise each position's channels to zero mean and unit variance, then rescale.

    Written out because the bias must be optional, which nn.LayerNorm allowed only from
    PyTorch 2.1 on, after nanoGPT: GPT-2 has one, and dropping it makes a model slightly
    smaller, faster and (in nanoGPT's experience) no worse.
    """

    def __init__(self, ndim: int, bias: bool):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(ndim))
        self.bias = nn.Parameter(torch.zeros(ndim)) if bias else None

    def forward(self, x):
        return F.layer_norm(x, self.weight.shape, self.weight, self.bias, eps=1e-5)


def top_p_logits(logits, top_p):
    """Nucleus sampling's cut: keep the likeliest tokens until their probabilities sum to
    top_p (at least one token), set the rest to -inf. logits (..., V), any order."""
    ordered, order = torch.sort(logits, dim=-1, descending=True)
    probs = F.softmax(ordered, dim=-1)
    before = probs.cumsum(dim=-1) - probs  # the mass of the tokens ranked above each one
    enough = before >= top_p  # enough without this token
    enough[..., 0] = False  # the likeliest always stays
    ordered = ordered.masked_fill(enough, float("-inf"))
    return torch.empty_like(logits).scatter(-1, order, ordered)


def causal_mask(block_size: int) -> torch.Tensor:
    """Ones on and below the diagonal: row t marks the positions that position t may see."""
    return torch.tril(torch.ones(block_size, block_size)).view(1, 1, block_size, block_size)


class CausalSelfAttention(nn.Module):
    """Every position gathers information from itself and the positions before it.

    Each head scores every earlier position (query . key), turns the scores into
    weights with a softmax and takes the weighted average of their values.
    """

    def __init__(self, config: "GPTConfig"):
        super().__init__()
        if config.n_embd % config.n_head != 0:
            raise ValueError(f"n_embd={config.n_embd} is not divisible by n_head={config.n_head}")
        # a single matmul makes the queries, keys and values of all heads at once
        self.c_attn = nn.Linear(config.n_embd, 3 * config.n_embd, bias=config.bias)
        # mixes the heads' outputs back into the residual stream
        self.c_proj = nn.Linear(config.n_embd, config.n_embd, bias=config.bias)
        self.attn_dropout = nn.Dropout(config.dropout)
        self.resid_dropout = nn.Dropout(config.dropout)
        self.n_head = config.n_head
        self.n_embd = config.n_embd
        self.dropout = config.dropout
        # PyTorch 2 has a fused attention kernel: faster and lighter on memory, but it
        # never materialises the attention matrix. probe.py turns it off to look inside.
        self.flash = hasattr(F, "scaled_dot_product_attention")
        if not self.flash:
            # nanoGPT calls the mask "bias"; the name is kept so state dicts match
            self.register_buffer("bias", causal_mask(config.block_size))

    def forward(self, x):
        B, T, C = x.size()
        q, k, v = self.c_attn(x).split(self.n_embd, dim=2)  # each (B, T, C)
        # give every head its own slice of the channels, and move heads next to batch
        q = q.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)  # (B, nh, T, hs)
        k = k.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)  # (B, nh, T, hs)
        v = v.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)  # (B, nh, T, hs)
        if self.flash:
            dropout_p = self.dropout if self.training else 0.0
            y = F.scaled_dot_product_attention(q, k, v, dropout_p=dropout_p, is_causal=True)
        else:
            # dividing by sqrt(hs) keeps the scores' variance near 1, so the softmax
            # does not saturate into a one-hot choice at initialisation
            att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(k.size(-1)))  # (B, nh, T, T)
            att = att.masked_fill(self.bias[:, :, :T, :T] == 0, float("-inf"))  # hide the future
            att = F.softmax(att, dim=-1)  # each row now sums to 1
            att = self.attn_dropout(att)
            y = att @ v  # (B, nh, T, T) @ (B, nh, T, hs) -> (B, nh, T, hs)
        y = y.transpose(1, 2).contiguous().view(B, T, C)  # heads side by side again
        return self.resid_dropout(self.c_proj(y))


class MLP(nn.Module):
    """Per-position computation: widen to 4x the channels, apply GELU, project back."""

    def __init__(self, config: "GPTConfig"):
        super().__init__()
        self.c_fc = nn.Linear(config.n_embd, 4 * config.n_embd, bias=config.bias)
        self.gelu = nn.GELU()
        self.c_proj = nn.Linear(4 * config.n_embd, config.n_embd, bias=config.bias)
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, x):
        x = self.gelu(self.c_fc(x))  # (B, T, 4 * C)
        return self.dropout(self.c_proj(x))  # (B, T, C)


class Block(nn.Module):
    """One transformer layer: attention (positions talk), then MLP (each one thinks).

    Both sub-layers read a normalised copy of the residual stream x and add their
    result back to it ("pre-LayerNorm"), so x itself is never normalised away.
    """

    def __init__(self, config: "GPTConfig"):
        super().__init__()
        self.ln_1 = LayerNorm(config.n_embd, bias=config.bias)
        self.attn = CausalSelfAttention(config)
        self.ln_2 = LayerNorm(config.n_embd, bias=config.bias)
        self.mlp = MLP(config)

    def forward(self, x):
        x = x + self.attn(self.ln_1(x))
        x = x + self.mlp(self.ln_2(x))
        return x


@dataclass
class GPTConfig:
    block_size: int = 1024  # longest sequence the model can read (positions it can embed)
    vocab_size: int = 50304  # GPT-2's 50257 tokens padded up to a multiple of 64
    n_layer: int = 12
    n_head: int = 12
    n_embd: int = 768
    dropout: float = 0.0
    bias: bool = True  # biases in the Linear layers and LayerNorms, as in GPT-2


class GPT(nn.Module):
    """Token + position embeddings, n_layer Blocks, a final LayerNorm, and a linear head
    that scores every vocabulary entry as the next token."""

    def __init__(self, config: GPTConfig):
        super().__init__()
        self.config = config
        self.transformer = nn.ModuleDict(
            dict(
                wte=nn.Embedding(config.vocab_size, config.n_embd),  # token embeddings
                wpe=nn.Embedding(config.block_size, config.n_embd),  # position embeddings
                drop=nn.Dropout(config.dropout),
                h=nn.ModuleList([Block(config) for _ in range(config.n_layer)]),
                ln_f=LayerNorm(config.n_embd, bias=config.bias),
            )
        )
        self.lm_head = nn.Linear(config.n_embd, config.vocab_size, bias=False)
        # Weight tying: reading a token in and scoring it as output share one matrix.
        # Similar tokens should look alike both ways, and it saves vocab_size * C params.
        self.transformer.wte.weight = self.lm_head.weight

        self.apply(self._init_weights)
        # Every block adds its two c_proj outputs to the residual stream; shrinking
        # those weights keeps the total of all writes about the same size however many
        # layers the model has (GPT-2).
        for name, param in self.named_parameters():
            if name.endswith("c_proj.weight"):
                nn.init.normal_(param, mean=0.0, std=0.02 / math.sqrt(2 * config.n_layer))

    def _init_weights(self, module):
        if isinstance(module, nn.Linear):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)

    def get_num_params(self, non_embedding: bool = True) -> int:
        """Number of parameters. By default the position embeddings are left out; the
        token embeddings stay in because, tied to lm_head, they are the output layer too."""
        n_params = sum(p.numel() for p in self.parameters())  # counts the tied matrix once
        if non_embedding:
            n_params -= self.transformer.wpe.weight.numel()
        return n_params

    def forward(self, idx, targets=None):
        """idx: (B, T) token ids. With targets (B, T), return logits for every position
        and the mean cross-entropy (targets of -1 are not scored). Without, return only
        the last position's logits (B, 1, vocab_size): all that generation needs."""
        T = idx.size(1)
        if self.config.block_size < T:
            raise ValueError(f"sequence of length {T} exceeds block_size {self.config.block_size}")
        pos = torch.arange(0, T, dtype=torch.long, device=idx.device)  # (T,)
        tok_emb = self.transformer.wte(idx)  # (B, T, C)
        pos_emb = self.transformer.wpe(pos)  # (T, C), broadcast over the batch
        x = self.transformer.drop(tok_emb + pos_emb)
        for block in self.transformer.h:
            x = block(x)
        x = self.transformer.ln_f(x)  # (B, T, C)

        if targets is not None:
            logits = self.lm_head(x)  # (B, T, vocab_size)
            loss = F.cross_entropy(
                logits.view(-1, logits.size(-1)), targets.view(-1), ignore_index=-1
            )
        else:
            logits = self.lm_head(x[:, [-1], :])  # (B, 1, vocab_size); [-1] keeps the T axis
            loss = None
        return logits, loss

    def crop_block_size(self, block_size: int):
        """Shrink the context length, e.g. to fine-tune a pretrained model on short texts."""
        if block_size > self.config.block_size:
            raise ValueError(f"can only shrink: {block_size} > {self.config.block_size}")
        self.config.block_size = block_size
        self.transformer.wpe.weight = nn.Parameter(self.transformer.wpe.weight[:block_size])
        for block in self.transformer.h:
            if hasattr(block.attn, "bias"):
                block.attn.bias = block.attn.bias[:, :, :block_size, :block_size]

    @classmethod
    def from_checkpoint(cls, checkpoint: dict) -> "GPT":
        """Rebuild a model from a checkpoint dict with 'model_args' and 'model' entries:
        ours or nanoGPT's. torch.compile prefixes every key with '_orig_mod.', and the
        causal-mask buffers ('attn.bias') exist only where the fused kernel was missing;
        both differences are smoothed over here."""
        model = cls(GPTConfig(**checkpoint["model_args"]))
        state = {k.removeprefix("_orig_mod."): v for k, v in checkpoint["model"].items()}
        own = model.state_dict()
        for key in [k for k in state if k.endswith(".attn.bias") and k not in own]:
            del state[key]  # the mask is a constant, not something learned
        for key in [k for k in own if k.endswith(".attn.bias")]:
            state[key] = own[key]
        model.load_state_dict(state)
        return model

    def configure_optimizers(self, weight_decay, learning_rate, betas, device_type):
        """AdamW with weight decay on matrices only (Linear weights and embeddings).

        Decay pulls weights towards zero, a brake on features that are not pulling
        their weight. Biases and LayerNorm gains (1-D) just shift and scale; they
        are left free."""
        params = [p for p in self.parameters() if p.requires_grad]
        groups = [
            {"params": [p for p in params if p.dim() >= 2], "weight_decay": weight_decay},
            {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0},
        ]
        # the fused kernel does the whole update in one pass over each tensor: nanoGPT
        # (2023) asks for it on CUDA only; PyTorch has had it on the CPU too since 2.4
        fused = device_type in ("cuda", "cpu")
        return torch.optim.AdamW(groups, lr=learning_rate, betas=betas, fused=fused)

    def estimate_mfu(self, fwdbwd_per_iter, dt, peak_flops=312e12):
        """Model FLOPs utilisation: the fraction of `peak_flops` (default: an A100's bf16
        peak, as in nanoGPT) that one iteration of `fwdbwd_per_iter` forward+backward
        passes taking `dt` seconds achieves. FLOP count from the PaLM paper, appendix B."""
        cfg = self.config
        N = self.get_num_params()
        L, H, Q, T = cfg.n_layer, cfg.n_head, cfg.n_embd // cfg.n_head, cfg.block_size
        # 6 flops per parameter per token (2 forward, 4 backward), plus attention's matmuls
        flops_per_token = 6 * N + 12 * L * H * Q * T
        flops_per_iter = flops_per_token * T * fwdbwd_per_iter
        return flops_per_iter / dt / peak_flops

    @torch.no_grad()
    def generate(self, idx, max_new_tokens, temperature=1.0, top_k=None, top_p=None):
        """Extend idx (B, T) by max_new_tokens sampled tokens, one at a time, each fed back
        in. temperature < 1 sharpens the distribution; top_k keeps only the k likeliest
        tokens (top_k=1 is greedy); top_p only the fewest likeliest whose probabilities
        sum to top_p. Call model.eval() first to switch dropout off."""
        for _ in range(max_new_tokens):
            # the model has block_size positions: beyond that, keep only the latest tokens
            context = idx[:, -self.config.block_size :]
            logits, _ = self(context)
            logits = logits[:, -1, :] / temperature  # (B, vocab_size)
            if top_k is not None:
                kth_best = torch.topk(logits, min(top_k, logits.size(-1))).values[:, [-1]]
                logits[logits < kth_best] = float("-inf")
            if top_p is not None:
                logits = top_p_logits(logits, top_p)
            probs = F.softmax(logits, dim=-1)
            next_token = torch.multinomial(probs, num_samples=1)  # (B, 1)
            idx = torch.cat((idx, next_token), dim=1)
        return idx
