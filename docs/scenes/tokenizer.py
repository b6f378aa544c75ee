"""Chapter 2: text becomes ids, first with the char preset's vocabulary, then with
byte-pair merges learned by model_src/bpe.py.

The text is a real line of the char corpus (Richard II's keeper, beaten by the king).
Its ids come from the char data set's own stoi table; the merges are bpe.py's pair counts
and replacements on the line's UTF-8 bytes, checked against bpe.train on the same line.
"""

from dataclasses import dataclass

from bookscene import *
from palette import ACCENT, ACCENT_2, ROLE, TEXT, TEXT_2

VOCAB_ROW = 48  # characters per row of the vocabulary: what the frame's width holds
LINE = "Help, help, help!"  # from Richard II: "help" recurs, "Help" almost
NUM_MERGES = 3
CELL = 0.74  # 17 bytes across the frame, three-digit ids at MIN_TEXT


@dataclass
class Merge:
    pair: tuple[int, int]
    new_id: int
    top_counts: list[tuple[tuple[int, int], int]]  # the three commonest pairs before it
    ids_after: list[int]


@dataclass
class Tokenized:
    vocab: list[str]  # the char preset's characters, in id order
    char_ids: list[int]  # LINE through its stoi
    byte_ids: list[int]  # LINE as UTF-8 bytes
    merges: list[Merge]
    token_text: dict[int, str]  # what every byte or merged token stands for


def tokenize() -> Tokenized:
    from model_src import bpe, prepare, presets

    if LINE not in prepare.default_corpus():
        raise ValueError(f"{LINE!r} is no longer in the char corpus: pick another line")
    meta = presets.dataset("char").meta
    ids = list(LINE.encode("utf-8"))
    merges = []
    for new_id in range(bpe.N_BYTES, bpe.N_BYTES + NUM_MERGES):
        counts = bpe.pair_counts(ids)
        pair = max(counts, key=counts.get)  # first seen wins a tie, as in bpe.train
        ids = bpe.replace_pair(ids, pair, new_id)
        merges.append(Merge(pair, new_id, counts.most_common(3), ids))
    learned = bpe.train(LINE, NUM_MERGES)
    assert learned == {m.pair: m.new_id for m in merges}, "the scene diverged from bpe.train"
    table = bpe.vocab(learned)
    return Tokenized(
        vocab=[meta["itos"][i] for i in range(meta["vocab_size"])],
        char_ids=[meta["stoi"][ch] for ch in LINE],
        byte_ids=list(LINE.encode("utf-8")),
        merges=merges,
        token_text={i: table[i].decode("utf-8", errors="replace") for i in table},
    )


def shown(text: str) -> str:
    """A token as the book prints it (model_src/visible.py): whitespace drawn, so token
    boundaries show."""
    from model_src import visible

    return visible.token(text)


def token_cell(token: int, text: str, color: str) -> VGroup:
    """A token: its id in a box, the text it stands for above."""
    box = panel(CELL, CELL, stroke=color)
    number = label(str(token), MIN_TEXT, color).move_to(box)
    above = label(shown(text), MIN_TEXT, TEXT, mono=True).next_to(box, UP, buff=0.1)
    return VGroup(box, number, above)


def token_row(ids, texts, colors) -> VGroup:
    row = VGroup(*[token_cell(i, t, c) for i, t, c in zip(ids, texts, colors, strict=True)])
    row.arrange(RIGHT, buff=0.06, aligned_edge=DOWN)
    return row


def merged_groups(ids: list[int], pair: tuple[int, int]) -> list[list[int]]:
    """Which old positions end up in each new token: [i, i + 1] where the pair is
    replaced (left to right, no overlaps), [i] elsewhere."""
    groups, i = [], 0
    while i < len(ids):
        width = 2 if tuple(ids[i : i + 2]) == pair else 1
        groups.append(list(range(i, i + width)))
        i += width
    return groups


