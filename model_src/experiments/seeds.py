"""Every seed the book's training runs and experiments draw, from one place.

The book's own seeds are 1337 (nanoGPT's), then 1338, 1339, ... for an experiment that
repeats a run. ``NANOBOOK_SEED=n`` (an integer) moves every one of them by n x 1000, so
the whole book can be rebuilt from seeds nobody tuned its prose to, as another machine's
rounding would train it:

    NANOBOOK_SEED=1 nox -s docs      # seeds 2337, 2338, ...

What the runs read stays the same: the data, its train/held-out split and the batches
the cells show (their seeds are the data's, not a run's).
"""

import os

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
