"""Print an arch-diagram in the terminal, exactly as the book shows it.

python -m ext.arch_diagram model_src.model:GPT --config sort --focus transformer.h.0.attn
python -m ext.arch_diagram optimizer --config sort
"""

from __future__ import annotations

import argparse
import sys

from .._core import MODEL_MEMORY, MODEL_TIMEOUT, Problem, memory_bytes
from . import draw_apart
from .request import DEFAULT_DEPTH, DEFAULT_PRESETS, KINDS, parse


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m ext.arch_diagram",
        description="Draw a box-drawing diagram of the live model (or of one of: "
        f"{', '.join(KINDS)}), from one real forward pass.",
    )
    parser.add_argument(
        "target",
        help=f"module.path:Class (an nn.Module subclass), or one of {', '.join(KINDS)}",
    )
    parser.add_argument(
        "--config",
        default="",
        help="a preset name, key=value overrides, or both: "
        "sort | n_layer=2,n_embd=32 | sort,n_layer=1",
    )
    parser.add_argument(
        "--focus",
        default="",
        help="dotted path of a submodule to expand in place, e.g. transformer.h.0.attn",
    )
    parser.add_argument(
        "--depth",
        default=str(DEFAULT_DEPTH),
        help=f"levels expanded below what is drawn (default {DEFAULT_DEPTH})",
    )
    parser.add_argument(
        "--input",
        default="",
        help="batch x time of the traced sample, e.g. 1x11 (default: the preset's sample)",
    )
    parser.add_argument(
        "--presets", default=DEFAULT_PRESETS, help=f"the presets module (default {DEFAULT_PRESETS})"
    )
    args = parser.parse_args(argv)
    try:
        request = parse(
            args.target,
            config=args.config,
            focus=args.focus,
            depth=args.depth,
            input=args.input,
            presets=args.presets,
        )
        drawing = draw_apart(request, MODEL_TIMEOUT, memory_bytes(MODEL_MEMORY))
    except Problem as err:
        print(f"error: {err.message}", file=sys.stderr)
        if err.hint:
            print(f"  hint: {err.hint}", file=sys.stderr)
        return 1
    for note in drawing.notes:
        print(f"warning: {note}", file=sys.stderr)
    sys.stdout.write(drawing.text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
