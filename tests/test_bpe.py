"""The book's tiny byte-pair encoder: what it learns, and that encoding round-trips."""

import pytest

from model_src import bpe


def test_the_most_frequent_pair_is_merged_first():
    merges = bpe.train("aaabdaaabac", num_merges=1)
    assert merges == {(ord("a"), ord("a")): 256}


def test_later_merges_build_on_earlier_ones():
    merges = bpe.train("aaabdaaabac", num_merges=3)
    table = bpe.vocab(merges)
    assert [table[i] for i in merges.values()] == [b"aa", b"aaa", b"aaab"]
    assert list(merges.values()) == [256, 257, 258]


def test_ties_go_to_the_pair_seen_first():
    merges = bpe.train("xyxyzwzw", num_merges=2)
    assert [bpe.vocab(merges)[i] for i in merges.values()] == [b"xy", b"zw"]


def test_training_stops_when_no_pair_repeats():
    assert bpe.train("abcdef", num_merges=10) == {}
    assert len(bpe.train("abab", num_merges=10)) == 1  # then "ab ab": one pair, once


def test_replace_pair_does_not_overlap():
    assert bpe.replace_pair([1, 1, 1], (1, 1), 9) == [9, 1]
    assert bpe.replace_pair([1, 2, 3, 1, 2], (1, 2), 7) == [7, 3, 7]


def test_encode_compresses_the_training_text():
    text = "the cat sat on the mat; the cat sat on the hat. " * 4
    merges = bpe.train(text, num_merges=20)
    ids = bpe.encode(text, merges)
    assert len(ids) < len(text.encode("utf-8")) / 3
    assert len(set(ids) - set(range(256))) > 0


def test_encode_replays_merges_in_learned_order():
    merges = bpe.train("aaabdaaabac", num_merges=3)
    assert bpe.encode("aaab", merges) == [258]
    assert bpe.encode("aa", merges) == [256]
    assert bpe.encode("ab", merges) == [ord("a"), ord("b")]  # "ab" itself was never a merge


@pytest.mark.parametrize(
    "text", ["", "x", "hello world", "naïve café ☕", "unseen \t\n text with émojis 🙂"]
)
def test_decode_inverts_encode(text):
    merges = bpe.train("hello hello world, the café is naïve " * 3, num_merges=30)
    assert bpe.decode(bpe.encode(text, merges), merges) == text


def test_multibyte_characters_can_merge_into_one_token():
    merges = bpe.train("é" * 10, num_merges=1)
    assert bpe.encode("é", merges) == [256]
    assert bpe.vocab(merges)[256] == "é".encode()


def test_decode_of_a_split_character_does_not_raise():
    first_byte = list("é".encode())[:1]
    assert bpe.decode(first_byte, {}) == "\ufffd"


def test_the_gpt2_split_cuts_words_contractions_and_spaces_as_gpt2_does():
    assert bpe.GPT2_SPLIT.findall("I'll pay  you 100 gold_coins!\n\n") == [
        "I", "'ll", " pay", " ", " you", " 100", " gold", "_", "coins", "!", "\n\n"
    ]  # fmt: skip
    text = "It's 3 o'clock;  __init__ said   'hello'\tthere\n"
    assert "".join(bpe.GPT2_SPLIT.findall(text)) == text  # nothing is dropped


def test_with_a_split_no_merge_spans_two_pieces_and_encoding_round_trips():
    text = "the cat sat. the cat sat. the hat sat on the mat. " * 4
    merges = bpe.train(text, num_merges=40, split=bpe.GPT2_SPLIT)
    table = bpe.vocab(merges)
    assert all(len(bpe.GPT2_SPLIT.findall(table[i].decode())) == 1 for i in merges.values())
    unsplit = bpe.vocab(bpe.train(text, num_merges=40))
    assert any(token.endswith(b" ") and len(token) > 1 for token in unsplit.values())
    ids = bpe.encode(text, merges, bpe.GPT2_SPLIT)
    assert bpe.decode(ids, merges) == text
    assert len(ids) < len(text) / 2


def test_a_split_counts_each_distinct_piece_once_but_weighs_it_by_its_count():
    # " ab" occurs three times, " cd" twice: the commonest pair inside a piece wins
    merges = bpe.train(" ab ab ab cd cd", num_merges=1, split=bpe.GPT2_SPLIT)
    assert bpe.vocab(merges)[256] == b" a"
