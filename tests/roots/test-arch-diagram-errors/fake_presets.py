"""A presets module in miniature: one tiny preset for the real model."""

import torch

from model_src.model import GPTConfig

PRESETS = ("tiny",)


def gpt_config(name, **overrides):
    if name not in PRESETS:
        raise KeyError(name)
    return GPTConfig(block_size=8, vocab_size=5, n_layer=2, n_head=2, n_embd=16, **overrides)


def sample_input(name, batch=1, time=None):
    config = gpt_config(name)
    generator = torch.Generator().manual_seed(0)
    return torch.randint(config.vocab_size, (batch, time or config.block_size), generator=generator)
