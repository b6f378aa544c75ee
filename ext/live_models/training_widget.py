"""What the ``live-training`` widget needs from the build: the reader's controls with their
bounds and the book run's values, the phases of ``train.fit``'s step with the lines that
run them, the static rendering (the book's logged run), and the export the page loads
when the reader presses Train.

The export, ``<preset>-training``, is a model's script (nanobook_live.js reads it like any
model) holding the book run's starting weights, made as ``train.py`` makes them
(``torch.manual_seed(seed)`` then ``GPT(config)``), plus what the page's trainer reads
(``training.training_rules`` and ``training_data``), the book's logged run, and how
``GPT.__init__`` fills each parameter: for another seed or shape the page draws its own
start, which PyTorch's generator would draw differently.

Nothing here imports torch or model code until a function needs it: reading a page
(the directive) and writing it (render.py) only use the tables below.
"""

from __future__ import annotations

import base64
import math
from pathlib import Path

from .. import _core
from .training_bounds import TRAINING_NUMBERS, number_control

# The reader's choices, in the order the page shows them: the directive's option (which
# gives its default), the label, and what it sets: train.py settings ("settings") or the
# model's shape ("config"). A control's default is the book run's value.
CONTROLS = (
    ("seed", "Seed", "settings", ("seed",)),
    ("learning-rate", "Learning rate", "settings", ("learning_rate",)),
    ("warmup", "Warmup steps", "settings", ("warmup_iters",)),
    ("steps", "Steps", "settings", ("max_iters",)),
    ("batch-size", "Batch size", "settings", ("batch_size",)),
    ("clip", "Clip gradients", "settings", ("grad_clip",)),
    ("weight-decay", "Weight decay", "settings", ("weight_decay",)),
    ("layers", "Layers", "config", ("n_layer",)),
    ("width", "Width (channels)", "config", ("n_embd",)),
)
# train.fit clips only `if cfg["grad_clip"]`: this value turns clipping off.
CLIP_OFF = 0.0
# The controls that decide whether a run starts from the book's exported weights.
START = {"seed": "seed", "layers": "n_layer", "width": "n_embd"}
# How close the page's training losses must stay to the book run's, at each step both
# logged, for the page to say the reader's run still retraces the book's (issue 47's
# figure; bench/run.py and bench/retrace_spread.py measure against it).
RETRACE_TOLERANCE = 1e-3
# The static rendering's rows: the first logged steps (the stretch the page retraces
# most closely), then every evaluation of the run.
FIRST_ROWS = 6

# The phases of one step of train.fit, in the order it runs them, each with the lines
# that run it: (file under model_src/, object, anchor text), resolved afresh every build
# with annotated-source's own anchor rules, so the marks follow the code.
PHASES = (
    ("schedule", "Schedule", [("train.py", "fit", "lr = get_lr(iter_num, cfg)")]),
    ("batch", "Batch", [("train.py", "fit", 'batches("train", generator)')]),
    (
        "forward",
        "Forward",
        [
            ("train.py", "fit", 'batches("train", generator)'),
            ("model.py", "GPT.forward", "x = block(x)"),
        ],
    ),
    (
        "loss",
        "Loss",
        [
            ("train.py", "fit", 'batches("train", generator)'),
            ("model.py", "GPT.forward", "loss = F.cross_entropy("),
        ],
    ),
    ("backward", "Backward", [("train.py", "fit", "(loss / accum).backward()")]),
    ("clip", "Clip", [("train.py", "fit", "clip_grad_norm_(")]),
    ("step", "Optimiser step", [("train.py", "fit", "optimizer.step()")]),
)


def problem(preset: str, settings: dict) -> _core.Problem | None:
    """Why the page cannot train ``preset`` with the author's ``settings``."""
    from model_src import presets

    if presets.dataset(preset).meta.get("task") != "sort":
        return _core.Problem(
            f"the page trains only on sort problems, not on the {preset} model's data",
            "use live-training sort",
        )
    heads = presets.gpt_config(preset).n_head
    width = settings.get("width")
    if width is not None and width % heads:
        return _core.Problem(
            f":width: {width} is not a multiple of the model's {heads} heads",
            f"e.g. :width: {heads * 8}",
        )
    return None


