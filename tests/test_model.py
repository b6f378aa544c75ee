"""model_src/model.py, model_src/probe.py and model_src/kv_cache.py: shapes, causality,
initialisation, the two attention paths, optimiser groups, checkpoint compatibility,
generation with and without a KV cache, silencing heads."""

import copy
import math

import pytest
import torch
import torch.nn.functional as F

from model_src import kv_cache
from model_src.model import GPT, GPTConfig, top_p_logits
from model_src.probe import attention_maps, heads_off


def tiny_config(**overrides) -> GPTConfig:
    values = dict(block_size=16, vocab_size=11, n_layer=2, n_head=2, n_embd=16, dropout=0.0)
    return GPTConfig(**{**values, **overrides})


@pytest.fixture
def model() -> GPT:
    torch.manual_seed(0)
    return GPT(tiny_config()).eval()


def tokens(batch: int, time: int, vocab: int = 11, seed: int = 0) -> torch.Tensor:
    return torch.randint(vocab, (batch, time), generator=torch.Generator().manual_seed(seed))


def test_forward_shapes(model):
    idx = tokens(3, 10)
    logits, loss = model(idx)
    assert logits.shape == (3, 1, 11) and loss is None  # inference: last position only
    logits, loss = model(idx, targets=tokens(3, 10, seed=1))
    assert logits.shape == (3, 10, 11) and loss.shape == ()
    torch.testing.assert_close(model(idx)[0][:, 0], logits[:, -1])


def test_too_long_input_is_an_error(model):
    with pytest.raises(ValueError, match="exceeds block_size 16"):
        model(tokens(1, 17))


def test_ignored_targets_are_not_scored(model):
    idx, targets = tokens(2, 8), tokens(2, 8, seed=1)
    logits, _ = model(idx, targets)
    masked = targets.clone()
    masked[:, :5] = -1
    expected = F.cross_entropy(logits[:, 5:].reshape(-1, 11), targets[:, 5:].reshape(-1))
    torch.testing.assert_close(model(idx, masked)[1], expected)


def test_causality_later_tokens_never_change_earlier_logits(model):
    idx = tokens(1, 12)
    logits, _ = model(idx, targets=idx)  # with targets, every position's logits
    for t in range(12):
        changed = idx.clone()
        changed[0, t] = (changed[0, t] + 1) % 11
        new_logits, _ = model(changed, targets=changed)
        torch.testing.assert_close(new_logits[:, :t], logits[:, :t])
        assert not torch.allclose(new_logits[:, t], logits[:, t])


def test_initial_loss_is_close_to_uniform_guessing():
    torch.manual_seed(0)
    model = GPT(tiny_config(vocab_size=64, n_embd=32))
    idx = tokens(8, 16, vocab=64)
    _, loss = model(idx, targets=tokens(8, 16, vocab=64, seed=1))
    assert abs(loss.item() - math.log(64)) < 0.05


def test_parameter_count_of_the_sort_model_matches_llm_viz():
    model = GPT(GPTConfig(block_size=11, vocab_size=3, n_layer=3, n_head=3, n_embd=48))
    assert model.get_num_params(non_embedding=False) == 85_584
    assert model.get_num_params() == 85_584 - 11 * 48  # minus the position embeddings


def test_state_dict_keys_follow_nanogpt(model):
    per_layer = [
        "ln_1.weight", "ln_1.bias", "attn.c_attn.weight", "attn.c_attn.bias",
        "attn.c_proj.weight", "attn.c_proj.bias", "ln_2.weight", "ln_2.bias",
        "mlp.c_fc.weight", "mlp.c_fc.bias", "mlp.c_proj.weight", "mlp.c_proj.bias",
    ]  # fmt: skip
    expected = {"transformer.wte.weight", "transformer.wpe.weight", "lm_head.weight"}
    expected |= {"transformer.ln_f.weight", "transformer.ln_f.bias"}
    expected |= {f"transformer.h.{i}.{key}" for i in range(2) for key in per_layer}
    assert set(model.state_dict()) == expected
    assert model.lm_head.weight is model.transformer.wte.weight  # tied
    for name in ("attn_dropout", "resid_dropout"):
        assert hasattr(model.transformer.h[0].attn, name)
    assert hasattr(model.transformer.h[0].mlp, "gelu")
    assert hasattr(model.transformer.h[0].mlp, "dropout")


