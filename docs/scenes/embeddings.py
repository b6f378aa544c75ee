"""Chapter 3: token + position lookups and their sum, with the trained sort model's tables.

Every cell is a real weight: wte (vocab × C) and wpe (block_size × C) of the trained sort
model, and x = wte[idx] + wpe[pos] for the book's sample input (presets.sample_input),
all shaded on one scale so the sum can be read against its parts.
"""

from bookscene import *
from palette import ACCENT, ACCENT_2, ROLE, TEXT, TEXT_2

TOKEN, POSITION = ROLE["x"], ACCENT_2  # the two tables; their sum x is an embedding too
TABLE_LEFT = -6.2
TABLE_CELL = 0.085  # one channel's width in a table row: 48 of them make a 4-unit row
WTE_ROW, WPE_ROW = 0.3, 0.16  # row heights
X_LEFT, X_TOP = 1.9, 1.8  # the top-left corner of x
X_COLUMN, X_CELL = 0.42, 0.075  # one position's column: 48 channels down
WORK_X = -0.25  # where one position's two rows meet, between the tables and x


def load_tables():
    from model_src import presets, trained

    sort = trained.get("sort")
    idx = presets.sample_input("sort")[0]  # (T,)
    wte = sort.model.transformer.wte.weight.detach()  # (V, C)
    wpe = sort.model.transformer.wpe.weight.detach()  # (block_size, C)
    x = wte[idx] + wpe[: len(idx)]  # (T, C): what the first block reads
    return sort, idx.tolist(), wte, wpe, x


def signed(value: float) -> str:
    return f"{value:+.2f}".replace("-", "−")


def table(weights, row_height, color, scale, top):
    """A weight matrix as one heat row per table row, with a frame in its colour."""
    rows = VGroup()
    for r, values in enumerate(weights):
        row = heat_grid(values[None, :], TABLE_CELL, row_height * 0.86, color, scale)
        rows.add(row.move_to([TABLE_LEFT, top - r * row_height, 0], aligned_edge=UL))
    frame = SurroundingRectangle(rows, buff=0.05, color=color, stroke_width=2)
    return rows, frame


def column(values, color, scale):
    """One vector standing up: C channels down, as x draws it."""
    return heat_grid(values[:, None], X_COLUMN * 0.8, X_CELL, color, scale)