def book_run(preset: str) -> tuple[object, dict]:
    """The book's trained run of ``preset`` and the trainer's rules for its settings (its
    seed as the build trained it: NANOBOOK_SEED may move it)."""
    from . import compute, training

    entry = compute.trained_model(preset)
    return entry, training.training_rules(preset, seed=entry.config["seed"])


def summary(preset: str) -> dict:
    """The static rendering and the controls' book values: the run's settings and shape,
    and its logged losses (the first FIRST_ROWS logged steps, then every evaluation)."""
    entry, rules = book_run(preset)
    settings, config = rules["settings"], rules["config"]
    values = {**settings, **config}
    book = {name: values[keys[0]] for name, _, _, keys in CONTROLS}
    book["clip"] = bool(settings["grad_clip"])
    log = entry.metrics
    rows = [
        [r["iter"], r["loss"], r.get("val_loss")]
        for n, r in enumerate(log)
        if n < FIRST_ROWS or "val_loss" in r
    ]
    return {
        "book": book,
        "clip_on": settings["grad_clip"],
        # the book's config ends the cosine where the run ends: the reader's steps do too
        "decay_follows_steps": settings["lr_decay_iters"] == settings["max_iters"],
        "width_step": config["n_head"],
        "log_interval": settings["log_interval"],
        "eval_interval": settings["eval_interval"],
        "rows": rows,
    }


def phase_lines() -> list[dict]:
    """PHASES with each anchor's line in its file (a Problem when one matches no line, or
    several: the code changed and PHASES must follow it)."""
    import model_src

    from ..annotated_source import locate

    root = Path(model_src.__file__).parent
    parsed = {}
    phases = []
    for name, label, anchors in PHASES:
        lines = []
        for path, obj, text in anchors:
            if path not in parsed:
                parsed[path] = locate.parse_file(root / path)
            source = locate.find_object(*parsed[path], obj)
            line = locate.resolve_anchor(locate.Anchor.parse(text), source, path)
            lines.append({"path": path, "object": obj, "anchor": text, "line": line})
        phases.append({"name": name, "label": label, "lines": lines})
    return phases


def page_controls(spec_settings: dict, result: dict) -> list[dict]:
    """The controls the page shows: each with its label, bounds (the directive's), its
    value (the author's option, else the book run's, which the page compares it with),
    the settings it sets, and for a decimal what its arrow keys do."""
    controls = []
    for name, label, target, keys in CONTROLS:
        book = result["book"][name]
        control = {"name": name, "label": label, "value": spec_settings.get(name, book)}
        control.update(book=book, sets={target: list(keys)})
        if name == "steps" and result["decay_follows_steps"]:
            control["sets"]["settings"].append("lr_decay_iters")
        if name == "clip":
            control.update(kind="switch", on=result["clip_on"], off=CLIP_OFF)
        else:
            control.update(number_control(name, TRAINING_NUMBERS))
            if name == "width":  # the heads split the width evenly
                step = result["width_step"]
                control.update(min=math.ceil(control["min"] / step) * step, step=step)
        controls.append(control)
    return controls


def page_start(result: dict) -> dict:
    """The controls' values whose run starts from the book's exported weights."""
    return {name: result["book"][name] for name in START}


# --- the export -----------------------------------------------------------------------


def start_model(config: dict):
    """A model as train.py's _train makes it: the seed set just before, by the caller."""
    from model_src.model import GPT, GPTConfig

    return GPT(GPTConfig(**config))