def test_no_bias_means_no_bias_parameters():
    model = GPT(tiny_config(bias=False))
    assert not [name for name in model.state_dict() if name.endswith(".bias")]


def test_residual_projections_get_the_scaled_init():
    torch.manual_seed(0)
    n_layer = 4
    model = GPT(tiny_config(n_layer=n_layer, n_embd=64))
    for name, param in model.named_parameters():
        if name.endswith("c_proj.weight"):
            expected = 0.02 / math.sqrt(2 * n_layer)
        elif name.endswith(("c_attn.weight", "c_fc.weight", "wte.weight", "wpe.weight")):
            expected = 0.02
        else:
            continue
        assert param.std().item() == pytest.approx(expected, rel=0.1), name


def test_fused_and_plain_attention_agree(model):
    assert all(block.attn.flash for block in model.transformer.h)  # torch 2: fused
    idx = tokens(2, 16)
    fused, _ = model(idx, targets=idx)
    with attention_maps(model):
        plain, _ = model(idx, targets=idx)
    torch.testing.assert_close(plain, fused, atol=1e-5, rtol=1e-5)


def test_attention_maps_are_causal_distributions_and_leave_no_trace(model):
    state_before = {k: v.clone() for k, v in model.state_dict().items()}
    idx = tokens(3, 9)
    with attention_maps(model) as maps:
        assert maps == [None, None]
        model(idx)
    assert len(maps) == 2
    for att in maps:
        assert att.shape == (3, 2, 9, 9)  # (B, nh, T, T)
        torch.testing.assert_close(att.sum(dim=-1), torch.ones(3, 2, 9))
        assert (att.triu(diagonal=1) == 0).all()  # nothing from the future
        assert (att[..., torch.ones(9, 9).tril().bool()] > 0).all()  # the past, all of it
    # restored: fused path, no mask buffer, no hooks, same state dict
    for block in model.transformer.h:
        assert block.attn.flash and not hasattr(block.attn, "bias")
        assert not block.attn.attn_dropout._forward_hooks
    assert model.state_dict().keys() == state_before.keys()
    for key, value in model.state_dict().items():
        assert torch.equal(value, state_before[key])


def test_attention_maps_match_a_hand_computation(model):
    idx = tokens(1, 6)
    with attention_maps(model) as maps:
        model(idx)
    attn, C = model.transformer.h[0].attn, 16
    x = model.transformer.h[0].ln_1(model.transformer.wte(idx) + model.transformer.wpe.weight[:6])
    q, k, _ = attn.c_attn(x).split(C, dim=2)
    q = q.view(1, 6, 2, 8).transpose(1, 2)
    k = k.view(1, 6, 2, 8).transpose(1, 2)
    scores = (q @ k.transpose(-2, -1)) / math.sqrt(8)
    scores = scores.masked_fill(torch.ones(6, 6).triu(1).bool(), float("-inf"))
    torch.testing.assert_close(maps[0], scores.softmax(dim=-1))


def test_plain_path_is_used_where_the_fused_kernel_is_missing(model, monkeypatch):
    idx = tokens(2, 16)
    expected, _ = model(idx, targets=idx)
    monkeypatch.delattr(F, "scaled_dot_product_attention")
    plain = GPT(tiny_config())
    assert not plain.transformer.h[0].attn.flash
    assert "transformer.h.0.attn.bias" in plain.state_dict()  # the mask, as nanoGPT has it
    # a checkpoint from the fused path has no mask buffers; it loads all the same
    plain = GPT.from_checkpoint({"model_args": vars(tiny_config()), "model": model.state_dict()})
    torch.testing.assert_close(plain.eval()(idx, targets=idx)[0], expected, atol=1e-5, rtol=1e-5)


