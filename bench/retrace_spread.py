"""How far the sort preset's run drifts from itself in PyTorch when only its rounding
changes: train.fit in float32 on one thread (the book's run) against the same run on two
threads and in float64, and float64 on one thread against float64 on two, from the same
start and batches, for five seeds. It prints, per seed, the largest difference in
training loss over the first 30, 60 and 100 steps.

    python bench/retrace_spread.py          # about a minute and a half on one core

The page's trainer retraces train.fit within 1e-4 over 30 steps (tests/
test_live_training_widget.py); where PyTorch's own float32 runs part by more than 1e-3,
no second implementation's losses can stay within 1e-3 of them step for step. The last
pair asks whether more precision would buy a longer retrace: a difference in the last
bit of float64 grows the same way, only from further down. Measured 2026-11-28 on an AMD
EPYC (torch's AVX512 kernels; seeds 1337 to 1341), the first step at which each pair
parts by more than 1e-3: float32 on two threads at 36, 41, 36, 49, 38; float64 at 36,
41, 35, 48, 36; float64 against float64 on two threads at 74, 77, 54, 76, and not within
100 for seed 1340 (it parts at step 105). Even a book run and a page both in float64
would part before step 100 in most seeds.

    python bench/retrace_spread.py --rates  # about two minutes more

asks whether a gentler run would retrace further: float32 against float64 at the
preset's peak learning rate and at a half and three tenths of it, the first step at
which the losses part by more than 1e-3, per seed. Measured 2026-11-28, on a machine
whose float32 and float64 part at the preset's rate at 39, 41, 32, 49, 36 (the partings
themselves move with the machine): at steps 32 to 49 at the preset's rate, 40 to 53 at
half of it, 50 to 68 at three tenths, where the losses are still 0.07 to 0.52 at step
100: a lower rate moves the parting later, not past step 100.
"""

import json
import sys
from pathlib import Path

import run as bench_run  # bench/run.py, beside this script
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ext.live_models.training_widget import RETRACE_TOLERANCE
from model_src import presets, train
from model_src.model import GPT

PRESET, STEPS, SPANS = "sort", 100, (30, 60, 100)
GAP = RETRACE_TOLERANCE  # the page's own word on the retrace, and bench/run.py's
RATE_SHARES = (1.0, 0.5, 0.3)  # of the preset's peak learning rate


def losses(seed: int, dtype: torch.dtype, threads: int, rate_share: float = 1.0) -> list[float]:
    """train.fit's training loss at each of the first STEPS steps (the preset's schedule,
    its learning rates scaled by rate_share)."""
    torch.set_num_threads(threads)
    preset = train.resolve_config(presets.config_file(PRESET), {})
    overrides = {"log_interval": 1, "max_iters": STEPS, "seed": seed}
    overrides |= {key: preset[key] * rate_share for key in ("learning_rate", "min_lr")}
    cfg = train.resolve_config(presets.config_file(PRESET), overrides)
    cfg["lr_decay_iters"] = train.resolve_config(presets.config_file(PRESET), {})["max_iters"]
    torch.manual_seed(seed)
    model = GPT(presets.gpt_config(PRESET)).to(dtype)
    log = train.fit(model, cfg, train.memory_batches(presets.dataset(PRESET), cfg))["log"]
    return [record["loss"] for record in log]


def spread(a: list[float], b: list[float]) -> dict[int, float]:
    """The largest difference of two runs' losses over each span of first steps."""
    pairs = list(zip(a, b, strict=True))
    return {span: max(abs(x - y) for x, y in pairs[:span]) for span in SPANS}


def parting(a: list[float], b: list[float]) -> int | None:
    """The first step at which two runs' losses differ by more than GAP (None: not within
    the steps they ran), as bench/run.py finds it for the page's retrace."""
    return bench_run.parting(a, b)["first step past the gap"]


def parting_steps(seeds: range) -> None:
    """Per peak learning rate, the first step at which float32 and float64 part by more
    than GAP, for each seed (None: not within STEPS)."""
    for share in RATE_SHARES:
        steps = []
        for seed in seeds:
            book, double = (
                losses(seed, dtype, 1, share) for dtype in (torch.float32, torch.float64)
            )
            steps.append(parting(book, double))
        print(f"peak learning rate x {share:g}: float32 and float64 part at steps {steps}")


def main() -> None:
    book_seed = train.resolve_config(presets.config_file(PRESET), {})["seed"]
    seeds = range(book_seed, book_seed + 5)
    if "--rates" in sys.argv[1:]:
        parting_steps(seeds)
        return
    rows, partings = {}, {}
    for seed in seeds:
        book, double = losses(seed, torch.float32, 1), losses(seed, torch.float64, 1)
        pairs = {
            "float32, 2 threads": (book, losses(seed, torch.float32, 2)),
            "float64": (book, double),
            "float64 against float64, 2 threads": (double, losses(seed, torch.float64, 2)),
        }
        rows[seed] = {against: spread(*runs) for against, runs in pairs.items()}
        for against, runs in pairs.items():
            partings.setdefault(against, []).append(parting(*runs))
    print(json.dumps(rows, indent=1))
    for against, steps in partings.items():
        print(f"{against}: part by more than {GAP:g} at steps {steps} (None: not within {STEPS})")


if __name__ == "__main__":
    main()
