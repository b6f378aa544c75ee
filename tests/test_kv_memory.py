"""The KV cache's size per token (model_src/kv_cache.py), against the tensors a cache holds
or a layer computes: multi-head with CachedGPT's cache, grouped-query and multi-query with
the keys and values ModernGPT's attention computes. MLA and sliding windows have no
tensors in the book: their arithmetic is checked against multi-head's."""

import pytest
import torch

from model_src import kv_cache
from model_src.model import GPT, GPTConfig
from model_src.modern import ModernConfig, ModernGPT

SHAPE = dict(block_size=16, vocab_size=11, n_layer=3, n_head=4, n_embd=32, dropout=0.0)
HEAD_SIZE = SHAPE["n_embd"] // SHAPE["n_head"]


def tokens(batch: int, time: int) -> torch.Tensor:
    return torch.randint(11, (batch, time), generator=torch.Generator().manual_seed(0))


def test_multi_head_matches_cached_gpts_cache():
    torch.manual_seed(0)
    runner = kv_cache.CachedGPT(GPT(GPTConfig(**SHAPE)).eval())
    with torch.no_grad():
        runner(tokens(1, 7))
    held = sum(k.numel() + v.numel() for k, v in runner.cache)  # B = 1, T = 7
    assert held == 7 * kv_cache.numbers_per_token(SHAPE["n_layer"], SHAPE["n_head"], HEAD_SIZE)


@pytest.mark.parametrize("n_kv_head", [4, 2, 1])  # multi-head, grouped-query, multi-query
def test_fewer_kv_heads_match_the_keys_and_values_computed(n_kv_head):
    torch.manual_seed(0)
    model = ModernGPT(ModernConfig(**SHAPE, n_kv_head=n_kv_head)).eval()
    widths = []  # what each layer's c_attn makes beyond the queries: the keys and values
    for block in model.transformer.h:
        block.attn.c_attn.register_forward_hook(
            lambda module, inputs, out: widths.append(out.size(-1) - SHAPE["n_embd"])
        )
    with torch.no_grad():
        model(tokens(1, 5))
    assert sum(widths) == kv_cache.numbers_per_token(SHAPE["n_layer"], n_kv_head, HEAD_SIZE)


def test_mla_at_deepseek_v2s_sizes_is_gqa_with_two_and_a_quarter_groups():
    latent, rope = kv_cache.mla_sizes(128)
    assert (latent, rope) == (512, 64)  # the paper's d_c and d_h^R
    mla = kv_cache.latent_numbers_per_token(60, latent, rope)
    assert mla / kv_cache.numbers_per_token(60, 1, 128) == 2.25  # the paper's comparison


def test_a_window_caps_each_layer_and_no_window_is_multi_head():
    L, T = SHAPE["n_layer"], 12
    full = kv_cache.numbers_per_token(L, 4, HEAD_SIZE) * T
    assert kv_cache.windowed_numbers(4, HEAD_SIZE, T, [None] * L) == full
    assert kv_cache.windowed_numbers(4, HEAD_SIZE, T, [T + 5] * L) == full
    assert kv_cache.windowed_numbers(4, HEAD_SIZE, T, [3, None, 3]) == full * (3 + T + 3) // (3 * T)


def test_nanochats_pattern_for_d20():
    windows = kv_cache.nanochat_windows(20, 2048)
    assert windows.count(None) == 5 and set(windows) == {None, 512} and windows[-1] is None
