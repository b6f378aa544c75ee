"""How the pages word a spread of measured values: a range whose two ends print alike is
said as one value ("3 CPU-seconds", never "3 to 3 CPU-seconds")."""

from collections.abc import Iterable


def span(values: Iterable[float], spec: str = "") -> str:
    """'low to high' of values, each formatted with spec; the one value if both print alike."""
    values = list(values)
    low, high = format(min(values), spec), format(max(values), spec)
    return low if low == high else f"{low} to {high}"
