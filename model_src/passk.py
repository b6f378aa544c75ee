"""pass@k: the chance that at least one of k samples is right, estimated without bias.

Draw n >= k samples of a problem and count the c right ones. Among all C(n, k) ways to
pick k of the n, the fraction that holds no right sample is C(n - c, k) / C(n, k), so

    pass@k = 1 - C(n - c, k) / C(n, k)

averaged over problems (Chen et al. 2021, the Codex paper). Taking the first k samples
instead would use only k of the n draws; this uses all of them. The binomials overflow
for large n, so the ratio is computed as a product of c factors that each lie in [0, 1].
"""

import math


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k of one problem from n samples, c of them right."""
    if not 0 <= c <= n or not 1 <= k <= n:
        raise ValueError(f"need 0 <= c <= n and 1 <= k <= n, not n={n}, c={c}, k={k}")
    if n - c < k:
        return 1.0  # every pick of k holds a right sample
    # C(n-c, k) / C(n, k) = prod over i = n-c+1 .. n of (1 - k / i)
    return 1.0 - math.prod(1.0 - k / i for i in range(n - c + 1, n + 1))


def mean_pass_at_k(n: int, right: list[int], k: int) -> float:
    """pass@k averaged over problems; right[p] is problem p's count of right samples."""
    return sum(pass_at_k(n, c, k) for c in right) / len(right)
