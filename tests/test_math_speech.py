"""ext/math_speech.py: a formula's LaTeX as the words and symbols a screen reader says."""

from __future__ import annotations

import pytest

from ext.math_speech import spoken


@pytest.mark.parametrize(
    ("latex", "said"),
    [
        # letters and operators as the symbols the image shows
        (
            r"\rho_{i,t} = \pi_\theta(o_{i,t}) / \pi_{old}(o_{i,t})",
            "ρ_(i,t) = π_θ(o_(i,t)) / π_old(o_(i,t))",
        ),
        (r"1 - \eta\lambda \le \Sigma", "1 - ηλ ≤ Σ"),
        (r"\ell = \ln V", "ℓ = ln V"),
        (r"\hat A_i, \bar r", "Â_i, r̄"),
        # structures as their plain-text reading
        (r"-\frac{1}{PG}\sum_i A_i", "- 1/PG ∑_i A_i"),
        (r"\tfrac{8}{3}C", "8/3 C"),
        (r"\sqrt{\sum_i s_i^2}", "√(∑_i s_i squared)"),
        (r"1 - \binom{n-c}{k}/\binom{n}{k}", "1 - (n-c choose k) / (n choose k)"),
        (r"\prod_{i=1}^{n} x_i", "∏_(i=1) to n x_i"),
        (r"X X^\top X = U S^3 V^\top", "X X transposed X = U S cubed V transposed"),
        (r"e^{-(hs-2)/hs}", "e to the power (-(hs-2)/hs)"),
        # looks and layout left out; an escaped character is itself
        (r"{\color{q} q} \cdot k", "q · k"),
        (r"\mathrm{softmax}(z)\;\big(\mathbb{E}\big)", "softmax(z) (E)"),
        (r"& f(x) = \\ & \left( a \& b \right)", "f(x) = (a & b)"),
        (r"\mycommand x", "mycommand x"),  # an unknown command said by its name
    ],
)
def test_a_formula_is_said_in_words_and_symbols(latex, said):
    assert spoken(latex) == said


@pytest.mark.parametrize("broken", [r"\frac{1}{", r"x^", "\\", r"\sqrt", "{a"])
def test_a_formula_latex_cannot_typeset_still_gets_an_alt_text(broken):
    assert "\\" not in spoken(broken)