class EmbeddingsScene(BookScene):
    def construct(self):
        sort, ids, wte, wpe, x = load_tables()
        itos = sort.meta["itos"]
        (V, C), T = wte.shape, len(ids)
        scale = 3 * x.std().item()  # one scale for all three: the sum reads against its parts
        self.show_title("Embeddings: ids become vectors",
                        "the trained sort model's tables, looked up and added")

        wte_rows, wte_frame = table(wte, WTE_ROW, TOKEN, scale, top=1.75)
        wpe_rows, wpe_frame = table(wpe, WPE_ROW, POSITION, scale, top=0.2)
        wte_name = label(f"wte  {V}×{C}: one row per letter", 20, TOKEN)
        wte_name.next_to(wte_frame, UP, buff=0.12, aligned_edge=LEFT)
        wpe_name = label(f"wpe  {len(wpe)}×{C}: one row per position", 20, POSITION)
        wpe_name.next_to(wpe_frame, UP, buff=0.12, aligned_edge=LEFT)
        letter_keys = VGroup(*[label(f"{itos[i]} {i}", 16, ROLE["ids"]).next_to(row, LEFT, 0.15)
                               for i, row in enumerate(wte_rows)])

        x_left = [X_LEFT + (t + 0.5) * X_COLUMN for t in range(T)]
        id_cells = VGroup()
        for t, i in enumerate(ids):
            box = panel(X_COLUMN - 0.05, X_COLUMN - 0.05, stroke=ROLE["ids"])
            id_cells.add(VGroup(box, label(str(i), 20, ROLE["ids"]).move_to(box)))
            id_cells[-1].move_to([x_left[t], X_TOP + 0.55, 0])
        id_name = label(f"idx  1×{T}", 18, ROLE["ids"]).next_to(id_cells, LEFT, buff=0.2)
        x_frame = Rectangle(width=T * X_COLUMN, height=C * X_CELL, color=TOKEN, stroke_width=2)
        x_frame.move_to([X_LEFT, X_TOP, 0], aligned_edge=UL)
        x_name = label(f"x = wte[idx] + wpe[pos]   1×{T}×{C}", 20, TOKEN)
        x_name.next_to(x_frame, DOWN, buff=0.15)
        self.play(FadeIn(VGroup(wte_rows, wte_frame, wte_name, letter_keys)),
                  FadeIn(VGroup(wpe_rows, wpe_frame, wpe_name)), run_time=1.0)
        middle = X_TOP - C * X_CELL / 2
        flow = main_arrow([WORK_X + 0.75, middle, 0], [X_LEFT - 0.05, middle, 0], TOKEN)
        self.play(FadeIn(id_cells, lag_ratio=0.1), FadeIn(id_name), Create(x_frame),
                  FadeIn(x_name), GrowArrow(flow), run_time=1.0)

        x_columns = [column(x[t], TOKEN, scale).move_to([x_left[t], X_TOP, 0], aligned_edge=UP)
                     for t in range(T)]
        # positions 0 and 1 one step at a time, with position 0's first channels in numbers
        for t, pace in ((0, 1.0), (1, 0.55)):
            self.add_position(t, ids[t], wte, wpe, wte_rows, wpe_rows, id_cells, x_columns,
                              scale, pace, numbers=t == 0)

        # the other positions all at once: the same lookup and sum for each
        copies = []
        for t in range(2, T):
            copies += [wte_rows[ids[t]].copy(), wpe_rows[t].copy()]
        self.play(LaggedStart(*[copy.animate.move_to(x_columns[2 + k // 2]).stretch_to_fit_width(
                      X_COLUMN * 0.8).stretch_to_fit_height(C * X_CELL)
                      for k, copy in enumerate(copies)], lag_ratio=0.08), run_time=2.0)
        self.remove(*copies)
        self.add(*x_columns[2:])
        self.wait(0.5)

        # a run of one letter: one wte row, yet every column differs by its position
        start = max(range(T), key=lambda s: len(self.run_from(ids, s)))
        run = self.run_from(ids, start)
        brace = Brace(VGroup(*[x_columns[t] for t in run]), DOWN, color=ACCENT, buff=0.1)
        note = label(f"{len(run)}× {itos[ids[start]]}: the same wte row each time,\n"
                     f"yet {len(run)} different vectors:\ntheir positions differ", 18, ACCENT)
        note.next_to(brace, DOWN, buff=0.1).set_x(x_frame.get_x())
        marks = VGroup(*[SurroundingRectangle(x_columns[t], buff=0.03, color=ACCENT,
                                              stroke_width=2) for t in run])
        self.play(FadeOut(x_name), Create(marks), GrowFromCenter(brace), FadeIn(note),
                  run_time=1.0)
        self.wait(2.0)
        self.takeaway("x = wte[idx] + wpe[pos]: two lookups and a sum.",
                      f"Each of the {T} positions gets a {C}-wide vector:\n"
                      "what the token is, plus where it stands.")

    @staticmethod
    def run_from(ids, start):
        """Positions start, start + 1, ... holding the same id as start."""
        end = start
        while end + 1 < len(ids) and ids[end + 1] == ids[start]:
            end += 1
        return list(range(start, end + 1))

    def add_position(self, t, token, wte, wpe, wte_rows, wpe_rows, id_cells, x_columns, scale,
                     pace, numbers):
        """Look up position t's two rows, stand them up side by side, add them into x."""
        top = X_TOP
        tok_col = column(wte[token], TOKEN, scale).move_to([WORK_X - 0.45, top, 0],
                                                           aligned_edge=UP)
        pos_col = column(wpe[t], POSITION, scale).move_to([WORK_X + 0.45, top, 0],
                                                          aligned_edge=UP)
        plus = label("+", 30, TEXT).move_to([WORK_X, tok_col.get_y(), 0])
        marks = [SurroundingRectangle(m, buff=0.04, color=ACCENT, stroke_width=3)
                 for m in (id_cells[t], wte_rows[token], wpe_rows[t])]
        self.play(Create(marks[0]), Create(marks[1]), run_time=0.5 * pace)
        self.play(TransformFromCopy(wte_rows[token], tok_col), run_time=0.9 * pace)
        self.play(Create(marks[2]), TransformFromCopy(wpe_rows[t], pos_col), FadeIn(plus),
                  run_time=0.9 * pace)
        readout = VGroup()
        if numbers:
            x = wte[token] + wpe[t]
            for name, values, color in ((f"wte[{token}]", wte[token], TOKEN),
                                        (f"wpe[{t}]", wpe[t], POSITION),
                                        (f"x[{t}]", x, TEXT)):
                texts = [name, *(signed(v) for v in values[:3].tolist()), "…"]
                readout.add(*[label(text, 18, color, mono=True) for text in texts])
            readout.arrange_in_grid(rows=3, cols=5, buff=(0.25, 0.14), col_alignments="lrrrl")
            readout.add(Line(readout[5].get_corner(DL), readout[9].get_corner(DR),
                             color=TEXT_2, stroke_width=2).shift(DOWN * 0.07))
            readout.move_to([WORK_X, -2.8, 0])
            caption = label(f"channels 0–2 of {len(x)}", 16, TEXT_2)
            caption.next_to(readout, UP, buff=0.12, aligned_edge=LEFT)
            readout.add(caption)
            self.play(FadeIn(readout), run_time=0.6)
            self.wait(1.6)
        self.play(ReplacementTransform(VGroup(tok_col, pos_col), x_columns[t]), FadeOut(plus),
                  *[FadeOut(m) for m in marks], run_time=0.9 * pace)
        if numbers:
            self.play(FadeOut(readout), run_time=0.4)
