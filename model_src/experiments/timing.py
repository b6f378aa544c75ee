"""How the book prints a timing: to two significant figures.

A time or a speed measured while the book builds moves from build to build and from
machine to machine by more than a tenth of itself; a third figure ("66.6 GFLOP/s") would
only show one machine's noise. Every page glues its timings through `two_figures`.
"""

import math


def two_figures(value: float) -> str:
    """`value` rounded to two significant figures, with thousands separators and no
    trailing exponent: 66.6 -> '67', 1234.5 -> '1,200', 3.14 -> '3.1', 0.0123 -> '0.012'."""
    if value == 0 or not math.isfinite(value):
        return f"{value:g}"
    rounded = float(f"{value:.2g}")  # 9.96 -> 10.0: the figures are counted after rounding
    decimals = max(0, 1 - math.floor(math.log10(abs(rounded))))
    return f"{rounded:,.{decimals}f}"
