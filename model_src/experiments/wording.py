"""How the pages word what they measured: a range whose two ends print alike is said as
one value ("3 CPU-seconds", never "3 to 3 CPU-seconds"), and a word that follows a count
agrees with it ("1 problem", "0 problems", "1 run sorts", "3 runs sort")."""

import math
import statistics
from collections.abc import Iterable


def span(values: Iterable[float], spec: str = "") -> str:
    """'low to high' of values, each formatted with spec; the one value if both print alike."""
    values = list(values)
    low, high = format(min(values), spec), format(max(values), spec)
    return low if low == high else f"{low} to {high}"


def by_seed(values: Iterable[float], spec: str = "") -> str:
    """Values over seeds as the pages write them: their mean, then their span,
    '99.3% (98.7% to 99.7% by seed)'; the mean alone where every seed prints alike, so
    that it reads wherever a single value would ('sorts 0.0% of them')."""
    values = list(values)
    mean, seeds = format(statistics.fmean(values), spec), span(values, spec)
    return mean if " to " not in seeds else f"{mean} ({seeds} by seed)"


def within(share: float) -> str:
    """A bound as the pages write it, 'within 0.5%': the share rounded up to a tenth of a
    percent, so that the words hold for the unrounded value too."""
    return f"{math.ceil(round(1000 * share, 9)) / 10:g}%"


def agreeing(count: int, one: str, many: str | None = None) -> str:
    """The word whose number agrees with count: `one` for exactly 1, else `many`, so that
    0 takes the plural ("0 problems", "none do"). A noun's plural defaults to `one` + "s";
    a verb gives both forms: agreeing(n, "sorts", "sort")."""
    return one if count == 1 else many or f"{one}s"


def counted(count: int, one: str, many: str | None = None) -> str:
    """The count and the word that agrees with it: '1 problem', '0 problems', '3 problems'."""
    return f"{count} {agreeing(count, one, many)}"
