"""model_src/experiments: the one rule that decides a claim about runs, and the seeds."""

from __future__ import annotations

import math

import pytest

from model_src.experiments import seeds, verdicts, wording


def test_a_difference_beyond_three_standard_errors_is_a_verdict():
    ahead = verdicts.paired([0.9, 0.8, 0.85, 0.95, 0.9], [0.7, 0.65, 0.7, 0.75, 0.72])
    assert ahead.verdict == "ahead"
    assert ahead.statistic() == "+17.6 ± 1.1 points over 5 seeds"
    assert verdicts.paired([0.7] * 5, [0.8, 0.9, 0.85, 0.8, 0.9]).verdict == "behind"


def test_a_difference_within_the_noise_is_no_verdict_over_eight_seeds():
    first, second = [0.9, 0.5, 0.8, 0.6, 0.95, 0.7, 0.75, 0.8], [0.7, 0.8, 0.6, 0.85] * 2
    noisy = verdicts.paired(first, second)
    assert noisy.verdict == "even"
    assert noisy.words("ahead", "behind") == "no difference this book can measure"
    # five seeds decide a difference far beyond its spread, not the absence of one
    with pytest.raises(ValueError, match="asks 8 seeds"):
        _ = verdicts.paired(first[:5], second[:5]).verdict


def test_fewer_than_five_seeds_decide_nothing():
    with pytest.raises(ValueError, match="cannot decide"):
        _ = verdicts.paired([1.0, 1.0], [0.0, 0.0]).verdict
    with pytest.raises(ValueError, match="same seeds"):
        verdicts.paired([1.0, 1.0], [0.0])


def test_nanobook_seed_moves_every_seed_by_whole_thousands(monkeypatch):
    monkeypatch.delenv("NANOBOOK_SEED", raising=False)
    assert seeds.seeds(3) == (1337, 1338, 1339)
    monkeypatch.setenv("NANOBOOK_SEED", "2")
    assert seeds.seeds(3) == (3337, 3338, 3339) and seeds.seed() == 3337
    monkeypatch.setenv("NANOBOOK_SEED", "two")
    with pytest.raises(ValueError, match="must be an integer"):
        seeds.seed()


def test_a_span_whose_ends_print_alike_is_one_value():
    assert wording.span([3.04, 2.96, 3.01], ".0f") == "3"
    assert wording.span([1.234, 1.29, 1.26], ".2f") == "1.23 to 1.29"
    assert wording.span([0.125, 0.125], ".1%") == "12.5%"


def test_a_number_below_zero_takes_the_minus_sign_and_a_rounded_zero_none():
    assert wording.number(-0.52, ".2f") == "−0.52"
    assert wording.number(-0.001, ".2f") == "0.00"
    assert wording.number(0.001, "+.2f") == "0.00"
    assert wording.number(0.52, "+.2f") == "+0.52"
    assert wording.number(-math.inf, "+.2f") == "−inf"
    assert [wording.number(x, "#.3g") for x in (0.0002, 15, 148, 1234)] == [
        "0.000200",
        "15.0",
        "148",
        "1.23e+03",
    ]
    assert wording.span([-0.21, -0.121], ".3f") == "−0.210 to −0.121"
    behind = verdicts.paired([0.7] * 5, [0.8, 0.9, 0.85, 0.8, 0.9])
    assert behind.statistic() == "−15.0 ± 2.2 points over 5 seeds"


def test_a_tiny_or_huge_value_is_written_as_a_power_of_ten_not_e_notation():
    assert wording.power_of_ten(4.83e-7) == "4.8 × 10⁻⁷"
    assert wording.power_of_ten(5.2e-7, 0) == "5 × 10⁻⁷"
    assert wording.power_of_ten(1.23e18) == "1.2 × 10¹⁸"
    assert wording.power_of_ten(-3.4e-5) == "−3.4 × 10⁻⁵"
    assert wording.power_of_ten(9.96e-5) == "1.0 × 10⁻⁴"  # the mantissa rounds up a power
    assert wording.power_of_ten(0.0) == "0"
    assert wording.agreement(0.0) == "exactly"
    assert wording.agreement(4.83e-7) == "to within 5 × 10⁻⁷"
    # a value that is not 0 keeps a digit where the format would print it as zero
    assert wording.number_not_zero(-0.0003, ".3f") == "−0.0003"
    assert wording.number_not_zero(0.0003, "+.3f") == "+0.0003"
    assert wording.number_not_zero(-2.4e-6, ".3f") == "−2 × 10⁻⁶"
    assert wording.number_not_zero(0.0, "+.3f") == "0.000"
    assert wording.number_not_zero(-0.0123, ".3f") == "−0.012"


def test_a_bound_rounds_up_so_it_holds_for_the_unrounded_value():
    assert wording.within(0.0031) == "0.4%"
    assert wording.within(0.0394, " percentage points") == "4 percentage points"


