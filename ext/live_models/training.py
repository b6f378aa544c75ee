"""What the page's trainer (static/nanobook_train.js) takes from model_src, as JSON.

The browser runs train.py's step: the schedule of ``train.get_lr``, clipping, and AdamW
over the parameter groups of ``GPT.configure_optimizers``. Every number and rule it
reads comes from here, made by model_src's own code, never retyped in JavaScript:

* ``settings``: a preset's training settings as ``train.resolve_config`` resolves its
  config file (plus overrides): learning rate, schedule, betas, weight decay,
  clipping, batch, accumulation, seed, and the model's shape;
* ``groups``: which parameters each optimiser group holds, read off the optimiser
  ``configure_optimizers`` builds, a layer's names standing for every layer
  (``transformer.h.*.attn.c_attn.weight``), with the weight decay the group applies:
  ``"setting"`` when it is the ``weight_decay`` setting, else its own number;
* ``optimizer``: the class and the defaults the optimiser was built with (eps);
* ``layer_norm_eps``: the eps the model's LayerNorms add to the variance
  (``compute.layer_norm_eps``), which the page's forward pass adds too;
* ``weights_dtype``: the dtype the model's weights (and AdamW's moments) are kept in
  between steps, to which the page rounds them after each step as ``train.fit`` does
  (``train.arithmetic``); the page's arithmetic is float64, the sort preset's
  ``dtype`` setting.

``training_data`` hands over the rows the batches are drawn from, and the held-out
rows' rule and probe the page scores and draws the model with. The page draws them as
``train.fit`` does (its generator, seeded with the run's seed, is torch's mt19937), so a
run in the page meets the same batches as the run in PyTorch.
"""

from __future__ import annotations

import dataclasses
import re

import torch

# The settings train.fit's step reads, and what the page shows of a run.
SETTINGS = (
    "learning_rate",
    "min_lr",
    "warmup_iters",
    "lr_decay_iters",
    "decay_lr",
    "max_iters",
    "weight_decay",
    "beta1",
    "beta2",
    "grad_clip",
    "batch_size",
    "block_size",
    "gradient_accumulation_steps",
    "dropout",
    "seed",
    "eval_interval",
    "eval_iters",
    "log_interval",
    "dtype",
)
# Two weight decays the groups are probed with: a group that applies the setting shows
# each; a group with a decay of its own shows that one both times.
PROBES = (0.25, 0.5)


def layer_pattern(name: str) -> str:
    """``transformer.h.2.ln_1.weight`` -> ``transformer.h.*.ln_1.weight``: every block has
    the same parameters, so one name stands for the layer a reader may add or remove."""
    return re.sub(r"\.h\.\d+\.", ".h.*.", name)


def optimizer_groups(model, settings: dict) -> list[dict]:
    """The parameter groups of ``model.configure_optimizers``, by parameter name."""
    names = {id(p): layer_pattern(name) for name, p in model.named_parameters()}
    betas = (settings["beta1"], settings["beta2"])
    built = [
        model.configure_optimizers(decay, settings["learning_rate"], betas, "cpu")
        for decay in PROBES
    ]
    groups = []
    for probed in zip(*(optimizer.param_groups for optimizer in built), strict=True):
        decays = [group["weight_decay"] for group in probed]
        if decays == list(PROBES):
            weight_decay = "setting"
        elif len(set(decays)) == 1:
            weight_decay = decays[0]
        else:
            raise ValueError(f"a group's weight decay is {decays} for {PROBES}: not followable")
        params = list(dict.fromkeys(names[id(p)] for p in probed[0]["params"]))
        lr_scale = probed[0].get("lr_scale", 1.0)  # train.fit multiplies the rate by it
        groups.append({"params": params, "weight_decay": weight_decay, "lr_scale": lr_scale})
    return groups


def optimizer_rules(model, settings: dict) -> dict:
    """The optimiser's class and the defaults the trainer must follow (eps, amsgrad)."""
    betas = (settings["beta1"], settings["beta2"])
    optimizer = model.configure_optimizers(
        settings["weight_decay"], settings["learning_rate"], betas, "cpu"
    )
    defaults = optimizer.defaults
    return {
        "name": type(optimizer).__name__,
        "eps": defaults["eps"],
        "amsgrad": defaults["amsgrad"],
        "maximize": defaults["maximize"],
    }


def weights_dtype(model) -> str:
    """The dtype ``model`` keeps its weights in between steps: "float32" for the book's."""
    return str(next(model.parameters()).dtype).removeprefix("torch.")


def training_rules(preset: str, **overrides) -> dict:
    """The trainer's rules for ``preset`` trained with ``overrides`` (train.py settings,
    such as n_layer=1 or grad_clip=0.0): settings, model shape, groups, optimiser,
    LayerNorm's eps."""
    from model_src import presets, train
    from model_src.model import GPT, GPTConfig

    from .compute import layer_norm_eps

    settings = train.resolve_config(presets.config_file(preset), overrides)
    fields = [field.name for field in dataclasses.fields(GPTConfig)]
    config = presets.gpt_config(preset, **{k: settings[k] for k in fields if k in settings})
    with torch.random.fork_rng():  # building a model draws weights: leave the caller's state
        model = GPT(config)
    return {
        "preset": preset,
        "settings": {key: settings[key] for key in SETTINGS},
        "config": dataclasses.asdict(config),
        "groups": optimizer_groups(model, settings),
        "optimizer": optimizer_rules(model, settings),
        "layer_norm_eps": layer_norm_eps(model),
        "weights_dtype": weights_dtype(model),
    }


def training_data(preset: str) -> dict:
    """What the page's batches are drawn from, for a sort preset: the train and val rows
    end to end, the row length, and the target positions ``prepare.sample_batch`` leaves
    unscored (-1), read off a batch it draws; and what the page scores the model with as it
    trains: where answers start in a held-out row (tasks.sort_accuracy's rule, over every
    val row) and the held-out probe whose attention it draws (the replay's first)."""
    from model_src import prepare, presets, replay

    data = presets.dataset(preset)
    if data.meta.get("task") != "sort":
        raise ValueError(f"the page trains on sort rows, not on {preset!r}'s data")
    seq_len = data.meta["seq_len"]
    generator = torch.Generator().manual_seed(0)
    _, y = prepare.sample_batch(data.train, data.meta, 64, seq_len - 1, generator)
    unscored = torch.nonzero((y == -1).all(dim=0)).flatten().tolist()
    probes, _, _ = replay.held_out_rows()
    return {
        "seq_len": seq_len,
        "unscored": unscored,
        "train": data.train.tolist(),
        "val": data.val.tolist(),
        "held_out": {"prompt_len": data.meta["prompt_len"], "probe": probes[0].tolist()},
    }
