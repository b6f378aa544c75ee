"""The book's two model presets, "sort" and "char", defined in one place.

Sphinx extensions, diagrams and book cells ask here for a preset's model shape and
for an example input, so a preset means the same thing everywhere: its config file
in model_src/config/ plus its data set. Nothing here trains; everything is cheap.
"""

import dataclasses
import functools
from pathlib import Path

import torch

from . import prepare
from .model import GPTConfig
from .train import CONFIG_DIR, resolve_config

PRESETS: tuple[str, ...] = ("sort", "char")


def config_file(name: str) -> Path:
    if name not in PRESETS:
        raise KeyError(f"unknown preset {name!r}; presets: {', '.join(PRESETS)}")
    return CONFIG_DIR / f"{name}.py"


# keys, diagrams and cells ask for it dozens of times a build; tokenising once will do
@functools.cache
def dataset(name: str) -> prepare.Dataset:
    """The preset's data, built in memory: 729 sort rows, or the Shakespeare corpus.
    Shared by every caller: read it, do not change it."""
    return prepare.build(resolve_config(config_file(name))["dataset"])


def gpt_config(name: str, **overrides) -> GPTConfig:
    """The model shape training the preset builds, with fields replaced by overrides."""
    fields = [field.name for field in dataclasses.fields(GPTConfig)]
    unknown = sorted(set(overrides) - set(fields))
    if unknown:
        raise KeyError(f"unknown GPTConfig field(s) {unknown}; fields: {', '.join(fields)}")
    settings = resolve_config(config_file(name))
    values = {k: settings[k] for k in fields if k in settings}
    values["vocab_size"] = dataset(name).meta["vocab_size"]
    return GPTConfig(**{**values, **overrides})


def sample_input(name: str, batch: int = 1, time: int | None = None) -> torch.Tensor:
    """(batch, time) int64 token ids cut from the preset's validation data, the same
    ones on every call. time defaults to the preset's block_size, its maximum."""
    block_size = gpt_config(name).block_size
    time = block_size if time is None else time
    if not 1 <= time <= block_size:
        raise ValueError(f"time must be between 1 and block_size {block_size}, not {time}")
    data = dataset(name)
    generator = torch.Generator().manual_seed(0)
    x, _ = prepare.sample_batch(data.val, data.meta, batch, block_size, generator)
    return x[:, :time]
