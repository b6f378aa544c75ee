"""How far the sort preset's run drifts from itself in PyTorch when only its rounding
changes: train.fit on one thread against the same run on two threads (which sums in
another order), from the same start and batches, for five seeds, in three arithmetics:
float32; float64 throughout (float64 weights); and the book's, float64 over float32
weights (train.arithmetic: every weight and AdamW moment rounded back to float32 after
each step). It prints, per arithmetic, the first step at which the two runs' training
losses differ by more than the page's retrace tolerance (1e-3), per seed, and the largest
difference before it.

    python bench/retrace_spread.py          # about four minutes on one core

Where two PyTorch runs part, no second implementation (the page's JavaScript, which
computes in float64) can keep to either: a difference in the last bit grows over the
steps, in float32 from 1e-7 and in float64 throughout from 1e-16. Rounded back to float32
after every step, the book's arithmetic wipes such differences out before they can grow,
so the page retraces the book's run for as long as both round alike. Measured
2026-11-28 on an AMD EPYC (seeds 1337 to 1341, the first 100 steps): float32 parts at
steps 36, 41, 36, 49, 38, float64 throughout at 74, 77, 54, 76 and not within 100.
Measured again 2026-11-30 on the same machine, all three rows: float32 at 36, 41, 32, 49,
34; float64 throughout at 72, 74, 54, 76 and not within 100; the book's arithmetic at none
of the 600 steps for any seed, the two runs' losses never more than 3.3e-16 apart.
"""

import sys
from pathlib import Path

import run as bench_run  # bench/run.py, beside this script
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from model_src import presets, train
from model_src.model import GPT

PRESET, SHORT = "sort", 100  # float32 and float64 throughout part within SHORT steps
# arithmetic (train.py's dtype setting), the weights' dtype, and the steps compared: the
# book's arithmetic over its whole run
ARITHMETICS = {
    "float32": ("float32", torch.float32, SHORT),
    "float64 throughout": ("float64", torch.float64, SHORT),
    "the book's, float64 over float32 weights": ("float64", torch.float32, None),
}


def losses(seed: int, arithmetic: str, weights: torch.dtype, threads: int, steps) -> list:
    """train.fit's training loss at each step (to `steps`, or the preset's end)."""
    torch.set_num_threads(threads)
    overrides = {"log_interval": 1, "seed": seed, "dtype": arithmetic}
    if steps:
        overrides["max_iters"] = steps  # the schedule stays the full run's
    cfg = train.resolve_config(presets.config_file(PRESET), overrides)
    torch.manual_seed(seed)
    model = GPT(presets.gpt_config(PRESET)).to(weights)
    log = train.fit(model, cfg, train.memory_batches(presets.dataset(PRESET), cfg))["log"]
    return [record["loss"] for record in log]


def main() -> None:
    book_seed = train.resolve_config(presets.config_file(PRESET), {})["seed"]
    seeds = range(book_seed, book_seed + 5)
    for name, (arithmetic, weights, steps) in ARITHMETICS.items():
        partings = []
        for seed in seeds:
            one, two = (losses(seed, arithmetic, weights, n, steps) for n in (1, 2))
            partings.append(bench_run.parting(one, two))
        first = [p["first step past the gap"] for p in partings]
        within = max(p["largest gap before it"] for p in partings)
        print(
            f"{name}, {len(one)} steps: one thread against two part at steps {first}"
            f" (None: not at all); the largest gap before: {within:.1e}"
        )


if __name__ == "__main__":
    main()
