"""What ``live-training`` with ``:run: rl`` needs from the build: the RL chapter's runs
(experiments/rl_runs.py) to run again in the page, with the reader's method, reward, group
size, learning rate, number of steps and seed.

The page (static/nanobook_train.js's PolicySession) runs ``rl_runs.train_rl``: prompts
drawn by a generator seeded with the seed, ``rl.rl_step`` on each (sample a group of
answers, score them, advantages, the policy-gradient update), the held-out exact pass@1
and pass@k every few steps. Every number and rule it reads comes from here, read off
model_src's code, never retyped in JavaScript:

* ``settings``, ``groups``, ``optimizer``: the optimiser ``train_rl`` builds (read off it
  running with no steps), as the page's Trainer takes them (training.py's forms);
* ``rl``: prompts a step, group size, steps, rate, seed, k, how often the replay
  evaluates (rl_runs.py), rl.py's EPS, its methods (rl_runs.RUNS_BY_NAME: GRPO divides
  by the group's spread) and its checkers (rl.REWARDS, by name: the page runs each, and
  tests/test_live_rl.py checks it against rl.py's on many answers);
* ``data``: the training prompts and the held-out prompts with their answers.

The export, ``<preset>-rl-training``, is a model's script holding the chapter's start
model (the sort preset stopped early), that, and the book's recorded REINFORCE run for
comparison. The static rendering is the settings the page starts from and where that run
ended (kinds/training.py's rl_training_fallback).
"""

from __future__ import annotations

from pathlib import Path
from unittest import mock

from .. import _core
from .training_bounds import RL_NUMBERS, number_control

# The reader's choices, in the order the page shows them: the directive's option, its
# label, and what it sets: the Trainer's settings or the run's ("rl").
CONTROLS = (
    ("method", "Method", "rl", ("method",)),
    ("reward", "Reward", "rl", ("reward",)),
    ("group", "Group size (answers a prompt)", "rl", ("group",)),
    ("learning-rate", "Learning rate", "settings", ("learning_rate",)),
    ("steps", "Steps", "rl", ("steps",)),
    ("seed", "Seed", "rl", ("seed",)),
)


# How the page names rl.py's checkers and rl_runs.py's methods (the names come from there:
# one without a label here is named by its own name).
LABELS = {
    "sort": "exact sort (sort_reward)",
    "order": "in order, gameable (order_reward)",
    "REINFORCE": "REINFORCE (mean baseline)",
    "GRPO": "GRPO (÷ the group's spread)",
}


# What a run of rl_runs.RUNS_BY_NAME may set for the page to follow it: the page's step is
# rl.rl_step with its reward and its normalise; a run setting anything else (another
# baseline, a KL term) is not offered.
FOLLOWED = {"reward", "normalise"}


def methods() -> dict[str, dict]:
    """rl_runs.py's methods on the exact-sort checker that the page follows, by name, with
    whether each divides the advantages by the group's spread (GRPO) or not (REINFORCE)."""
    from model_src.experiments import rl_runs

    return {
        name: {"normalise": spec["normalise"]}
        for name, spec in rl_runs.RUNS_BY_NAME.items()
        if spec.get("reward") == "sort" and set(spec) <= FOLLOWED
    }


def rewards() -> list[str]:
    """rl.py's checkers, by name."""
    from model_src import rl

    return list(rl.REWARDS)


def optimizer_arguments(model) -> dict:
    """The arguments ``rl_runs.train_rl`` hands ``model.configure_optimizers``, read off
    train_rl running from ``model`` with no steps: weight decay, rate and betas."""
    from model_src.experiments import rl_runs

    called = {}
    build = model.configure_optimizers

    def noting(weight_decay, learning_rate, betas, device_type):
        called.update(weight_decay=weight_decay, learning_rate=learning_rate, betas=betas)
        return build(weight_decay, learning_rate, betas, device_type)

    import torch

    with (
        torch.random.fork_rng(),
        mock.patch.object(model, "configure_optimizers", noting),
        mock.patch.object(rl_runs, "start_model", lambda: model),
        mock.patch.object(rl_runs, "snapshot", lambda *args: {}),
        mock.patch.object(rl_runs, "STEPS", 0),
    ):
        rl_runs.train_rl(rl_runs.RUNS_BY_NAME["REINFORCE"], rl_runs.SEEDS[0])
    return called


def rl_rules(model) -> dict:
    """The page's rules for RL from ``model`` (the chapter's start model): the Trainer's
    settings, groups and optimiser, LayerNorm's eps, and the run's own rules (``rl``)."""
    import dataclasses

    from model_src import rl
    from model_src.experiments import rl_runs

    from . import compute, training

    used = optimizer_arguments(model)
    beta1, beta2 = used["betas"]
    settings = {
        # train_rl's optimiser at a constant rate; rl.rl_step neither clips nor accumulates
        "learning_rate": used["learning_rate"],
        "decay_lr": False,
        "min_lr": used["learning_rate"],
        "warmup_iters": 0,
        "lr_decay_iters": 0,
        "weight_decay": used["weight_decay"],
        "beta1": beta1,
        "beta2": beta2,
        "grad_clip": 0.0,
        "gradient_accumulation_steps": 1,
        "dropout": model.config.dropout,
    }
    first = next(iter(methods()))
    return {
        "config": dataclasses.asdict(model.config),
        "settings": settings,
        "groups": training.optimizer_groups(model, settings),
        "optimizer": training.optimizer_rules(model, settings),
        "layer_norm_eps": compute.layer_norm_eps(model),
        "weights_dtype": training.weights_dtype(model),
        "rl": {
            "prompts": rl_runs.PROMPTS,
            "group": rl_runs.GROUP,
            "steps": rl_runs.STEPS,
            "seed": rl_runs.SEEDS[0],
            "k": rl_runs.K,
            "eval_every": rl_runs.REPLAY_EVERY,
            "eps": rl.EPS,
            "method": first,
            "normalise": methods()[first]["normalise"],
            "reward": next(iter(rl.REWARDS)),
            "methods": methods(),
            "rewards": rewards(),
            # the checker rl_runs.evaluate counts as right: the real score, whatever pays
            "exact": next(name for name, check in rl.REWARDS.items() if check is rl.sort_reward),
        },
    }


