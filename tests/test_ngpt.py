"""ngpt.py's model keeps what it promises: unit vectors everywhere, the shell of norm_eps,
and the counting and embedding it shares with modern.py's ModernGPT."""

import dataclasses

import pytest
import torch

from model_src import presets
from model_src.experiments import verdicts
from model_src.modern import ModernConfig, ModernGPT
from model_src.ngpt import NGPT, NGPTConfig, unit

SORT = presets.gpt_config("sort")


def ngpt(**switches) -> NGPT:
    torch.manual_seed(0)
    return NGPT(NGPTConfig(**{**dataclasses.asdict(SORT), **switches}))


@pytest.mark.parametrize("wpe", [False, True])
def test_ngpt_counts_and_embeds_tokens_as_modern_gpt_does(wpe):
    model = ngpt(wpe=wpe)
    every = sum(p.numel() for p in model.parameters())
    table = model.transformer.wpe.weight.numel() if wpe else 0
    assert model.get_num_params() == every - table
    assert model.get_num_params(non_embedding=False) == every
    twin = ModernGPT(ModernConfig(**dataclasses.asdict(SORT), wpe=wpe))
    with torch.no_grad():  # the same token (and position) tables
        for name, table in model.transformer.items():
            if name != "h":
                twin.transformer[name].weight.copy_(table.weight)
    idx = presets.sample_input("sort", batch=2)
    assert torch.equal(model.embed(idx), twin.embed(idx))
    too_long = torch.zeros(1, SORT.block_size + 1, dtype=torch.long)
    with pytest.raises(ValueError, match="exceeds block_size"):
        model(too_long)


@pytest.mark.parametrize("wpe", [False, True])
def test_every_hidden_state_and_weight_row_has_length_one(wpe):
    model = ngpt(wpe=wpe)
    states = []
    layers = [model.lm_head] + [m for b in model.transformer.h for m in (b.attn, b.mlp)]
    hooks = [m.register_forward_pre_hook(lambda m, args: states.append(args[0])) for m in layers]
    idx = presets.sample_input("sort", batch=3).contiguous()
    with torch.no_grad():
        model(idx, idx)
    for hook in hooks:
        hook.remove()
    assert len(states) == 1 + 2 * SORT.n_layer
    for h in states:
        assert (h.norm(dim=-1) - 1).abs().max() < 1e-6
    model(idx, idx)[1].backward()
    torch.optim.SGD(model.parameters(), lr=1.0).step()  # rows leave the sphere...
    model.normalize_weights()  # ...and come back
    for name, p in model.named_parameters():
        if p.dim() == 2:
            lengths = p.norm(dim=0 if name.endswith("c_proj.weight") else 1)
            assert (lengths - 1).abs().max() < 1e-6, name


def test_norm_eps_leaves_lengths_inside_the_shell_and_moves_the_rest_to_its_edge():
    x = torch.tensor([[0.5, 0.0], [0.95, 0.0], [1.05, 0.0], [3.0, 4.0]])
    lengths = unit(x, norm_eps=0.1).norm(dim=-1)
    assert torch.allclose(lengths, torch.tensor([0.9, 0.95, 1.05, 1.1]))
    assert torch.allclose(unit(x).norm(dim=-1), torch.ones(4))


def test_a_char_run_trains_with_fit_and_keeps_ngpt_on_the_sphere(monkeypatch):
    from model_src.experiments import char_ngpt

    monkeypatch.setattr(char_ngpt, "STEPS", 3)
    model, record = char_ngpt.train_run("nGPT", 1337)
    assert len(record["losses"]) == 3 and record["cpu_seconds"] > 0
    assert record["val_loss"] < record["losses"][0] + 1  # evaluated once, at the end
    for name, p in model.named_parameters():
        if p.dim() == 2:
            lengths = p.norm(dim=0 if name.endswith("c_proj.weight") else 1)
            assert (lengths - 1).abs().max() < 1e-5, name


def test_both_char_models_are_trained_with_every_compared_seed():
    from model_src.experiments import char_ngpt

    assert char_ngpt.COMPARED_SEEDS[: len(char_ngpt.SEEDS)] == char_ngpt.SEEDS
    assert len(char_ngpt.COMPARED_SEEDS) >= verdicts.MIN_SEEDS
    expected = {(name, seed) for name in char_ngpt.MODELS for seed in char_ngpt.COMPARED_SEEDS}
    assert set(char_ngpt.RUNS) == expected and len(char_ngpt.RUNS) == len(expected)