def how_filled(config: dict) -> dict[str, dict]:
    """How GPT.__init__ fills each parameter of a model of ``config``, by layer pattern:
    {"mean", "std"} for a normal draw (the last nn.init.normal_ call on it, as model.py
    makes them), else {"fill": value} for a constant; read off model.py running."""
    from unittest import mock

    import torch

    from .training import layer_pattern

    drawn = {}
    normal = torch.nn.init.normal_

    def noting(tensor, mean=0.0, std=1.0, *args, **kwargs):
        drawn[id(tensor)] = {"mean": mean, "std": std}
        return normal(tensor, mean, std, *args, **kwargs)

    with torch.random.fork_rng(), mock.patch.object(torch.nn.init, "normal_", noting):
        model = start_model(config)
    filled = {}
    for name, param in model.named_parameters():
        values = param.detach().unique()
        if id(param) in drawn:
            rule = drawn[id(param)]
        elif len(values) == 1:
            rule = {"fill": float(values[0])}
        else:
            raise ValueError(f"{name} is neither drawn by nn.init.normal_ nor constant")
        if filled.setdefault(layer_pattern(name), rule) != rule:
            raise ValueError(f"the layers' {layer_pattern(name)} are filled differently")
    return filled


def drawing_rules(config: dict) -> dict:
    """What the page needs to start a model of any depth and width it offers: each
    parameter's shape (per dimension, a multiple of the width plus a constant, read off
    models of two widths) in state-dict order, and per depth how each is filled."""
    from .training import layer_pattern

    heads = config["n_head"]
    widths = (heads * 4, heads * 8)
    shapes = []
    for one in (start_model({**config, "n_layer": 1, "n_embd": w}) for w in widths):
        shapes.append({layer_pattern(n): list(p.shape) for n, p in one.named_parameters()})
    params = []
    for pattern, small in shapes[0].items():
        large = shapes[1][pattern]
        per_width = [(b - a) // (widths[1] - widths[0]) for a, b in zip(small, large, strict=True)]
        params.append(
            [pattern, [[k, a - k * widths[0]] for k, a in zip(per_width, small, strict=True)]]
        )
    depths = TRAINING_NUMBERS["layers"]
    fills = {
        str(depth): how_filled({**config, "n_layer": depth})
        for depth in range(depths.low, depths.high + 1)
    }
    return {"params": params, "fills": fills}


def payload(preset: str) -> dict:
    """The export: the book run's starting weights as a model's script carries them, the
    trainer's rules and data, the book's log, and the rules for drawing another start."""
    import torch

    from model_src import visible

    from . import compute, training

    entry, rules = book_run(preset)
    with torch.random.fork_rng():
        torch.manual_seed(rules["settings"]["seed"])
        model = start_model(rules["config"])
    tensors = compute.weight_tensors(model)
    itos = entry.meta["itos"]
    vocab = [itos[i] for i in range(model.config.vocab_size)]
    return {
        # the config as a model's script carries it (compute.artifact_text): with LayerNorm's eps
        "config": {**rules["config"], "layer_norm_eps": rules["layer_norm_eps"]},
        "vocab": vocab,
        "shown": [visible.token(token) for token in vocab],
        "task": {k: v for k, v in entry.meta.items() if k in ("task", "prompt_len", "seq_len")},
        "layout": [[name, list(tensor.shape)] for name, tensor in tensors],
        "weights": base64.b64encode(compute.pack_weights([t for _, t in tensors])).decode(),
        "rules": rules,
        "data": training.training_data(preset),
        "book": [[r["iter"], r["loss"], r.get("val_loss")] for r in entry.metrics],
        "retrace_tolerance": RETRACE_TOLERANCE,
        "draw": drawing_rules(rules["config"]),
    }


def artifact(preset: str, cache_dir: Path) -> Path:
    """The export as a classic script registered as ``<preset>-training``, keyed on the
    model and on this file's code and all it imports (training.py's rules and data)."""
    from buildlib.keys import digest, producer_code

    from . import compute

    made = digest(preset, compute.model_key(preset), *producer_code(__file__))
    key = f"{preset}-training-{made}"
    about = f"The {preset} model's training run, to train again in the page"
    return compute.registered_script(
        cache_dir, key, f"{preset}-training", about, lambda: payload(preset)
    )
