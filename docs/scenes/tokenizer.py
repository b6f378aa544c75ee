"""Chapter 2: a line of this project's own source, as character ids, then as bytes that
byte-pair encoding merges.

The line comes from the char model's corpus (model_src/*.py) and the character ids
from that data set's vocabulary. The merges are model_src/bpe.py at work on the line:
pair_counts picks the pair, replace_pair merges it, exactly as bpe.train does.
"""

from bookscene import *
from palette import ACCENT, ACCENT_2, POSITIVE, ROLE, TEXT, TEXT_2

LINE = "x = x + self.attn(self.ln_1(x))"  # found in the corpus, not typed in: see load_line
MERGES = 4
CELL, GAP = 0.38, 0.04
ROW_Y = 1.0


def load_line():
    """The corpus line holding LINE, and the char data set's string-to-id table."""
    from model_src import presets

    data = presets.dataset("char")
    corpus = "".join(data.meta["itos"][int(i)] for i in [*data.train, *data.val])
    line = next((row.strip() for row in corpus.splitlines() if LINE in row), None)
    if line is None:
        raise LookupError(f"the char corpus no longer contains {LINE!r}: pick another line")
    return line, data.meta["stoi"]


def shown(text: str) -> str:
    return text.replace(" ", "·")


def token_cell(text: str, token_id: int, color: str = TEXT, id_color: str = ROLE["ids"]):
    """A token: its text in a box, its id beneath."""
    glyphs = label(shown(text), 20, color, mono=True)
    box = panel(max(CELL, glyphs.width + 0.14), CELL, stroke=color if color != TEXT else TEXT_2)
    number = label(str(token_id), 13, id_color, mono=True).next_to(box, DOWN, buff=0.08)
    return VGroup(box, glyphs.move_to(box), number)


def token_row(texts, ids, **kw):
    row = VGroup(*[token_cell(t, i, **kw) for t, i in zip(texts, ids, strict=True)])
    return row.arrange(RIGHT, buff=GAP, aligned_edge=UP).move_to([0, ROW_Y, 0])


