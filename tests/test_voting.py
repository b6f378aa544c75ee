"""model_src/voting.py: majority vote and best-of-k, against enumeration."""

import itertools
from collections import Counter

import pytest

from model_src import voting


def _vote_by_enumeration(row: list[str], right: str, k: int) -> float:
    """Every choice of k of the samples, ties shared: the chance the vote is right."""
    total = 0.0
    picks = list(itertools.combinations(row, k))
    for pick in picks:
        counts = Counter(pick)
        top = max(counts.values())
        leaders = [a for a, c in counts.items() if c == top]
        total += (right in leaders) / len(leaders)
    return total / len(picks)


def test_majority_vote_matches_every_choice_of_k_samples():
    samples = [list("AABBBC"), list("ABCDEF"), list("AAAAAB"), list("BBBCCA")]
    right = ["A", "A", "A", "A"]
    for k in range(1, 7):
        pairs = zip(samples, right, strict=True)
        expected = sum(_vote_by_enumeration(r, a, k) for r, a in pairs) / 4
        # a random choice of voting.DRAWS subsets per problem, not all of them
        assert voting.majority_at_k(samples, right, k) == pytest.approx(expected, abs=0.03)
    # all n: one vote per problem, exactly; a tie (the third) split
    samples = [list("AABC"), list("ABBC"), list("AABB"), list("CCCC")]
    assert voting.majority_at_k(samples, ["A"] * 4, 4) == (1 + 0 + 0.5 + 0) / 4


def test_majority_vote_of_one_sample_is_the_share_of_right_samples():
    samples, right = [list("AABB"), list("ACCC")], ["A", "A"]
    assert voting.majority_at_k(samples, right, 1) == pytest.approx(0.375, abs=0.03)


def test_majority_vote_refuses_k_beyond_the_samples():
    with pytest.raises(ValueError, match="1 <= k <= n"):
        voting.majority_at_k([list("AB")], ["A"], 3)


def test_best_of_k_is_exact_pass_at_k_and_samples_to_match_finds_the_least_k():
    p = [0.5, 0.1]
    assert voting.best_of_k(p, 1) == pytest.approx(0.3)
    assert voting.best_of_k(p, 3) == pytest.approx(((1 - 0.5**3) + (1 - 0.9**3)) / 2)
    target = voting.best_of_k(p, 5)
    assert voting.samples_to_match(p, target) == 5
    assert voting.samples_to_match(p, 0.2) == 1
    assert voting.samples_to_match([0.0], 0.5) is None
