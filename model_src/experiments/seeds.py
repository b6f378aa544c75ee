"""Every seed the book's training runs and experiments draw, from one place.

The book's own seeds are 1337 (nanoGPT's), then 1338, 1339, ... for an experiment that
repeats a run. ``NANOBOOK_SEED=n`` (an integer) moves every one of them by n x 1000, so
the whole book can be rebuilt from seeds nobody tuned its prose to, as another machine's
rounding would train it:

    NANOBOOK_SEED=1 nox -s docs      # seeds 2337, 2338, ...

What the runs read stays the same: the data, its train/held-out split and the batches
the cells show (their seeds are the data's, not a run's).

Every run trains inside `seeded(seed, threads)`: its seed drawn afresh and its thread
count set, the caller's random state and thread count given back after, even if the
run fails. train.py's train() and every experiment's runs (runner.py) use this one guard.
"""

import os
from collections.abc import Iterator
from contextlib import contextmanager

import torch

BOOK_SEED = 1337
STRIDE = 1000  # one value's seeds never meet another's, for experiments of < 1000 seeds


def offset() -> int:
    """How far NANOBOOK_SEED moves every seed: 0 when it is unset or empty."""
    text = os.environ.get("NANOBOOK_SEED", "").strip()
    if not text:
        return 0
    try:
        return int(text) * STRIDE
    except ValueError:
        raise ValueError(f"NANOBOOK_SEED must be an integer, not {text!r}") from None


def seed(book_seed: int = BOOK_SEED) -> int:
    """The seed to draw where the book draws ``book_seed``."""
    return book_seed + offset()


def seeds(count: int) -> tuple[int, ...]:
    """An experiment's ``count`` seeds: the book's first ``count``, moved."""
    return tuple(seed(BOOK_SEED + i) for i in range(count))


@contextmanager
def seeded(seed: int, threads: int = 0) -> Iterator[None]:
    """Run the block with torch's random state seeded by `seed` and `threads` torch
    threads (0 leaves the count alone); afterwards, the caller's random state and thread
    count as they were. One thread makes a run the same bit for bit wherever it runs."""
    threads_before = torch.get_num_threads()
    if threads:
        torch.set_num_threads(threads)
    try:
        with torch.random.fork_rng():
            torch.manual_seed(seed)
            yield
    finally:
        torch.set_num_threads(threads_before)
