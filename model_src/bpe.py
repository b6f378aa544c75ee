"""Byte-pair encoding, small enough to read in one sitting.

GPT-2's tokenizer is built the same way, on far more text and with one extra step
(it first splits text into words, so no token spans two words). Here:

    merges = train(text, num_merges=100)
    ids = encode("some text", merges)    # list of ints
    decode(ids, merges) == "some text"

Every text starts as its UTF-8 bytes, tokens 0..255, so any string can be encoded.
Training repeatedly finds the most frequent pair of neighbouring tokens and gives it
a new token id (256, 257, ...). `merges` maps each pair to its new id, in the order
the pairs were learned; encoding replays them in that order.
"""

from collections import Counter
from itertools import pairwise

N_BYTES = 256  # token ids below this are single bytes


def pair_counts(ids: list[int]) -> Counter:
    """How often each pair of neighbours (ids[i], ids[i + 1]) occurs."""
    return Counter(pairwise(ids))


def replace_pair(ids: list[int], pair: tuple[int, int], new_id: int) -> list[int]:
    """ids with every non-overlapping occurrence of pair, left to right, made new_id."""
    first, second = pair
    out = []
    i = 0
    while i < len(ids):
        if ids[i] == first and i + 1 < len(ids) and ids[i + 1] == second:
            out.append(new_id)
            i += 2
        else:
            out.append(ids[i])
            i += 1
    return out


def train(text: str, num_merges: int) -> dict[tuple[int, int], int]:
    """Learn up to num_merges merges from text (fewer if no pair repeats any more).
    Ties go to the pair seen first, so the result depends only on text."""
    ids = list(text.encode("utf-8"))
    merges = {}
    for new_id in range(N_BYTES, N_BYTES + num_merges):
        counts = pair_counts(ids)
        if not counts:
            break
        pair = max(counts, key=counts.get)  # max keeps the first of equal counts
        if counts[pair] < 2:
            break  # merging a pair that occurs once compresses nothing worth learning
        merges[pair] = new_id
        ids = replace_pair(ids, pair, new_id)
    return merges


def encode(text: str, merges: dict[tuple[int, int], int]) -> list[int]:
    """Bytes first, then the learned merges, earliest-learned first: a later merge may
    be built from an earlier one's token, never the other way round."""
    ids = list(text.encode("utf-8"))
    while len(ids) > 1:
        present = set(pairwise(ids))
        pair = min(present, key=lambda p: merges.get(p, float("inf")))
        if pair not in merges:
            break  # nothing left to merge
        ids = replace_pair(ids, pair, merges[pair])
    return ids


def vocab(merges: dict[tuple[int, int], int]) -> dict[int, bytes]:
    """The bytes every token id stands for."""
    table = {i: bytes([i]) for i in range(N_BYTES)}
    for (a, b), new_id in merges.items():  # dicts keep insertion order: parts come first
        table[new_id] = table[a] + table[b]
    return table


def decode(ids: list[int], merges: dict[tuple[int, int], int]) -> str:
    """The text of a token sequence. A sequence cut mid-character decodes with U+FFFD."""
    table = vocab(merges)
    return b"".join(table[i] for i in ids).decode("utf-8", errors="replace")
