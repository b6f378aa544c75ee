"""The modern variants compute what they claim: each switch checked against a hand
computation or against the GPT it replaces."""

import dataclasses
import json

import pytest
import torch
from torch.nn import functional as F

from model_src import muon, prepare, presets
from model_src import train as training
from model_src.experiments import variants, verdicts
from model_src.model import GPT, MLP, CausalSelfAttention, LayerNorm
from model_src.modern import (
    Attention,
    ModernConfig,
    ModernGPT,
    RMSNorm,
    SwiGLU,
    rope_angles,
    rotate,
    window_mask,
)
from model_src.muon import newton_schulz

SORT = presets.gpt_config("sort")


def modern(**switches) -> ModernConfig:
    return ModernConfig(**{**dataclasses.asdict(SORT), **switches})


def test_with_every_switch_off_it_is_gpt():
    torch.manual_seed(0)
    gpt = GPT(SORT)
    torch.manual_seed(0)
    twin = ModernGPT(modern())
    assert list(gpt.state_dict()) == list(twin.state_dict())
    for name, tensor in gpt.state_dict().items():
        assert torch.equal(tensor, twin.state_dict()[name]), name
    idx = presets.sample_input("sort", batch=3).contiguous()
    assert torch.equal(gpt(idx, idx)[0], twin(idx, idx)[0])
    assert torch.equal(gpt(idx)[0], twin(idx)[0])
    assert gpt.get_num_params() == twin.get_num_params()


def test_rmsnorm_is_the_formula_and_layernorm_on_centred_input():
    torch.manual_seed(0)
    x = torch.randn(2, 4, 8) * 2 + 3
    norm = RMSNorm(8)
    with torch.no_grad():
        norm.weight.copy_(torch.linspace(0.5, 2.0, 8))
        expected = x / torch.sqrt(x.pow(2).mean(-1, keepdim=True) + 1e-5) * norm.weight
        torch.testing.assert_close(norm(x), expected)
        layer_norm = LayerNorm(8, bias=False)
        layer_norm.weight.copy_(norm.weight)
        centred = x - x.mean(-1, keepdim=True)
        torch.testing.assert_close(norm(centred), layer_norm(centred), atol=1e-5, rtol=1e-5)
        assert (norm(x) - layer_norm(x)).abs().max() > 0.1  # the mean makes them differ


def test_rope_keeps_lengths_and_scores_depend_on_the_offset_only():
    torch.manual_seed(0)
    T, hs = 12, 16
    angles = rope_angles(hs, T)
    x = torch.randn(2, 3, T, hs)
    torch.testing.assert_close(rotate(x, angles).norm(dim=-1), x.norm(dim=-1))
    q, k = torch.randn(hs), torch.randn(hs)
    q_t = rotate(q.expand(1, 1, T, hs), angles)[0, 0]  # q placed at every position
    k_s = rotate(k.expand(1, 1, T, hs), angles)[0, 0]
    scores = q_t @ k_s.T  # (T, T)
    for offset in range(T):
        diagonal = scores.diagonal(-offset)
        assert (diagonal.max() - diagonal.min()) < 1e-4, offset
    # and they do depend on it: a rotation that did nothing would pass the test above
    assert (scores.diagonal(0)[0] - scores.diagonal(-3)[0]).abs() > 1e-2


def test_rope_at_position_zero_is_the_identity_and_pairs_turn_as_2d_rotations():
    angles = rope_angles(4, 3)
    x = torch.tensor([1.0, 0.0, 0.0, 1.0]).expand(1, 1, 3, 4)
    turned = rotate(x, angles)[0, 0]
    torch.testing.assert_close(turned[0], x[0, 0, 0])
    theta = angles[1, 0]  # pair 0 at position 1: (1, 0) turns to (cos, sin)
    torch.testing.assert_close(turned[1, :2], torch.stack((theta.cos(), theta.sin())))


def test_gqa_with_as_many_kv_heads_is_standard_attention():
    torch.manual_seed(0)
    standard, grouped = CausalSelfAttention(SORT), Attention(modern(n_kv_head=SORT.n_head))
    grouped.load_state_dict(standard.state_dict())
    x = torch.randn(2, SORT.block_size, SORT.n_embd)
    torch.testing.assert_close(grouped(x), standard(x), atol=1e-6, rtol=0)


