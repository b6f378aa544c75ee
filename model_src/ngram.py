"""Counting baselines for the char model: what a table of character counts predicts.

    from model_src import ngram
    bigram = ngram.fit(train_ids, vocab_size, order=2)
    bigram.loss(val_ids)                      # nats per character
    bigram.generate(prompt_ids, 200, generator)

An order-n model predicts the next character from the n - 1 before it, by how often each
character followed them in the training text. Every count gets alpha added, a fraction
of one occurrence, so a continuation never seen keeps some probability; alpha is chosen
on the last tenth of the training text, so the validation text is read only to score.
Order 1 (the unigram model) ignores the context altogether.
"""

from dataclasses import dataclass

import numpy as np
import torch

ALPHAS = (1.0, 0.3, 0.1, 0.03, 0.01, 0.003)
TUNING_PARTS = 10  # the last of this many parts of the training ids chooses alpha


@dataclass
class NGram:
    order: int
    counts: np.ndarray  # (V,) * order: counts[context..., next]
    alpha: float

    def probs(self, context: np.ndarray) -> np.ndarray:
        """(N, order-1) contexts -> (N, V) next-character probabilities."""
        rows = self.counts[tuple(context.T)] + self.alpha  # order 1: the one row, (V,)
        rows = np.broadcast_to(rows, (len(context), len(self.counts)))
        return rows / rows.sum(axis=-1, keepdims=True)

    def loss(self, ids: np.ndarray) -> float:
        """Mean negative log-likelihood of ids[order-1:], in nats per character."""
        windows = np.lib.stride_tricks.sliding_window_view(ids.astype(np.int64), self.order)
        counts = self.counts[tuple(windows.T)] + self.alpha  # each window's own count
        totals = self.counts[tuple(windows[:, :-1].T)].sum(axis=-1) + self.alpha * len(self.counts)
        return float(np.mean(np.log(totals) - np.log(counts)))

    def generate(self, ids: list[int], n: int, generator: torch.Generator, temperature=1.0):
        """ids followed by n characters drawn one at a time, as GPT.generate does."""
        ids = list(ids)
        for _ in range(n):
            context = np.array([ids[len(ids) - self.order + 1 :]], dtype=np.int64)
            logits = torch.from_numpy(np.log(self.probs(context)[0])) / temperature
            ids.append(int(torch.multinomial(torch.softmax(logits, -1), 1, generator=generator)))
        return ids


def count(ids: np.ndarray, vocab_size: int, order: int) -> np.ndarray:
    windows = np.lib.stride_tricks.sliding_window_view(ids.astype(np.int64), order)
    flat = np.ravel_multi_index(tuple(windows.T), (vocab_size,) * order)
    return np.bincount(flat, minlength=vocab_size**order).reshape((vocab_size,) * order)


def fit(train: np.ndarray, vocab_size: int, order: int) -> NGram:
    """Counts from train, with the alpha that scores its last part (of TUNING_PARTS) best
    when counted on the rest; then counted again on all of it."""
    cut = len(train) * (TUNING_PARTS - 1) // TUNING_PARTS
    held_out = count(train[:cut], vocab_size, order)
    alpha = min(ALPHAS, key=lambda a: NGram(order, held_out, a).loss(train[cut:]))
    return NGram(order, count(train, vocab_size, order), alpha)
