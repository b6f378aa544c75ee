"""Shapes as formulas in the glossary's symbols: ``1×11×48`` is ``B×T×C``.

The capture runs the model three times: on the preset's sample input (the shapes the
page shows), on a shorter input (the *second size*, which browser tests check live
shapes against) and with every symbol moved (a model with another width, head count,
depth and vocabulary, on a batch of two). A number in a shape is a symbol when that
symbol, and no other, takes its value in all three runs; a number that stays the same
in every run is a constant. A shape with any other number keeps its captured value.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

# The glossary's symbols; the page is handed their values (annotated_source.js matches them).
SYMBOLS = ("B", "T", "C", "nh", "hs", "V", "L", "3C", "4C", "B·T")
NUMBER = re.compile(r"(?<![A-Za-z\d])\d+")  # 11 in 1×11, not the 64 of int64


@dataclass(frozen=True)
class Run:
    """How one capture departs from the preset: input size and model shape."""

    batch: int = 1
    shorter: bool = False  # about half the block's length instead of all of it
    moved: bool = False  # every model symbol changed, each by a different step

    def overrides(self, config: Any) -> dict:
        if not self.moved:
            return {}
        heads, head_size = config.n_head + 1, config.n_embd // config.n_head + 2
        return {
            "n_head": heads,
            "n_embd": heads * head_size,
            "n_layer": config.n_layer + 2,
            "vocab_size": config.vocab_size + 3,
        }

    def input_size(self, block_size: int) -> tuple[int, int]:
        if self.shorter:
            return self.batch, max(2, block_size // 2)
        if self.moved:
            return self.batch, max(2, block_size - 1)
        return self.batch, block_size


PRESET_RUN = Run()
VARIANT_RUNS = (Run(shorter=True), Run(batch=2, moved=True))
RUNS = (PRESET_RUN, *VARIANT_RUNS)


def symbol_values(config: Any, batch: int, time: int) -> dict[str, int]:
    """What each symbol stands for in a run of ``config`` on a (batch, time) input."""
    width = config.n_embd
    return {
        "B": batch,
        "T": time,
        "C": width,
        "nh": config.n_head,
        "hs": width // config.n_head,
        "V": config.vocab_size,
        "L": config.n_layer,
        "3C": 3 * width,
        "4C": 4 * width,
        "B·T": batch * time,
    }


def formula(shapes: list[str], tables: list[dict[str, int]]) -> str | None:
    """The shape (as captured in the first run) in symbols, or None if some number
    is neither one symbol nor a constant. ``shapes`` and ``tables`` go run by run."""
    skeletons = {tuple(NUMBER.split(shape)) for shape in shapes}
    if len(skeletons) != 1:
        return None  # a different rank or kind in some run
    columns = zip(*(map(int, NUMBER.findall(shape)) for shape in shapes), strict=True)
    words = []
    for values in columns:
        named = [s for s in SYMBOLS if [t.get(s) for t in tables] == list(values)]
        if len(named) == 1:
            words.append(named[0])
        elif not named and len(set(values)) == 1:
            words.append(str(values[0]))
        else:
            return None
    pieces = skeletons.pop()
    return "".join(p + w for p, w in zip(pieces, [*words, ""], strict=True))


def add_formulas(result: dict, variants: list[dict], tables: list[dict[str, int]]) -> None:
    """Give each captured line ``formulas``: [name, formula or None] beside its values."""
    for line, entry in result["lines"].items():
        others = [variant["lines"].get(line, {}).get("values", []) for variant in variants]
        entry["formulas"] = []
        for index, (name, shape) in enumerate(entry["values"]):
            shapes = [shape] + [
                values[index][1] if index < len(values) and values[index][0] == name else ""
                for values in others
            ]
            entry["formulas"].append([name, formula(shapes, tables)])