def test_gqa_shares_each_kv_head_across_its_query_group():
    config = modern(n_head=4, n_embd=32, n_kv_head=2)
    attn = Attention(config)
    hs = 32 // 4
    assert attn.c_attn.out_features == 32 + 2 * 2 * hs
    torch.manual_seed(0)
    x = torch.randn(1, 5, 32)
    q, k, v = attn.c_attn(x).split([32, 2 * hs, 2 * hs], dim=2)
    # the same result by hand: query heads 0, 1 read kv head 0; heads 2, 3 read kv head 1
    q = q.view(1, 5, 4, hs).transpose(1, 2)
    k = k.view(1, 5, 2, hs).transpose(1, 2)[:, [0, 0, 1, 1]]
    v = v.view(1, 5, 2, hs).transpose(1, 2)[:, [0, 0, 1, 1]]
    y = F.scaled_dot_product_attention(q, k, v, is_causal=True).transpose(1, 2).reshape(1, 5, 32)
    torch.testing.assert_close(attn(x), attn.c_proj(y))
    with pytest.raises(ValueError):
        Attention(modern(n_kv_head=2))  # 3 query heads do not split into groups of 2


@pytest.mark.parametrize("window", [SORT.block_size, SORT.block_size + 5])
def test_a_window_as_long_as_the_context_is_causal_attention(window):
    T = SORT.block_size
    assert torch.equal(window_mask(T, window), torch.ones(T, T, dtype=torch.bool).tril())
    torch.manual_seed(0)
    plain = Attention(modern())
    windowed = Attention(modern(window=window))
    windowed.load_state_dict(plain.state_dict())
    x = torch.randn(2, T, SORT.n_embd)
    torch.testing.assert_close(windowed(x), plain(x), atol=1e-6, rtol=0)


@pytest.mark.parametrize("window", [1, 2, 4])
def test_keys_beyond_the_window_get_no_weight(window):
    """Changing the input at one position s changes the output of the queries that see it,
    s ... s + window - 1, and of no later one: their weight on it is exactly zero."""
    T, s = SORT.block_size, 2
    torch.manual_seed(0)
    attn = Attention(modern(window=window))
    x = torch.randn(1, T, SORT.n_embd)
    changed = x.clone()
    changed[:, s] += 1.0
    with torch.no_grad():
        moved = (attn(changed) - attn(x)).abs().amax(dim=-1)[0]  # (T,): per query
    assert (moved[s : s + window] > 1e-4).all()
    assert torch.equal(moved[s + window :], torch.zeros(T - s - window))
    assert torch.equal(moved[:s], torch.zeros(s))  # the causal mask, as before
    with pytest.raises(ValueError):
        Attention(modern(window=-1))


def test_the_blind_window_cannot_reach_the_first_letter_through_every_layer():
    """Through L layers a query reaches L·(W - 1) positions back: with the chapter's blind
    window, the logits that choose the first sorted letter never depend on the prompt's
    first letter, while one position more of window lets them."""
    P, blind = prepare.SORT_LENGTH, variants.WINDOWS["blind"]
    idx = presets.sample_input("sort", batch=1)[:, :P]  # a prompt
    other = idx.clone()
    other[0, 0] = (idx[0, 0] + 1) % SORT.vocab_size
    for window, reaches in ((blind, False), (blind + 1, True)):
        torch.manual_seed(0)
        model = ModernGPT(modern(window=window)).eval()
        with torch.no_grad():
            same = torch.equal(model(idx)[0], model(other)[0])
        assert same is not reaches, window
    assert variants.WINDOWS["prompt"] == P


def test_swiglu_keeps_shape_and_the_mlp_weight_count():
    config = modern(swiglu=True)
    swiglu, mlp = SwiGLU(config), MLP(SORT)
    x = torch.randn(2, 5, SORT.n_embd)
    assert swiglu(x).shape == x.shape
    weights = [sum(p.numel() for p in m.parameters() if p.dim() == 2) for m in (swiglu, mlp)]
    assert weights[0] == weights[1] == 8 * SORT.n_embd**2
    gate, up = swiglu.c_fc(x).split(swiglu.hidden, dim=-1)
    torch.testing.assert_close(swiglu(x), swiglu.c_proj(F.silu(gate) * up))


@pytest.mark.parametrize(
    ("switches", "table", "turned"),
    [
        ({}, True, False),  # GPT-2
        ({"rope": True}, False, True),  # RoPE replaces the table
        ({"rope": True, "wpe": True}, True, True),  # the modern chapter's "RoPE + wpe"
        ({"wpe": False}, False, False),  # its "no positions"
    ],
)
def test_the_position_table_follows_rope_unless_wpe_is_set(switches, table, turned):
    model = ModernGPT(modern(**switches))
    assert ("wpe" in model.transformer) is table
    assert (model.transformer.h[0].attn.angles is not None) is turned


