"""How the pages word what they measured: a number below zero takes the minus sign
("−0.52", not "-0.52"), a range whose two ends print alike is said as one value
("3 CPU-seconds", never "3 to 3 CPU-seconds"), and a word that follows a count agrees with
it ("1 problem", "0 problems", "1 run sorts", "3 runs sort")."""

import math
import statistics
from collections.abc import Iterable


def number(value: float, spec: str = "") -> str:
    """value formatted with spec, as prose prints it: with a minus sign (−), not the
    hyphen format() writes, no sign on a value that rounds to zero ("0.00", not "-0.00"
    or, with a "+" spec, "+0.00"), and no bare point where "#" keeps trailing zeros
    ("#.3g": "0.000200" and "15.0", but "148", not "148.")."""
    text = format(value, spec).removesuffix(".")
    if text[:1] not in ("-", "+"):
        return text
    if {c for c in text if c.isdigit()} == {"0"}:
        return text[1:]
    return "−" + text[1:] if text[0] == "-" else text


SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def power_of_ten(value: float, digits: int = 1) -> str:
    """A very small or large value as prose writes it: '4.8 × 10⁻⁷' (`digits` after the
    point; 0 gives '5 × 10⁻⁷'), not the '4.8e-07' that format() writes; zero is '0'."""
    if value == 0:
        return "0"
    mantissa, exponent = f"{value:.{digits}e}".split("e")
    power = str(int(exponent)).translate(SUPERSCRIPT)
    return f"{number(float(mantissa), f'.{digits}f')} × 10{power}"


def number_not_zero(value: float, spec: str) -> str:
    """number(value, spec), unless that prints a value that is not 0 as zero: then its
    first significant digit ('−0.0003', not '0.000', beside words such as 'below 0'),
    as a power of ten when smaller than 10⁻⁴."""
    text = number(value, spec)
    if value == 0 or {c for c in text if c.isdigit()} != {"0"}:
        return text
    if abs(value) < 1e-4:
        return power_of_ten(value, 0)
    return number(value, ("+" if spec.startswith("+") else "") + ".1g")


def agreement(gap: float) -> str:
    """How closely two computations agree, for prose: 'exactly' or 'to within 5 × 10⁻⁷'."""
    return "exactly" if gap == 0 else f"to within {power_of_ten(gap, 0)}"


def span(values: Iterable[float], spec: str = "") -> str:
    """'low to high' of values, each formatted with spec; the one value if both print alike."""
    values = list(values)
    low, high = number(min(values), spec), number(max(values), spec)
    return low if low == high else f"{low} to {high}"


def by_seed(values: Iterable[float], spec: str = "") -> str:
    """Values over seeds as the pages write them: their mean, then their span,
    '99.3% (98.7% to 99.7% by seed)'; the mean alone where every seed prints alike, so
    that it reads wherever a single value would ('sorts 0.0% of them')."""
    values = list(values)
    mean, seeds = number(statistics.fmean(values), spec), span(values, spec)
    return mean if " to " not in seeds else f"{mean} ({seeds} by seed)"


def within(share: float, unit: str = "%") -> str:
    """A bound as the pages write it, 'within 0.5%' (or another `unit`, such as
    ' percentage points'): the share rounded up to a tenth of a percent, so that the
    words hold for the unrounded value too."""
    return f"{math.ceil(round(1000 * share, 9)) / 10:g}{unit}"


def agreeing(count: int, one: str, many: str | None = None) -> str:
    """The word whose number agrees with count: `one` for exactly 1, else `many`, so that
    0 takes the plural ("0 problems", "none do"). A noun's plural defaults to `one` + "s";
    a verb gives both forms: agreeing(n, "sorts", "sort")."""
    return one if count == 1 else many or f"{one}s"


def counted(count: int, one: str, many: str | None = None) -> str:
    """The count and the word that agrees with it: '1 problem', '0 problems', '3 problems'."""
    return f"{count} {agreeing(count, one, many)}"