def test_values_over_seeds_are_their_mean_and_span_or_the_one_value():
    assert wording.by_seed([0.987, 0.997, 0.995], ".1%") == "99.3% (98.7% to 99.7% by seed)"
    assert wording.by_seed([0.0, 0.0001, 0.0], ".1%") == "0.0%"


def test_a_word_after_a_count_is_singular_for_one_alone():
    assert [wording.counted(n, "problem") for n in (0, 1, 3)] == [
        "0 problems",
        "1 problem",
        "3 problems",
    ]
    assert wording.counted(2, "matrix", "matrices") == "2 matrices"
    assert [wording.agreeing(n, "sorts", "sort") for n in (0, 1, 2)] == ["sort", "sorts", "sort"]


def test_a_spread_prints_with_the_decimals_it_needs_and_only_a_true_zero_as_zero():
    tight = verdicts.paired([0.5000, 0.5001, 0.5002, 0.5003, 0.5004], [0.5] * 5)
    assert tight.statistic() == "+0.02 ± 0.01 points over 5 seeds"
    # a mean that rounds to zero has no sign: "-0.0" would read as a fall, "+0.0" as a rise
    # a spread under the digits printed is said to be one, not "± 0.0" (no spread at all)
    assert tight.statistic(digits=1) == "0.0 ± less than 0.1 points over 5 seeds"
    below = verdicts.paired([0.5, 0.49999, 0.5, 0.5, 0.5], [0.5] * 5)
    assert below.statistic(digits=2) == "0.00 ± less than 0.01 points over 5 seeds"
    hairline = verdicts.paired([0.5005, 0.50050001] * 4, [0.5] * 8)
    assert hairline.statistic() == "+0.0500 ± less than 0.0001 points over 8 seeds"
    certain = verdicts.paired([1.0] * 5, [0.0] * 5)
    assert certain.statistic() == "+100.0 ± 0.0 points over 5 seeds"


def test_a_share_claims_nothing_under_the_floor_however_steady():
    one_problem = 1 / 146  # the same single held-out problem, in every seed
    steady = ([0.5 + one_problem] * 8, [0.5] * 8)
    assert verdicts.paired(*steady).verdict == "ahead"  # no spread: any mean is > 3 SE
    assert verdicts.shares(*steady).verdict == "even"
    clear = ([0.80, 0.82, 0.79, 0.81, 0.83], [0.70, 0.71, 0.69, 0.72, 0.70])
    assert verdicts.shares(*clear).verdict == "ahead"
    assert verdicts.shares(*clear[::-1]).verdict == "behind"


def test_a_mean_just_under_the_floor_does_not_print_as_the_floor():
    just_under = verdicts.shares([0.5160, 0.5236] * 4, [0.5] * 8)  # +1.98 ± 0.14 points
    assert just_under.verdict == "even"
    assert just_under.under_floor
    assert just_under.statistic() == "+1.98 ± 0.14 points over 8 seeds, under the floor of 2 points"
    assert verdicts.paired([0.5160, 0.5236] * 4, [0.5] * 8).statistic().startswith("+2.0 ±")


def test_a_size_prints_without_a_plus_and_a_gap_by_its_magnitude_with_the_statistics_digits():
    shares_of_a_gain = verdicts.Comparison((0.40, 0.45, 0.50, 0.42, 0.48))
    assert shares_of_a_gain.statistic(unit="%", plus=False) == "45.0 ± 1.8% over 5 seeds"
    falling = verdicts.paired([0.5160, 0.5236] * 4, [0.53] * 8, floor=verdicts.RESOLUTION)
    assert falling.statistic().startswith("−1.0 ± 0.1 points")
    assert falling.statistic(plus=False).startswith("−1.0 ±")  # a fall keeps its sign
    assert falling.magnitude() == "1.0"
    just_under = verdicts.shares([0.5160, 0.5236] * 4, [0.5] * 8)
    assert just_under.magnitude() == "1.98"  # as many digits as the statistic shows


def test_no_difference_takes_eight_seeds_at_every_edge():
    same = [0.5] * 5
    with pytest.raises(ValueError, match="asks 8 seeds"):  # no spread, no difference
        _ = verdicts.paired(same, same).verdict
    assert verdicts.paired([0.5] * 8, [0.5] * 8).verdict == "even"
    steady_problem = verdicts.shares([0.5 + 1 / 146] * 5, [0.5] * 5)
    assert steady_problem.verdict == "even"  # beyond the noise, under the floor: 5 decide
    with pytest.raises(ValueError, match="asks 8 seeds"):
        _ = verdicts.Comparison((0.1, -0.1, 0.2, -0.2, 0.1, -0.1, 0.05)).verdict  # seven
    with pytest.raises(ValueError, match="not a number"):
        _ = verdicts.Comparison((0.1, float("nan"), 0.2, 0.1, 0.3)).verdict
