"""The bounds of what a reader may set in a live-training widget: the directive holds its
options to them, and the page is handed them with the run it trains again
(training_widget.py, rl_training.py)."""

from .. import _core
from .directive import MAX_SEED

# The reader's settings, each an option setting its default (the book run's value when
# left out) and a control of the page held to these bounds. Steps: the largest model and
# batch a reader may choose train a few steps a second in the page, so the longest run is
# minutes. Layers and width: up to about five times the book model's work per step.
MAX_TRAINING_STEPS = 2000
TRAINING_NUMBERS = {
    "seed": _core.Number(int, 0, MAX_SEED, "7"),
    "learning-rate": _core.Number(float, 1e-5, 1.0, "3e-3"),
    "warmup": _core.Number(int, 0, MAX_TRAINING_STEPS, "0", "0 starts at the full rate"),
    "steps": _core.Number(int, 1, MAX_TRAINING_STEPS, "200"),
    "batch-size": _core.Number(int, 1, 128, "8"),
    "weight-decay": _core.Number(float, 0.0, 1.0, "0"),
    "layers": _core.Number(int, 1, 4, "1"),
    "width": _core.Number(int, 12, 96, "24", "a multiple of the model's heads"),
}
# What the arrow keys do to a decimal setting on the page (a whole number moves by 1): a
# learning rate spans powers of ten, so they multiply or divide it ("times"); weight decay
# moves by a step ("plus"). The browser's own step for a box taking any decimal is 1: one
# key took a rate of 0.003 to its bound.
ARROW_KEYS = {
    "learning-rate": {"times": 2},
    "weight-decay": {"plus": 0.01},
}
# With :run: rl, the RL chapter's run again (rl_training.py). An RL step samples a group
# of answers for each prompt before it trains: fewer steps than a training run in the
# same minutes. GRPO divides by a group's spread: two answers at least.
MAX_RL_STEPS = 500
RL_NUMBERS = {
    "seed": TRAINING_NUMBERS["seed"],
    "learning-rate": TRAINING_NUMBERS["learning-rate"],
    "steps": _core.Number(int, 1, MAX_RL_STEPS, "100"),
    "group": _core.Number(int, 2, 32, "8", "the answers sampled for each prompt"),
}


def number_control(name: str, numbers: dict[str, _core.Number]) -> dict:
    """What the page needs to hold a number control to its bound: its kind, its bounds and,
    for a decimal, what its arrow keys do."""
    number = numbers[name]
    control = {"kind": "int" if number.kind is int else "float"}
    control.update(min=number.low, max=number.high)
    if name in ARROW_KEYS:
        control["arrows"] = ARROW_KEYS[name]
    return control