def test_nanogpt_compiled_checkpoint_with_mask_buffers_loads(model):
    state = {f"_orig_mod.{k}": v for k, v in model.state_dict().items()}
    for i in range(2):
        state[f"_orig_mod.transformer.h.{i}.attn.bias"] = torch.tril(torch.ones(16, 16)).view(
            1, 1, 16, 16
        )
    model_args = dict(n_layer=2, n_head=2, n_embd=16, block_size=16, bias=True, vocab_size=11)
    loaded = GPT.from_checkpoint({"model_args": {**model_args, "dropout": 0.0}, "model": state})
    idx = tokens(2, 16)
    torch.testing.assert_close(loaded.eval()(idx, idx)[0], model(idx, idx)[0], atol=0, rtol=0)


def test_a_tiny_batch_is_memorised():
    torch.manual_seed(0)
    model = GPT(tiny_config())
    idx, targets = tokens(4, 16), tokens(4, 16, seed=1)
    optimizer = model.configure_optimizers(0.0, 1e-2, (0.9, 0.99), "cpu")
    for _ in range(150):
        _, loss = model(idx, targets)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    assert loss.item() < 0.05


def test_optimizer_decays_matrices_only(model):
    optimizer = model.configure_optimizers(0.1, 1e-3, (0.9, 0.95), "cpu")
    decay, no_decay = optimizer.param_groups
    assert decay["weight_decay"] == 0.1 and no_decay["weight_decay"] == 0.0
    assert all(p.dim() >= 2 for p in decay["params"])
    assert all(p.dim() < 2 for p in no_decay["params"])
    # wte (= lm_head, counted once) + wpe + 4 matrices per layer; 8 vectors per layer + ln_f's 2
    assert len(decay["params"]) == 2 + 4 * 2
    assert len(no_decay["params"]) == 8 * 2 + 2
    n_numel = sum(p.numel() for group in (decay, no_decay) for p in group["params"])
    assert n_numel == model.get_num_params(non_embedding=False)
    assert optimizer.defaults["fused"]  # one kernel a tensor, on the CPU as on CUDA


def test_the_fused_step_is_adamw_s_step(model):
    """The fused kernel changes how the update runs, not what it is: from the same weights
    and gradients, the same step as PyTorch's loop one tensor at a time. (One step: after
    it, rounding leaves the twins a hair apart, and the key biases' gradient, zero but for
    rounding, is all noise, which Adam scales up to a full step.)"""
    twin = copy.deepcopy(model)
    fused = model.configure_optimizers(0.1, 1e-2, (0.9, 0.99), "cpu")
    plain = twin.configure_optimizers(0.1, 1e-2, (0.9, 0.99), "cpu")
    for group in plain.param_groups:
        group.update(fused=False, foreach=False)  # the textbook loop, tensor by tensor
    idx = tokens(2, 8)
    for net, optimizer in ((model, fused), (twin, plain)):
        net(idx, idx)[1].backward()
        optimizer.step()
    for (name, p), q in zip(model.named_parameters(), twin.parameters(), strict=True):
        torch.testing.assert_close(p, q, rtol=1e-5, atol=1e-7, msg=name)


def test_estimate_mfu_follows_the_palm_formula(model):
    n, per_token = model.get_num_params(), 6 * model.get_num_params() + 12 * 2 * 2 * 8 * 16
    assert n > 0
    assert model.estimate_mfu(4, 0.5) == pytest.approx(per_token * 16 * 4 / 0.5 / 312e12)
    assert model.estimate_mfu(4, 0.5, peak_flops=1e12) == pytest.approx(
        312 * model.estimate_mfu(4, 0.5)
    )


def test_crop_block_size(model):
    idx = tokens(1, 8)
    before, _ = model(idx, idx)
    model.crop_block_size(8)
    assert model.config.block_size == 8 and model.transformer.wpe.weight.shape == (8, 16)
    torch.testing.assert_close(model(idx, idx)[0], before)
    with pytest.raises(ValueError):
        model(tokens(1, 9))
    with pytest.raises(ValueError, match="can only shrink"):
        model.crop_block_size(12)