def rl_data() -> dict:
    """The prompts RL sees (rl.train_prompts) and the held-out prompts with their answers
    (rl_runs.held_out), as rows of letter ids."""
    from model_src import rl
    from model_src.experiments import rl_runs

    held_out, answers = rl_runs.held_out()
    return {
        "train": rl.train_prompts().tolist(),
        "held_out": held_out.tolist(),
        "held_out_answers": answers.tolist(),
        "answer_len": answers.shape[1],
    }


def problem(preset: str, settings: dict) -> _core.Problem | None:
    """Why the page cannot run RL on ``preset`` with the author's ``settings``."""
    if preset != "sort":
        return _core.Problem(
            f"there is no RL run of the {preset} model",
            "only sort has one (rl_runs.py): live-training sort",
        )
    choices = {"method": methods(), "reward": rewards()}
    for name, known in choices.items():
        if name in settings and settings[name] not in known:
            return _core.Problem(
                f":{name}: {settings[name]!r} is not one of rl_runs.py's",
                f"one of {', '.join(known)}",
            )
    return None


def summary(preset: str) -> dict:
    """The chapter's recorded REINFORCE run (replay.rl_replay_summary: the static rendering
    says where it ended) and the controls' book values: the chapter's run's settings."""
    from model_src.experiments import rl_runs

    from .kinds.replay import rl_replay_summary

    values = {
        "method": next(iter(methods())),
        "reward": rewards()[0],
        "group": rl_runs.GROUP,
        "learning-rate": rl_runs.LEARNING_RATE,
        "steps": rl_runs.STEPS,
        "seed": rl_runs.SEEDS[0],
    }
    about = {
        "prompts": rl_runs.PROMPTS,
        "eval_every": rl_runs.REPLAY_EVERY,
        "start_iters": rl_runs.START_ITERS,
    }
    return {**rl_replay_summary(preset), "book": values, "about": about}


def page_controls(spec_settings: dict, result: dict) -> list[dict]:
    """The controls the page shows: each with its label, its value (the author's option,
    else the chapter's), the choices or bounds, what it sets, and for a decimal what its
    arrow keys do."""
    choices = {"method": methods(), "reward": rewards()}
    controls = []
    for name, label, target, keys in CONTROLS:
        book = result["book"][name]
        control = {"name": name, "label": label, "value": spec_settings.get(name, book)}
        control.update(book=book, sets={target: list(keys)})
        if name in choices:
            named = [[value, LABELS.get(value, value)] for value in choices[name]]
            control.update(kind="choice", choices=named)
        else:
            control.update(number_control(name, RL_NUMBERS))
        controls.append(control)
    return controls


# --- the export -----------------------------------------------------------------------


def payload(preset: str) -> dict:
    """The export: the start model as a model's script carries it, the rules, the data,
    and the book's recorded REINFORCE run ([step, pass@1, pass@k] per snapshot)."""
    import base64

    from model_src import visible
    from model_src.experiments import rl_runs

    from . import compute

    model = rl_runs.start_model()
    tensors = compute.weight_tensors(model)
    entry = compute.trained_model(preset)
    itos = entry.meta["itos"]
    vocab = [itos[i] for i in range(model.config.vocab_size)]
    replay = compute.rl_replay_payload(preset)
    k = replay["k"]
    rules = rl_rules(model)
    return {
        # the config as a model's script carries it (compute.artifact_text): with LayerNorm's eps
        "config": {**rules["config"], "layer_norm_eps": rules["layer_norm_eps"]},
        "vocab": vocab,
        "shown": [visible.token(token) for token in vocab],
        "task": {
            key: v for key, v in entry.meta.items() if key in ("task", "prompt_len", "seq_len")
        },
        "layout": [[name, list(tensor.shape)] for name, tensor in tensors],
        "weights": base64.b64encode(compute.pack_weights([t for _, t in tensors])).decode(),
        "rules": rules,
        "data": rl_data(),
        "book": {
            "run": replay["run"],
            "points": [[s["step"], s["pass@1"], s[f"pass@{k}"]] for s in replay["snapshots"]],
        },
    }


def artifact(preset: str, cache_dir: Path) -> Path:
    """The export as a classic script registered as ``<preset>-rl-training``."""
    from buildlib.keys import digest, producer_code
    from model_src import trained
    from model_src.experiments import rl_runs

    from . import compute

    ((name, overrides),) = rl_runs.requests()
    start = trained.weights(name, **overrides)
    made = digest(preset, start, compute.rl_replay_key(preset), *producer_code(__file__))
    key = f"{preset}-rl-training-{made}"
    about = f"The {preset} model's RL runs, to run again in the page"
    return compute.registered_script(
        cache_dir, key, f"{preset}-rl-training", about, lambda: payload(preset)
    )
