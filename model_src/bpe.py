"""Byte-pair encoding, small enough to read in one sitting.

GPT-2's tokenizer is built the same way, on far more text, after one extra step:
it first cuts the text into pieces with a regular expression (GPT2_SPLIT), so no token
spans two pieces. Here:

    merges = train(text, num_merges=100)                # or split=GPT2_SPLIT
    ids = encode("some text", merges)    # list of ints (the same split, if trained with one)
    decode(ids, merges) == "some text"

Every text starts as its UTF-8 bytes, tokens 0..255, so any string can be encoded.
Training repeatedly finds the most frequent pair of neighbouring tokens and gives it
a new token id (256, 257, ...). `merges` maps each pair to its new id, in the order
the pairs were learned; encoding replays them in that order.
"""

import re
from collections import Counter
from itertools import pairwise

N_BYTES = 256  # token ids below this are single bytes

# GPT-2's pre-split, in Python's re (GPT-2's own uses the regex module's \p{L} and \p{N};
# on ASCII text, letters [^\W\d_], digits \d and the rest are the same classes): an
# English contraction, or a run of letters, of digits or of other symbols with at most one
# space in front, or a run of whitespace (leaving the last space to the word after it).
GPT2_SPLIT = re.compile(
    r"""'s|'t|'re|'ve|'m|'ll|'d| ?[^\W\d_]+| ?\d+| ?(?:[^\s\w]|_)+|\s+(?!\S)|\s+"""
)


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


def train(
    text: str, num_merges: int, split: re.Pattern | None = None
) -> dict[tuple[int, int], int]:
    """Learn up to num_merges merges from text (fewer if no pair repeats any more).
    With `split`, pairs are counted inside each piece it finds, so no merge spans two.
    Ties go to the pair seen first, so the result depends only on text."""
    pieces = Counter(split.findall(text) if split else [text])  # each distinct piece, once
    words = {tuple(piece.encode("utf-8")): n for piece, n in pieces.items()}
    merges = {}
    for new_id in range(N_BYTES, N_BYTES + num_merges):
        counts = Counter()
        for ids, n in words.items():  # a piece that occurs n times: its pairs n times
            for pair, count in pair_counts(ids).items():
                counts[pair] += count * n
        if not counts:
            break
        pair = max(counts, key=counts.get)  # max keeps the first of equal counts
        if counts[pair] < 2:
            break  # merging a pair that occurs once compresses nothing worth learning
        merges[pair] = new_id
        words = {tuple(replace_pair(list(ids), pair, new_id)): n for ids, n in words.items()}
    return merges


def encode(
    text: str, merges: dict[tuple[int, int], int], split: re.Pattern | None = None
) -> list[int]:
    """Bytes first, then the learned merges, earliest-learned first: a later merge may
    be built from an earlier one's token, never the other way round. With `split`, each
    piece it finds is encoded on its own."""
    if split:
        return [i for piece in split.findall(text) for i in encode(piece, merges)]
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