class TokenizerScene(BookScene):
    def construct(self):
        tok = tokenize()
        self.show_title("Tokenizer: text → ids", "a line of the char corpus, two ways")
        vocab, chars, stoi_note = self.show_chars(tok)
        row, bytes_note = self.show_bytes(tok, vocab, chars, stoi_note)
        self.learn_merges(tok, row, bytes_note)
        self.wait(1.2)
        self.mark_poster()  # the whole picture, just before the takeaway card
        self.takeaway(
            "BPE merges the most frequent pair of neighbours\ninto a new token, again and again.",
            "Each merge shortens the sequence and adds one entry\n"
            "to the vocabulary; the list of merges, in order, is the tokenizer.",
        )

    def show_chars(self, tok: Tokenized) -> tuple[VGroup, VGroup, Text]:
        """The char preset: one id per character, from its sorted vocabulary."""
        shown_vocab = "".join(shown(ch) for ch in tok.vocab)
        vocab = VGroup(
            caption(f"char vocabulary: {len(tok.vocab)} characters, sorted", MIN_TEXT, ROLE["ids"]),
            *(
                label(shown_vocab[start : start + VOCAB_ROW], MIN_TEXT, TEXT_2, mono=True)
                for start in range(0, len(shown_vocab), VOCAB_ROW)
            ),
        )
        vocab.arrange(DOWN, buff=0.15).move_to(UP * 1.75)
        self.play(FadeIn(vocab), run_time=1.0)

        chars = token_row(tok.char_ids, list(LINE), [ROLE["ids"]] * len(LINE))
        chars.move_to(DOWN * 0.6)
        for cell in chars:
            cell[1].set_opacity(0)  # the ids come in a moment
        self.play(
            LaggedStart(*[FadeIn(cell, shift=0.1 * DOWN) for cell in chars], lag_ratio=0.04),
            run_time=1.0,
        )
        stoi_note = label(f"stoi: {len(LINE)} characters → {len(LINE)} ids", MIN_TEXT, ROLE["ids"])
        ids = " ".join(map(str, tok.char_ids))
        said(stoi_note, f"{stoi_note.original_text}: “{LINE}” → {ids}")
        stoi_note.next_to(chars, DOWN, buff=0.4)
        self.play(
            *[cell[1].animate.set_opacity(1) for cell in chars], FadeIn(stoi_note), run_time=1.0
        )
        self.wait(1.4)
        return vocab, chars, stoi_note

    def show_bytes(self, tok: Tokenized, vocab, chars, stoi_note) -> tuple[VGroup, Text]:
        """Byte-pair encoding starts from the 256 byte values instead."""
        row = token_row(tok.byte_ids, list(LINE), [ROLE["ids"]] * len(LINE)).move_to(UP * 1.2)
        bytes_note = caption(
            f"BPE starts from UTF-8 bytes: {len(row)} tokens, ids 0–255", MIN_TEXT, ROLE["ids"]
        ).next_to(row, DOWN, buff=0.3)
        self.play(
            FadeOut(vocab),
            FadeOut(stoi_note),
            ReplacementTransform(chars, row),
            FadeIn(bytes_note),
            run_time=1.2,
        )
        self.wait(0.6)
        return row, bytes_note

    def learn_merges(self, tok: Tokenized, row: VGroup, bytes_note: Text) -> None:
        """Merge after merge: the pairs counted, the commonest marked and merged in the row,
        each merge a line of the table."""
        counts_panel = panel(5.6, 2.7).move_to(LEFT * 3.4 + DOWN * 1.9)
        merges_panel = panel(5.6, 2.7).move_to(RIGHT * 3.4 + DOWN * 1.9)
        counts_head = label("commonest neighbour pairs", MIN_TEXT, TEXT_2)
        merges_head = label("merges learned", MIN_TEXT, TEXT_2)
        counts_head.move_to(counts_panel.get_top() + DOWN * 0.35)
        merges_head.move_to(merges_panel.get_top() + DOWN * 0.35)
        self.play(
            FadeIn(counts_panel),
            FadeIn(merges_panel),
            FadeIn(counts_head),
            FadeIn(merges_head),
            run_time=0.6,
        )
        ids = tok.byte_ids
        table_rows = VGroup(merges_head)  # the head, then a line per merge
        counts = VGroup()
        for step, merge in enumerate(tok.merges):
            slow = step == 0
            new_counts = self.count_lines(tok, merge).next_to(counts_head, DOWN, buff=0.25)
            self.play(FadeOut(counts), FadeIn(new_counts), run_time=0.8 if slow else 0.5)
            counts = new_counts
            entry = label(
                f"{merge.new_id} = {merge.pair[0]} + {merge.pair[1]}   "
                f"'{shown(tok.token_text[merge.new_id])}'",
                MIN_TEXT,
                ACCENT_2,
                mono=True,
            )
            entry.next_to(table_rows[-1], DOWN, buff=0.25)
            entry.align_to(merges_panel, LEFT).shift(RIGHT * 0.4)
            table_rows.add(entry)
            row, ids, bytes_note = self.merge(tok, merge, row, ids, entry, bytes_note, slow)

    def merge(self, tok: Tokenized, merge: Merge, row, ids, entry, bytes_note, slow: bool):
        """One merge: its pair marked in the row, then each pair made one token, the
        table's new line and the new length shown; returns the new row, ids and note."""
        groups = merged_groups(ids, merge.pair)
        pairs = [g for g in groups if len(g) == 2]
        marks = VGroup(
            *[
                SurroundingRectangle(
                    VGroup(row[a][0], row[b][0]), color=ACCENT, buff=0.06, stroke_width=4
                )
                for a, b in pairs
            ]
        )
        self.play(Create(marks), run_time=0.8 if slow else 0.5)
        if slow:
            self.wait(0.6)

        new_ids = [merge.new_id if len(g) == 2 else ids[g[0]] for g in groups]
        assert new_ids == merge.ids_after
        colors = [ACCENT_2 if i >= 256 else ROLE["ids"] for i in new_ids]
        new_row = token_row(new_ids, [tok.token_text[i] for i in new_ids], colors)
        new_row.move_to(row, aligned_edge=DOWN)
        length_note = label(f"{len(ids)} → {len(new_ids)} tokens", MIN_TEXT, ACCENT_2)
        length_note.move_to(bytes_note)
        # the merge itself, said in words: the table's line and the length together
        a, b = (shown(tok.token_text[i]) for i in merge.pair)
        merged = shown(tok.token_text[merge.new_id])
        self.beat(
            f"the pair '{a}' '{b}' becomes token {merge.new_id}, '{merged}': "
            f"{len(ids)} → {len(new_ids)} tokens"
        )
        self.play(
            *[
                ReplacementTransform(VGroup(*[row[i] for i in g]), new_row[n])
                for n, g in enumerate(groups)
            ],
            FadeOut(marks),
            FadeIn(entry, shift=0.1 * DOWN),
            swap(bytes_note, length_note),
            run_time=1.2 if slow else 0.9,
        )
        self.wait(1.0 if slow else 0.5)
        return new_row, new_ids, length_note

    @staticmethod
    def count_lines(tok: Tokenized, merge: Merge) -> VGroup:
        """The three commonest pairs before this merge; the winner highlighted."""
        lines = VGroup()
        for pair, count in merge.top_counts:
            a, b = (shown(tok.token_text[i]) for i in pair)
            color = ACCENT if pair == merge.pair else TEXT_2
            lines.add(
                label(f"({pair[0]}, {pair[1]})  '{a}' '{b}'  ×{count}", MIN_TEXT, color, mono=True)
            )
        if sum(count == merge.top_counts[0][1] for _, count in merge.top_counts) > 1:
            lines.add(caption("a tie: the pair seen first wins", MIN_TEXT, TEXT_2))
        return lines.arrange(DOWN, buff=0.2, aligned_edge=LEFT)
