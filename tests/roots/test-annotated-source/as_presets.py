"""A stand-in for model_src.presets: the "sort" model's shapes, no training."""

from dataclasses import dataclass, replace

import torch

PRESETS = ("sort", "char")


@dataclass
class PresetConfig:
    block_size: int
    vocab_size: int
    n_layer: int
    n_head: int
    n_embd: int
    dropout: float = 0.0
    bias: bool = True


_CONFIGS = {
    "sort": PresetConfig(block_size=11, vocab_size=3, n_layer=3, n_head=3, n_embd=48),
    "char": PresetConfig(block_size=32, vocab_size=40, n_layer=2, n_head=4, n_embd=64),
}


def gpt_config(name, **overrides):
    return replace(_CONFIGS[name], **overrides)


def sample_input(name, batch=1, time=None):
    config = _CONFIGS[name]
    generator = torch.Generator().manual_seed(0)
    size = (batch, time or config.block_size)
    return torch.randint(config.vocab_size, size, generator=generator)
