"""What k samples buy without training: majority vote and best-of-k.

    majority_at_k(samples, right, k)    # the chance that the commonest of k samples is right
    best_of_k(p, k)                     # with a checker to pick: at least one of k is right

Majority vote (self-consistency, Wang et al. 2022) asks no checker: draw k answers and
keep the one written most often; a tie is settled by a fair coin among the tied answers.
Its score is estimated from n >= k samples per problem the way pass@k's is: over many
choices of k of the n samples (drawn at random here, where passk.py counts every choice),
so all n samples count. Best-of-k with a checker that is never wrong keeps a right answer
whenever one of the k is right: that is pass@k. A problem whose one right answer has
probability p per sample gives 1 - (1 - p)^k exactly, for any k, without sampling.
"""

import torch

DRAWS = 512  # random choices of k samples per problem: the error shrinks as 1/sqrt(DRAWS)


def majority_at_k(samples: list[list[str]], right: list[str], k: int, seed: int = 0) -> float:
    """The mean over problems of the chance that a vote of k of problem i's samples
    (samples[i], n of them) picks right[i]; ties shared out evenly."""
    n = len(samples[0])
    if not 1 <= k <= n or any(len(row) != n for row in samples):
        raise ValueError(f"need 1 <= k <= n samples for every problem, not k={k}, n={n}")
    # each distinct answer of a problem as a number; the right one as -1 if never sampled
    codes, targets = [], []
    for row, answer in zip(samples, right, strict=True):
        index = {text: i for i, text in enumerate(dict.fromkeys(row))}
        codes.append([index[text] for text in row])
        targets.append(index.get(answer, -1))
    codes_t, targets_t = torch.tensor(codes), torch.tensor(targets)  # (P, n), (P,)
    draws = 1 if k == n else DRAWS  # k of n samples can be chosen one way only
    generator = torch.Generator().manual_seed(seed)
    order = torch.rand(draws, *codes_t.shape, generator=generator).argsort(dim=-1)[..., :k]
    drawn = codes_t.expand(draws, -1, -1).gather(-1, order)  # (draws, P, k)
    votes = (drawn.unsqueeze(-1) == drawn.unsqueeze(-2)).sum(dim=-1)  # each draw's count
    most = votes.max(dim=-1).values  # (draws, P) the winning count
    tied = (votes == most.unsqueeze(-1)).sum(dim=-1) / most  # answers sharing the lead
    right_votes = (drawn == targets_t.view(1, -1, 1)).sum(dim=-1)  # (draws, P)
    wins = (right_votes == most).float() / tied  # 0 where the right answer is not drawn
    return wins.mean().item()


def best_of_k(p: list[float], k: int) -> float:
    """Best-of-k with a perfect checker, averaged over problems: 1 - (1 - p)^k, where p is
    a problem's chance of its one right answer in one sample."""
    chances = torch.tensor(p, dtype=torch.float64)
    return (1 - (1 - chances) ** k).mean().item()


def samples_to_match(p: list[float], target: float, most: int = 1 << 20) -> int | None:
    """The smallest k whose best-of-k reaches `target` (None if not by k = most)."""
    k = 1
    while k <= most:
        if best_of_k(p, k) >= target:
            low = k // 2 + 1 if k > 1 else 1
            return next(j for j in range(low, k + 1) if best_of_k(p, j) >= target)
        k *= 2
    return None