def test_greedy_generation_is_deterministic(model):
    idx = tokens(2, 3)
    torch.manual_seed(1)
    first = model.generate(idx, 20, top_k=1)
    torch.manual_seed(2)
    second = model.generate(idx, 20, temperature=0.5, top_k=1)
    assert first.shape == (2, 23)  # runs past block_size 16 by cropping the context
    assert torch.equal(first, second) and torch.equal(first[:, :3], idx)
    expected = idx
    for _ in range(20):
        logits, _ = model(expected[:, -16:])
        expected = torch.cat((expected, logits[:, -1].argmax(-1, keepdim=True)), dim=1)
    assert torch.equal(first, expected)


def test_sampling_follows_the_seed(model):
    idx = tokens(1, 3)
    torch.manual_seed(5)
    first = model.generate(idx, 30)
    torch.manual_seed(5)
    assert torch.equal(model.generate(idx, 30), first)
    torch.manual_seed(6)
    assert not torch.equal(model.generate(idx, 30), first)


@pytest.mark.parametrize(
    "settings", [dict(top_k=1), dict(temperature=0.8, top_k=5), dict(top_p=0.5), {}]
)
def test_kv_cache_generates_the_same_tokens(model, settings):
    idx = tokens(2, 3)
    # 20 new tokens run past block_size 16: the window slides and the cache must restart
    torch.manual_seed(3)
    plain = model.generate(idx, 20, **settings)
    torch.manual_seed(3)
    cached = kv_cache.generate(model, idx, 20, **settings)
    assert torch.equal(cached, plain)


def test_kv_cache_decodes_one_position_after_the_prefill(model):
    runner = kv_cache.CachedGPT(model)
    idx = tokens(2, 5)
    logits, _ = runner(idx)  # prefill: all five positions
    assert runner.cache[0][0].shape == (2, 2, 5, 8)  # (B, nh, T, hs) for layer 0
    torch.testing.assert_close(logits, model(idx)[0])
    longer = torch.cat((idx, tokens(2, 1, seed=1)), dim=1)
    logits, _ = runner(longer)  # decode: only the new position is computed
    assert runner.cache[0][0].size(2) == 6
    torch.testing.assert_close(logits, model(longer)[0])
    cached = sum(k.numel() + v.numel() for k, v in runner.cache)
    assert cached == 2 * kv_cache.cache_numbers(model, 6)  # 2·L·T·C for each of B = 2


def test_silencing_heads_removes_exactly_their_slice(model):
    idx = tokens(2, 6)
    c_proj = model.transformer.h[1].attn.c_proj  # reads the heads' outputs side by side
    seen = []

    def record(module, inputs):
        seen.append(inputs[0])

    before = model(idx)[0]
    with heads_off(model, []):
        torch.testing.assert_close(model(idx)[0], before)
    with c_proj.register_forward_pre_hook(record):
        model(idx)
    with heads_off(model, [(1, 0)]), c_proj.register_forward_pre_hook(record):
        silenced = model(idx)[0]  # our hook runs after heads_off's, so sees its result
    intact, zeroed = seen
    assert torch.count_nonzero(zeroed[..., :8]) == 0  # head 0: channels 0-7 (hs = 8)
    torch.testing.assert_close(zeroed[..., 8:], intact[..., 8:])  # head 1 untouched
    assert not torch.allclose(silenced, before)
    torch.testing.assert_close(model(idx)[0], before)  # the hook is gone again


def test_top_p_keeps_the_fewest_likeliest_reaching_p():
    generator = torch.Generator().manual_seed(0)
    logits = torch.randn(4, 50, generator=generator) * 2
    for top_p in (0.0, 0.3, 0.9, 1.0):
        cut = top_p_logits(logits, top_p)
        for row, kept in zip(F.softmax(logits, -1), cut > float("-inf"), strict=True):
            ranked = row.sort(descending=True).values
            n = next(i + 1 for i in range(len(ranked)) if ranked[: i + 1].sum() >= top_p - 1e-6)
            assert kept.sum() == n  # the fewest whose mass reaches p, at least one
            dropped = row[~kept]
            assert dropped.numel() == 0 or row[kept].min() >= dropped.max()  # the likeliest
        assert torch.equal(cut[cut > float("-inf")], logits[cut > float("-inf")])