def test_without_positions_only_the_causal_mask_tells_the_order():
    """No table, no RoPE: one layer's last output is the same whatever the order of the
    tokens before it. From the second layer on the order shows, through the earlier
    positions, each of which averaged over a prefix of its own."""
    idx = presets.sample_input("sort", batch=1)
    shuffled = torch.cat([idx[:, :-1].flip(1), idx[:, -1:]], dim=1)
    assert not torch.equal(idx, shuffled)
    torch.manual_seed(0)
    one_layer = ModernGPT(modern(wpe=False, n_layer=1)).eval()
    torch.testing.assert_close(one_layer(idx)[0], one_layer(shuffled)[0])
    torch.manual_seed(0)
    three_layers = ModernGPT(modern(wpe=False)).eval()
    assert not torch.allclose(three_layers(idx)[0], three_layers(shuffled)[0])


def test_variants_build_train_a_step_and_generate():
    everything = modern(bias=False, rmsnorm=True, swiglu=True, rope=True, n_kv_head=1)
    model = ModernGPT(everything)
    assert "wpe" not in model.transformer
    assert not any(name.endswith(".bias") for name, _ in model.named_parameters())
    assert model.get_num_params() == model.get_num_params(non_embedding=False)
    idx = presets.sample_input("sort", batch=2).contiguous()
    _, loss = model(idx, idx)
    loss.backward()
    assert all(p.grad is not None for p in model.parameters())
    out = model.eval().generate(idx[:, :6], max_new_tokens=5, top_k=1)
    assert out.shape == (2, SORT.block_size)
    with pytest.raises(ValueError):
        ModernGPT(modern(dropout=0.1))


# --- nanochat's switches, and Muon ---------------------------------------------------


@pytest.mark.parametrize(
    ("switches", "extra_params"),
    [
        ({"relu2": True}, 0),  # the same two matrices, another activation
        ({"qk_norm": True}, 0),  # a normalisation with no gain to learn
        ({"untied": True}, SORT.vocab_size * SORT.n_embd),  # wte's own (vocab, C) matrix
    ],
)
def test_nanochat_switches_keep_shapes_and_count_their_parameters(switches, extra_params):
    model = ModernGPT(modern(**switches))
    idx = presets.sample_input("sort", batch=2).contiguous()
    logits, loss = model(idx, idx)
    assert logits.shape == (2, SORT.block_size, SORT.vocab_size) and loss.ndim == 0
    assert model.get_num_params() == GPT(SORT).get_num_params() + extra_params


def test_relu2_is_the_squared_relu_of_gpts_mlp_weights():
    mlp = ModernGPT(modern(relu2=True)).transformer.h[0].mlp
    x = torch.randn(2, 5, SORT.n_embd)
    torch.testing.assert_close(mlp(x), mlp.c_proj(F.relu(mlp.c_fc(x)) ** 2))


def test_qk_norm_bounds_every_score_by_the_root_of_the_head_size():
    torch.manual_seed(0)
    plain, normed = Attention(modern()), Attention(modern(qk_norm=True))
    normed.load_state_dict(plain.state_dict())
    x = 50 * torch.randn(2, SORT.block_size, SORT.n_embd)  # large inputs: large raw scores
    hs = SORT.n_embd // SORT.n_head
    q, _, _ = normed.heads(x)
    torch.testing.assert_close(q.norm(dim=-1), torch.full(q.shape[:-1], hs**0.5))
    assert normed.scores(x).abs().max() <= hs**0.5 + 1e-4
    assert plain.scores(x).abs().max() > 10 * hs**0.5
    # scores() is what forward's attention turns into weights
    weights = plain.scores(x).masked_fill(~torch.ones(11, 11).tril().bool(), float("-inf"))
    y = (weights.softmax(-1) @ plain.heads(x)[2]).transpose(1, 2).reshape(x.shape)
    torch.testing.assert_close(plain(x), plain.c_proj(y), atol=1e-4, rtol=1e-4)


def test_untied_embeddings_are_separate_matrices():
    model = ModernGPT(modern(untied=True))
    assert model.transformer.wte.weight is not model.lm_head.weight
    assert "transformer.wte.weight" in dict(model.named_parameters())


