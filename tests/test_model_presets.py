"""model_src/presets.py: the one place that says what a preset's model looks like."""

import pytest
import torch

from model_src import prepare, presets
from model_src.model import GPT, GPTConfig


def test_presets_and_their_model_shapes():
    assert presets.PRESETS == ("sort", "char")
    assert presets.gpt_config("sort") == GPTConfig(
        block_size=11, vocab_size=3, n_layer=3, n_head=3, n_embd=48, dropout=0.0, bias=True
    )
    char = presets.gpt_config("char")
    assert char.vocab_size == len(set(prepare.default_corpus()))
    assert presets.gpt_config("char", n_layer=1, dropout=0.2) == GPTConfig(
        **{**vars(char), "n_layer": 1, "dropout": 0.2}
    )


def test_unknown_preset_and_field_are_key_errors():
    with pytest.raises(KeyError, match="unknown preset 'shakespeare'; presets: sort, char"):
        presets.gpt_config("shakespeare")
    with pytest.raises(KeyError, match="unknown preset"):
        presets.sample_input("shakespeare")
    with pytest.raises(KeyError, match=r"\['n_layr'\]; fields: block_size, vocab_size, n_layer"):
        presets.gpt_config("sort", n_layr=2)


@pytest.mark.parametrize("name", presets.PRESETS)
def test_sample_input_is_real_deterministic_data(name):
    config = presets.gpt_config(name)
    x = presets.sample_input(name)
    assert x.shape == (1, config.block_size) and x.dtype == torch.int64
    assert x.min() >= 0 and x.max() < config.vocab_size
    batch = presets.sample_input(name, batch=4, time=5)
    assert batch.shape == (4, 5) and torch.equal(batch, presets.sample_input(name, 4, 5))
    assert torch.equal(batch[:1], x[:, :5])
    logits, _ = GPT(config)(batch)  # it fits the preset's model
    assert logits.shape == (4, 1, config.vocab_size)
    with pytest.raises(ValueError, match=f"block_size {config.block_size}"):
        presets.sample_input(name, time=config.block_size + 1)


def test_sort_sample_input_is_a_held_out_problem():
    x = presets.sample_input("sort", batch=3)
    val_rows = presets.dataset("sort").val.reshape(-1, 12)[:, :11].tolist()
    assert all(row in val_rows for row in x.tolist())
    assert torch.equal(x[:, 6:], x[:, :6].sort(dim=1).values[:, :5])
