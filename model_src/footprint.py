"""What training or running a GPT costs, counted from its shape: parameters, bytes held in
memory, FLOPs. Plain arithmetic on the arguments, no tensors, so it counts models far too
large to build here, and it runs unchanged on symbols: the scale chapter's memory
calculator (ext/live_models/memory_widget.py) traces these functions into formulas for
the page. ext/live_models/memory_check.py checks every one against what model_src/memory.py
measures on real tensors, in every build and in tests/test_memory_calculator.py.

The shape is GPT's (model.py) with grouped-query attention's n_kv_head (modern.py);
`bias` is 1 or 0 (GPTConfig.bias); `precision` is bytes per number: 4 for float32, 2
for bfloat16 with every tensor in it (mixed-precision training keeps float32 copies too).
"""

from .kv_cache import numbers_per_token

STEP_COUNT_BYTES = 4  # AdamW's step: one float32 number per parameter tensor
INDEX_BYTES = 8  # token and position ids are int64
PRECISIONS = {"fp32": 4, "bf16": 2}  # bytes per number of weights and activations


def parameters(n_layer, n_embd, n_head, n_kv_head, vocab_size, block_size, bias):
    """GPT's parameters: wte (tied to lm_head, counted once), wpe, the blocks, ln_f."""
    kv_width = n_kv_head * (n_embd // n_head)  # the keys' width, and the values'
    c_attn = n_embd * (n_embd + 2 * kv_width) + bias * (n_embd + 2 * kv_width)
    c_proj = n_embd * n_embd + bias * n_embd
    mlp = 8 * n_embd * n_embd + bias * 5 * n_embd  # c_fc to 4C and back, biases 4C + C
    norms = 2 * n_embd * (1 + bias)  # ln_1 and ln_2: a gain each, and a shift with biases
    block = c_attn + c_proj + mlp + norms
    return (vocab_size + block_size) * n_embd + n_layer * block + n_embd * (1 + bias)


def block_matrices(n_layer, n_embd, n_head, n_kv_head):
    """The numbers in the blocks' Linear weights: what Muon trains (muon.block_matrices)."""
    kv_width = n_kv_head * (n_embd // n_head)
    return n_layer * (n_embd * (n_embd + 2 * kv_width) + n_embd * n_embd + 8 * n_embd * n_embd)


def tensors(n_layer, bias):
    """How many parameter tensors: six per block (and six biases), wte, wpe, ln_f's."""
    return n_layer * 6 * (1 + bias) + 3 + bias


def optimizer_bytes(name, n_params, n_matrices, n_tensors, n_layer, precision):
    """The optimizer's buffers after a step, as torch keeps them. AdamW: two running
    averages per parameter and a step count per tensor. Muon (muon.optimizers): one
    momentum per number of the block matrices (four a block, no step count), AdamW for
    the rest. SGD with momentum: one buffer per parameter."""
    if name == "adamw":
        return 2 * n_params * precision + n_tensors * STEP_COUNT_BYTES
    if name == "muon":
        adamw_part = 2 * (n_params - n_matrices) * precision
        return n_matrices * precision + adamw_part + (n_tensors - 4 * n_layer) * STEP_COUNT_BYTES
    if name == "sgd":
        return n_params * precision
    raise ValueError(f"unknown optimizer {name!r}: adamw, muon or sgd")


OPTIMIZERS = ("adamw", "muon", "sgd")


def activation_bytes(n_layer, n_embd, n_head, n_kv_head, vocab_size, batch, context, precision):
    """What autograd saves in one forward pass with a loss (memory.saved_bytes), for GPT
    on the fused attention path without dropout, counted tensor by tensor: per token and
    block, 16C + 2·kv·hs numbers (the norms' inputs and outputs, q, k and v, attention's
    output, the MLP's 4C hidden layer before and after GELU) plus the two norms' mean and
    spread, and one float32 log-sum-exp per head that the fused kernel keeps whatever the
    precision; per token after the blocks, ln_f's input and output, its two statistics
    and the logits; the int64 token ids and positions; the loss. With fewer k/v heads than
    query heads, modern.Attention repeats the keys and values for their groups, and the
    copies are kept besides c_attn's output: 2·kv·hs more numbers."""
    tokens = batch * context
    kv_width = n_kv_head * (n_embd // n_head)
    grouped = 1 - n_kv_head // n_head  # 1 with fewer k/v heads than query heads, else 0
    block = precision * (16 * n_embd + 2 * kv_width * grouped + 4) + 4 * n_head
    head = precision * (2 * n_embd + 2 + vocab_size)
    ids = INDEX_BYTES * (tokens + context)
    return tokens * (n_layer * block + head) + ids + precision


def kv_cache_bytes(n_layer, n_embd, n_head, n_kv_head, batch, context, precision):
    """The KV cache of `batch` sequences of `context` tokens (kv_cache.numbers_per_token)."""
    per_token = numbers_per_token(n_layer, n_kv_head, n_embd // n_head)
    return per_token * batch * context * precision


def flops_per_token(n_params, n_layer, n_embd, block_size):
    """Training FLOPs per token as GPT.estimate_mfu counts them: 6N for the weights (N
    without wpe, a lookup) and 12·L·C·T for attention's two matmuls."""
    return 6 * (n_params - block_size * n_embd) + 12 * n_layer * n_embd * block_size


def training_seconds(flops_per_token, tokens, flop_per_second):
    """How long `tokens` training tokens take at a sustained throughput."""
    return flops_per_token * tokens / flop_per_second


# nanochat's d20 as its first release trained it (commit 3a5e0bc, October 2025): depth 20,
# 64 channels per layer of depth, heads of 128 channels and as many k/v heads, a 2048-token
# context, no biases, 32 sequences per device; its vocabulary had 2**16 tokens, 2**15 since
# commit ccf4b7f (January 2026).
NANOCHAT_D20 = dict(n_layer=20, n_embd=20 * 64, n_head=20 * 64 // 128, block_size=2048, bias=False)
NANOCHAT_D20_BATCH = 32
NANOCHAT_VOCAB = {"October 2025": 2**16, "January 2026": 2**15}
