"""How the book decides a claim about its runs: one rule, stated once.

Two settings are compared over the same seeds, paired: seed s of one and seed s of the
other start from the same draw of the random numbers, so what differs between them is
the setting, plus the rounding that follows from it. For each seed the difference d_s
of the measured value (an accuracy, a loss) is taken, and

    a difference is claimed only when the mean of the d_s lies more than three standard
    errors from zero (|mean| > 3 * sd / sqrt(n)), with n >= 5 seeds;

anything closer is "no difference this book can measure at this size", said only with
n >= 8 seeds: five seeds can claim a difference, but may miss a small one that eight
find. A share of held-out problems moves in steps of one problem, and a difference of one
problem in every seed has no spread at all: a comparison of accuracies (`shares`) also
asks the mean to reach RESOLUTION, below which it is "even" whatever its spread. Three
standard errors is about the 1-in-300 level of a normal difference, and with five to
eight seeds a t-distribution's tails are wider still: a claim that passes it does not
hinge on one seed or on one machine's rounding. The page shows the statistic beside the
claim ("+8.0 ± 2.4 points over 8 seeds") and words it by the verdict.
"""

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

MIN_SEEDS = 5
NEAR_NOISE_SEEDS = 8  # the least seeds for a mean within STANDARD_ERRORS of zero
STANDARD_ERRORS = 3.0
# the least difference in a share of problems a claim is made on: 2 points, three of the
# sort task's 146 held-out problems (one is 0.7 points)
RESOLUTION = 0.02


@dataclass(frozen=True)
class Comparison:
    """Paired differences (first minus second), one per seed, and the rule's verdict."""

    differences: tuple[float, ...]
    floor: float = 0.0  # the least |mean| claimed, whatever the spread (RESOLUTION)

    @property
    def n(self) -> int:
        return len(self.differences)

    @property
    def mean(self) -> float:
        return statistics.fmean(self.differences)

    @property
    def standard_error(self) -> float:
        return statistics.stdev(self.differences) / math.sqrt(self.n)

    @property
    def verdict(self) -> str:
        """ "ahead" (the first is larger), "behind", or "even" (no measurable difference)."""
        if self.n < MIN_SEEDS:
            raise ValueError(f"{self.n} seeds cannot decide a claim: the book asks {MIN_SEEDS}")
        if not all(map(math.isfinite, self.differences)):
            raise ValueError(f"a run's value is not a number: {self.differences}")
        if not self.beyond_noise and self.n < NEAR_NOISE_SEEDS:
            raise ValueError(
                f"{self.statistic(scale=1, unit='')} lies within {STANDARD_ERRORS:g} standard"
                f" errors of zero: the book asks {NEAR_NOISE_SEEDS} seeds to call that no"
                " difference"
            )
        if self.beyond_noise and abs(self.mean) >= self.floor:
            return "ahead" if self.mean > 0 else "behind"
        return "even"

    @property
    def beyond_noise(self) -> bool:
        """The mean lies more than STANDARD_ERRORS standard errors from zero."""
        return abs(self.mean) > STANDARD_ERRORS * self.standard_error

    @property
    def under_floor(self) -> bool:
        """Beyond three standard errors yet under the floor: "even" for the floor alone."""
        return self.beyond_noise and abs(self.mean) < self.floor

    def statistic(
        self,
        scale: float = 100,
        unit: str = " points",
        digits: int | None = None,
        plus: bool = True,
    ) -> str:
        """The mean difference with its standard error: '+8.0 ± 2.4 points over 8 seeds',
        '−3.1 ± …' (a minus sign, not a hyphen) below zero,
        and ', under the floor of 2 points' where only the floor makes it "even" (a steady
        gap of one problem would otherwise read as a difference the verdict denies).
        Without a "+" (`plus=False`) for a mean that is a size, not a difference: '46.3 ±
        5.0% over 8 seeds'. Digits as `magnitude` prints the mean."""
        digits = self._digits(scale) if digits is None else digits
        shown = self.magnitude(scale, digits)
        positive = "+" if plus else ""
        sign = "" if float(shown) == 0 else positive if self.mean > 0 else "−"  # no "−0.0"
        error = f"{self.standard_error * scale:.{digits}f}"
        if self.standard_error and float(error) == 0:  # a spread, if one under the digits
            error = f"less than {10**-digits:.{digits}f}"
        text = f"{sign}{shown} ± {error}{unit} over {self.n} seeds"
        floor = f", under the floor of {self.floor * scale:g}{unit}"
        return text + (floor if self.under_floor else "")

    def magnitude(self, scale: float = 100, digits: int | None = None) -> str:
        """|mean| as `statistic` prints it, for a sentence that names the size of a gap."""
        digits = self._digits(scale) if digits is None else digits
        return f"{abs(self.mean * scale):.{digits}f}"

    def _digits(self, scale: float) -> int:
        """One decimal, or as many more (up to 4) as a standard error above 0 needs not to
        print as 0 ('± 0.0' reads as no spread at all), or as a mean just under the floor
        needs not to print as the floor ('+2.0' beside "no difference under 2 points" reads
        as a contradiction)."""
        mean, error, floor = self.mean * scale, self.standard_error * scale, self.floor * scale
        digits = next(d for d in range(1, 5) if round(error, d) or not error or d == 4)
        while digits < 4 and abs(mean) < floor and round(abs(mean), digits) >= floor:
            digits += 1
        return digits

    def words(
        self, ahead: str, behind: str, even: str = "no difference this book can measure"
    ) -> str:
        return {"ahead": ahead, "behind": behind, "even": even}[self.verdict]


def paired(first: Sequence[float], second: Sequence[float], floor: float = 0.0) -> Comparison:
    """The comparison of two settings measured over the same seeds, in the same order;
    `floor`: the least mean difference claimed (RESOLUTION for shares of problems)."""
    if len(first) != len(second):
        raise ValueError(f"paired runs need the same seeds: {len(first)} against {len(second)}")
    return Comparison(tuple(a - b for a, b in zip(first, second, strict=True)), floor)


def shares(first: Sequence[float], second: Sequence[float]) -> Comparison:
    """`paired` for shares of held-out problems (accuracies), which move one problem at a
    time: a difference is claimed only from RESOLUTION up."""
    return paired(first, second, floor=RESOLUTION)


def in_how_many(flags: Sequence[bool]) -> str:
    """'6 of 8 seeds': a count, for what a single seed shows."""
    return f"{sum(map(bool, flags))} of {len(flags)} seeds"