class TokenizerScene(BookScene):
    def construct(self):
        from model_src import bpe

        line, stoi = load_line()
        self.show_title("Tokenizer: text → ids", "one line of this book's own model code")

        # characters: one id each, from the char data set's vocabulary
        chars = token_row(list(line), [stoi[c] for c in line])
        note = label(f"char vocabulary: {len(stoi)} characters, one id each", 22, ROLE["ids"])
        note.next_to(chars, DOWN, buff=0.55)
        self.play(LaggedStart(*[FadeIn(c, shift=0.1 * DOWN) for c in chars], lag_ratio=0.03),
                  FadeIn(note), run_time=1.6)
        self.wait(1.2)

        # bytes: where byte-pair encoding starts (ASCII characters are one byte each)
        ids = list(line.encode("utf-8"))
        texts = [bytes([b]).decode("utf-8") for b in ids]
        row = token_row(texts, ids)
        byte_note = label(f"BPE starts from UTF-8 bytes: {len(ids)} tokens, ids 0–255", 22,
                          ROLE["ids"]).move_to(note)
        self.play(*[ReplacementTransform(a[2], b[2]) for a, b in zip(chars, row, strict=True)],
                  ReplacementTransform(note, byte_note), run_time=1.0)
        self.remove(*chars)
        self.add(row)
        self.wait(0.8)

        table_title = label("merges learned", 20, TEXT_2).move_to([-4.6, -1.0, 0])
        table = VGroup()
        self.play(FadeIn(table_title), run_time=0.4)
        vocab = {i: bytes([i]) for i in range(bpe.N_BYTES)}
        merges = {}
        for new_id in range(bpe.N_BYTES, bpe.N_BYTES + MERGES):
            counts = bpe.pair_counts(ids)
            pair = max(counts, key=counts.get)  # as bpe.train picks it
            vocab[new_id] = vocab[pair[0]] + vocab[pair[1]]
            merges[pair] = new_id
            starts = self.occurrences(ids, pair)
            marks = VGroup(*[SurroundingRectangle(row[i : i + 2], buff=0.06, color=ACCENT)
                             for i in starts])
            left, right = (vocab[p].decode() for p in pair)
            found = label(f"most frequent pair: {shown(left)} + {shown(right)}  "
                          f"({counts[pair]}×)", 22, ACCENT).move_to(byte_note)
            self.play(Create(marks), ReplacementTransform(byte_note, found), run_time=0.8)
            byte_note = found
            self.wait(0.5)

            ids = bpe.replace_pair(ids, pair, new_id)
            texts = [vocab[i].decode() for i in ids]
            new_row = token_row(texts, ids)
            for cell, token in zip(new_row, ids, strict=True):
                if token == new_id:
                    cell[0].set_stroke(ACCENT_2, 3)
                    cell[1].set_color(ACCENT_2)
            entry = label(f"{new_id} = {pair[0]} + {pair[1]}   “{shown(vocab[new_id].decode())}”",
                          20, ACCENT_2, mono=True)
            if table:
                entry.next_to(table[-1], DOWN, buff=0.16, aligned_edge=LEFT)
            else:
                entry.next_to(table_title, DOWN, buff=0.25).align_to(table_title, LEFT)
            table.add(entry)
            shorter = label(f"{len(row)} → {len(new_row)} tokens", 22, TEXT).move_to(
                [3.4, entry.get_y(), 0])
            row = self.merge(row, new_row, starts, FadeOut(marks),
                             FadeIn(entry, shift=0.1 * RIGHT), FadeIn(shorter))
            self.wait(0.6)
            fresh = [cell for cell, token in zip(row, ids, strict=True) if token == new_id]
            self.play(FadeOut(shorter), *[c[0].animate.set_stroke(TEXT_2, 2) for c in fresh],
                      *[c[1].animate.set_color(TEXT) for c in fresh], run_time=0.3)

        summary = f"{len(line)} bytes → {len(ids)} tokens after {len(merges)} merges"
        built = [(n, p) for p, n in merges.items() if max(p) >= bpe.N_BYTES]
        if built:
            n, (a, b) = built[-1]
            summary += f";\nmerges build on merges: {n} = {a} + {b}"
        summary = label(summary, 22, POSITIVE).move_to([3.0, -1.9, 0])
        self.play(FadeIn(summary), run_time=0.6)
        self.wait(2.0)
        self.takeaway("BPE merges the most frequent neighbouring pair,\nagain and again.",
                      "The merges, in the order they were learned, are the tokenizer;\n"
                      "common pieces of text become single ids.")

    @staticmethod
    def occurrences(ids, pair):
        """Where replace_pair will merge: non-overlapping, left to right."""
        starts, i = [], 0
        while i < len(ids) - 1:
            if (ids[i], ids[i + 1]) == pair:
                starts.append(i)
                i += 2
            else:
                i += 1
        return starts

    def merge(self, row, new_row, starts, *others) -> VGroup:
        """Play one merge: each merged pair becomes its new cell, the other cells slide to
        their new places (by an updater: cheaper than a Transform per cell), and the
        `others` animations run alongside. Returns the row now on screen."""
        merged, kept, on_screen, i = [], [], VGroup(), 0
        for target in new_row:
            if i in starts:
                merged.append(ReplacementTransform(row[i : i + 2], target))
                on_screen.add(target)
                i += 2
            else:
                kept.append((row[i], row[i].get_center(), target.get_center()))
                on_screen.add(row[i])
                i += 1
        progress = ValueTracker(0)
        sliding = VGroup(*[cell for cell, _, _ in kept])
        sliding.add_updater(lambda _: [cell.move_to(interpolate(a, b, progress.get_value()))
                                       for cell, a, b in kept])
        self.play(progress.animate.set_value(1), *merged, *others, run_time=1.2)
        sliding.clear_updaters()
        return on_screen