def test_with_nothing_changed_a_variant_retraces_train_py(tmp_path):
    short = dict(max_iters=20, eval_interval=10, log_interval=5, warmup_iters=5, lr_decay_iters=20)
    files = dict(out_dir=str(tmp_path / "out"), data_dir=str(tmp_path / "data"))
    prepare.write(presets.dataset("sort"), tmp_path / "data")
    training.train(training.resolve_config(presets.config_file("sort"), {**short, **files}))
    log = (tmp_path / "out" / "log.jsonl").read_text()
    logged = [json.loads(line) for line in log.splitlines()]
    every_switch_off = dict(relu2=False, qk_norm=False, untied=False, rope=False, n_kv_head=0)
    # in train.py's arithmetic for the preset: the variants' own is float32 (sort_settings)
    same = {"dtype": training.resolve_config(presets.config_file("sort"))["dtype"]}
    _, record = variants.train_variant({**short, **every_switch_off, **same}, presets_seed())
    assert [record["loss"][entry["iter"] - 1] for entry in logged] == [e["loss"] for e in logged]


def presets_seed() -> int:
    return training.resolve_config(presets.config_file("sort"))["seed"]


def test_a_run_cut_short_is_the_first_steps_of_the_full_run():
    """A compared seed's run stops at COMPARED_STEPS with the full run's schedule, so its
    losses and evaluations are the full run's first ones (the chapters pair them)."""
    short = dict(max_iters=20, eval_interval=10, log_interval=5, warmup_iters=5, lr_decay_iters=20)
    _, full = variants.train_variant(short, presets_seed())
    _, cut = variants.train_variant(short, presets_seed(), steps=10)
    assert len(cut["loss"]) == 10 and cut["loss"] == full["loss"][:10]
    assert cut["eval_iter"] == [10] and cut["accuracy"] == full["accuracy"][:1]


def test_compared_runs_have_all_their_seeds_the_others_those_shown():
    for name in variants.SPECS:
        seeds = variants.seeds_of(name)
        assert seeds[: len(variants.SEEDS)] == variants.SEEDS
        assert sorted(s for n, s in variants.RUNS if n == name) == sorted(seeds)
    assert len(set(variants.RUNS)) == len(variants.RUNS)
    assert min(variants.COMPARED.values()) >= verdicts.MIN_SEEDS
    further = variants.seeds_of("GPT-2")[-1]
    cut = variants.settings(further, steps=variants.steps_of(further))
    full = variants.settings(variants.SEEDS[0])
    assert variants.steps_of(variants.SEEDS[0]) is None
    assert cut["max_iters"] == variants.COMPARED_STEPS < full["max_iters"]
    assert cut["lr_decay_iters"] == full["lr_decay_iters"]  # the same schedule, cut


@pytest.mark.parametrize("shape", [(48, 192), (192, 48), (144, 48)])
def test_newton_schulz_sets_every_singular_value_near_one(shape):
    torch.manual_seed(0)
    G = torch.randn(shape) * torch.logspace(0, -2, shape[1])  # columns scaled over 100x
    before = torch.linalg.svdvals(G)
    after = torch.linalg.svdvals(newton_schulz(G))
    assert before.max() / before.min() > 5
    assert (after - 1).abs().max() <= muon.TOLERANCE, after
    assert (after - 1).abs().max() > 0.05  # near 1, not on it: the coefficients' trade
    # and the directions are kept: U V^T of the SVD, to within the same tolerance
    U, _, Vh = torch.linalg.svd(G, full_matrices=False)
    assert (newton_schulz(G) - U @ Vh).norm() / (U @ Vh).norm() <= muon.TOLERANCE


def test_muon_trains_the_block_matrices_and_adamw_the_rest():
    model = ModernGPT(modern())
    names = muon.block_matrices(model)
    assert names and all(n.startswith("transformer.h.") and n.endswith("weight") for n in names)
    paired = muon.optimizers(model, 0.1, 1e-3, 0.02, (0.9, 0.99))
    matrices, adamw = paired.muon, paired.adamw
    in_muon = {id(p) for g in matrices.param_groups for p in g["params"]}
    in_adamw = {id(p) for g in adamw.param_groups for p in g["params"]}
    assert not in_muon & in_adamw
    assert in_muon | in_adamw == {id(p) for p in model.parameters()}
    assert id(model.lm_head.weight) in in_adamw  # the tied embedding: AdamW


def test_fit_steps_muon_at_its_rate_on_adamw_schedule():
    cfg = training.resolve_config(presets.config_file("sort"), dict(max_iters=3, eval_iters=1))
    model = ModernGPT(modern())
    paired = muon.optimizers(model, 0.1, cfg["learning_rate"], 0.02, (0.9, 0.99))
    training.fit(
        model, cfg, training.memory_batches(presets.dataset("sort"), cfg), optimizer=paired
    )
    scheduled = training.get_lr(2, cfg)  # the rate of the last step
    assert [g["lr"] for g in paired.adamw.param_groups] == [scheduled, scheduled]
    assert paired.muon.param_groups[0]["lr"] == pytest.approx(
        0.02 * scheduled / cfg["learning_rate"]
    )
