"""experiments/timing.py: a timing printed to two significant figures, whatever its size."""

import pytest

from model_src.experiments.timing import two_figures


@pytest.mark.parametrize(
    ("value", "printed"),
    [
        (66.6, "67"),  # the GFLOP/s the issue found at three figures
        (1234.5, "1,200"),
        (123456, "120,000"),
        (3.14, "3.1"),
        (0.0123, "0.012"),
        (0.5, "0.50"),
        (9.96, "10"),  # rounding up adds a figure: counted after rounding
        (99.5, "100"),
        (-2.345, "-2.3"),
        (0, "0"),
    ],
)
def test_a_timing_has_two_significant_figures(value, printed):
    assert two_figures(value) == printed
