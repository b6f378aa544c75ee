"""Chapter 3: ids become vectors. Each id picks its row of wte, each position its row
of wpe, and the two rows are added into x, the start of the residual stream.

Every strip is a real row of the trained sort model, one cell per channel (orange
below zero, blue above, on one scale for all three tables), and the worked sum shows
the first SHOWN of its numbers. The ids are the sort preset's sample input.
"""

from dataclasses import dataclass

import torch
from bookscene import *
from palette import ACCENT, ACCENT_2, PANEL, ROLE, TEXT, TEXT_2

STRIP_WIDTH = 2.6
SHADES = 8  # colour steps per sign
ROW_HEIGHT = 0.26
ROW_STEP = 0.34
SHOWN = 3  # numbers written out per vector
# Three columns across the frame: the two tables on the left, x on the right, and the
# worked sum, the rule and the beat between them, clear of both tables' strips and names.
TABLES_X, X_TABLE_X = -4.75, 5.5  # the strips' centres
MIDDLE_X = 0.12  # the middle column's centre, halfway between the tables' inner edges
COLUMN_GAP = 0.35  # between a name and its numbers, and between two numbers


@dataclass
class Embeddings:
    ids: list[int]  # the sample input, (T,)
    itos: dict[int, str]
    wte: torch.Tensor  # (V, C)
    wpe: torch.Tensor  # (block_size, C)
    x: torch.Tensor  # (1, T, C)


@torch.no_grad()
def load_embeddings() -> Embeddings:
    from model_src import presets, trained

    sort = trained.get("sort")
    transformer = sort.model.transformer
    idx = presets.sample_input("sort")  # (1, T)
    x = transformer.wte(idx) + transformer.wpe(torch.arange(idx.size(1)))
    return Embeddings(
        ids=idx[0].tolist(),
        itos=sort.meta["itos"],
        wte=transformer.wte.weight,
        wpe=transformer.wpe.weight,
        x=x,
    )


def strip(values, scale: float) -> VGroup:
    """One vector as a row of cells, brighter for larger magnitudes. Cells of the same
    shade are one shape with an outline per cell: a few mobjects per row, not 48."""
    cell = STRIP_WIDTH / len(values)
    shapes: dict[int, VMobject] = {}
    for i, value in enumerate(values.tolist()):
        # the square root lifts small values off the background without changing order
        level = round(min(abs(value) / scale, 1.0) ** 0.5 * SHADES)
        key = level if value >= 0 else -level
        if key not in shapes:
            hue = ManimColor(ROLE["x"] if value >= 0 else ACCENT)
            shade = interpolate_color(ManimColor(PANEL), hue, level / SHADES)
            shapes[key] = VMobject(stroke_width=0, fill_color=shade, fill_opacity=1)
        left, top = i * cell, ROW_HEIGHT / 2
        shapes[key].start_new_path([left, top, 0])
        shapes[key].add_points_as_corners(
            [[left + cell, top, 0], [left + cell, -top, 0], [left, -top, 0], [left, top, 0]]
        )
    outline = Rectangle(
        width=STRIP_WIDTH, height=ROW_HEIGHT, stroke_width=1, stroke_color=TEXT_2
    ).move_to([STRIP_WIDTH / 2, 0, 0])
    return keep_clear(VGroup(*shapes.values(), outline))


def table(rows, scale: float, names: list[str], name_color: str, top: float, center_x: float):
    """Strips stacked from `top` down, each with its name on the left."""
    strips, names_group = VGroup(), VGroup()
    for i, (row, name) in enumerate(zip(rows, names, strict=True)):
        cells = strip(row, scale).move_to([center_x, top - i * ROW_STEP, 0])
        strips.add(cells)
        names_group.add(
            label(name, MIN_TEXT, name_color, mono=True).next_to(cells, LEFT, buff=0.15)
        )
    return strips, names_group


def numbers_line(name: str, values, color: str, name_width: float) -> VGroup:
    """`name` and the first SHOWN values in columns, then an ellipsis. The columns start
    after `name_width` (the widest name of the sum) and are as wide as a negative number,
    so the lines of a sum align and a minus sign never reads as the last number's."""
    line = VGroup(label(name, MIN_TEXT, color, mono=True))
    for value in values[:SHOWN].tolist():
        line.add(label(number(value, ".2f"), MIN_TEXT, color, mono=True))
    line.add(label("…", MIN_TEXT, TEXT_2, mono=True))
    line[0].move_to(ORIGIN, aligned_edge=LEFT)
    column = label(number(-0.5, ".2f"), MIN_TEXT, mono=True).width
    for i, cell in enumerate(line[1:-1]):
        right = name_width + (i + 1) * (COLUMN_GAP + column)
        cell.move_to(RIGHT * right, aligned_edge=RIGHT)
    line[-1].next_to(line[-2], RIGHT, buff=0.15)
    shown = ", ".join(cell.original_text for cell in line[1:])
    return said(line, f"{name}: {shown}")  # a step of the worked sum


def highlight(mobject, color: str) -> SurroundingRectangle:
    return SurroundingRectangle(mobject, color=color, buff=0.04, stroke_width=3)


class EmbeddingsScene(BookScene):
    def construct(self):
        e = load_embeddings()
        T, C = len(e.ids), e.wte.size(1)
        scale = max(e.wte.abs().max(), e.wpe.abs().max(), e.x.abs().max()).item()
        self.show_title(
            "Embeddings: token row + position row", "the trained sort model's two lookup tables"
        )
        id_cells, wte_rows, wpe_rows = self.show_tables(e, scale)
        x_rows, x_names = table(
            e.x[0], scale, [str(t) for t in range(T)], TEXT_2, top=0.3, center_x=X_TABLE_X
        )
        x_head = label(f"x  1 × {T} × {C}", MIN_TEXT, ROLE["x"]).next_to(x_rows, UP, buff=0.15)
        marks, rule_text = self.add_first(
            e, (id_cells, wte_rows, wpe_rows), x_rows, x_names, x_head
        )
        # every other position: the same two lookups and one sum; the rows travel across
        # the middle, so the rule steps aside while they do
        self.play(FadeOut(rule_text), run_time=0.3)
        for t in range(1, T):
            token = e.ids[t]
            tok, pos = wte_rows[token].copy(), wpe_rows[t].copy()
            self.play(
                marks[0].animate.move_to(id_cells[t]),
                marks[1].animate.move_to(wte_rows[token]),
                marks[2].animate.move_to(wpe_rows[t]),
                tok.animate.move_to(x_rows[t]).set_opacity(0.2),
                pos.animate.move_to(x_rows[t]).set_opacity(0.2),
                FadeIn(x_rows[t], rate_func=lambda a: smooth(max(0.0, 2 * a - 1))),
                FadeIn(x_names[t]),
                run_time=1.0 if t == 1 else 0.45,
            )
            self.remove(tok, pos)
        self.play(FadeIn(rule_text), run_time=0.4)
        self.show_stream(rule_text, marks, x_names, x_head)
        self.mark_poster()  # the whole picture, just before the takeaway card
        self.takeaway(
            "Each id picks a row of wte, each position a row of wpe:\nx is their sum.",
            f"x (B × T × C, here 1 × {T} × {C}) is the residual stream\n"
            "that every block reads and adds to.",
        )

    def show_tables(self, e: Embeddings, scale: float) -> tuple[VGroup, VGroup, VGroup]:
        """The ids, and the two tables they index."""
        T, C = len(e.ids), e.wte.size(1)
        id_cells = VGroup()
        for token in e.ids:
            box = panel(0.55, 0.55, stroke=ROLE["ids"])
            id_cells.add(VGroup(box, label(str(token), MIN_TEXT, ROLE["ids"]).move_to(box)))
        id_cells.arrange(RIGHT, buff=0.06).move_to(UP * 1.85 + RIGHT * 0.5)
        letters = VGroup(
            *[
                label(e.itos[token], MIN_TEXT, TEXT_2).next_to(cell, UP, buff=0.08)
                for token, cell in zip(e.ids, id_cells, strict=True)
            ]
        )
        idx_name = label(f"idx  1 × {T}", MIN_TEXT, ROLE["ids"]).next_to(id_cells, RIGHT, buff=0.3)

        wte_rows, wte_names = table(
            e.wte,
            scale,
            [f"{i} {e.itos[i]}" for i in range(len(e.wte))],
            ROLE["ids"],
            top=1.85,
            center_x=TABLES_X,
        )
        wte_head = label(f"wte  {len(e.wte)} × {C}", MIN_TEXT, TEXT).next_to(
            wte_rows, UP, buff=0.15
        )
        wpe_rows, wpe_names = table(
            e.wpe, scale, [str(t) for t in range(len(e.wpe))], TEXT_2, top=0.3, center_x=TABLES_X
        )
        wpe_head = label(f"wpe  {len(e.wpe)} × {C}", MIN_TEXT, TEXT).next_to(
            wpe_rows, UP, buff=0.15
        )
        legend = caption(
            f"each cell is one of {C} numbers: orange < 0 < blue, brighter = larger",
            MIN_TEXT,
            TEXT_2,
        ).to_edge(DOWN, buff=0.25)
        self.play(FadeIn(id_cells), FadeIn(letters), FadeIn(idx_name), run_time=0.8)
        self.play(
            FadeIn(wte_rows),
            FadeIn(wte_names),
            FadeIn(wte_head),
            FadeIn(wpe_rows),
            FadeIn(wpe_names),
            FadeIn(wpe_head),
            FadeIn(legend),
            run_time=1.0,
        )
        self.wait(0.5)
        return id_cells, wte_rows, wpe_rows

    def add_first(self, e: Embeddings, tables: tuple, x_rows, x_names, x_head):
        """Position 0, written out: its two rows (of the id, wte and wpe ``tables``,
        marked) and their sum, which becomes x's first row; returns the marks and the rule."""
        id_cells, wte_rows, wpe_rows = tables
        first, C = e.ids[0], e.wte.size(1)
        marks = VGroup(
            highlight(id_cells[0], ROLE["ids"]),
            highlight(wte_rows[first], ROLE["ids"]),
            highlight(wpe_rows[0], ACCENT_2),
        )
        names = (f"wte[{first}]", "+ wpe[0]", "= x[0, 0]")
        name_width = max(label(name, MIN_TEXT, mono=True).width for name in names)
        lines = VGroup(
            *[
                numbers_line(name, values, color, name_width)
                for name, values, color in zip(
                    names,
                    (e.wte[first], e.wpe[0], e.x[0, 0]),
                    (ROLE["ids"], ACCENT_2, ROLE["x"]),
                    strict=True,
                )
            ]
        )
        lines.arrange(DOWN, buff=0.25, aligned_edge=LEFT).move_to([MIDDLE_X, -0.35, 0])
        note = caption(f"first {SHOWN} of {C} numbers, rounded", MIN_TEXT, TEXT_2)
        note.next_to(lines, UP, buff=0.3)
        rule = Line(LEFT, RIGHT, stroke_width=2, color=TEXT_2)
        rule.set_width(lines.width).next_to(lines[2], UP, buff=0.12).align_to(lines, LEFT)

        self.play(Create(marks[0]), Create(marks[1]), run_time=0.6)
        self.play(FadeIn(note), self.fly(wte_rows[first], lines[0]), run_time=1.0)
        self.play(Create(marks[2]), run_time=0.4)
        self.play(self.fly(wpe_rows[0], lines[1]), run_time=1.0)
        self.play(Create(rule), FadeIn(lines[2], shift=0.1 * DOWN), run_time=0.8)
        self.wait(0.8)
        self.play(
            FadeIn(x_rows[0], target_position=lines[2]),
            FadeIn(x_names[0]),
            FadeIn(x_head),
            run_time=1.0,
        )
        self.wait(0.6)
        rule_text = caption("x[t] = wte[idx[t]] + wpe[t]", MIN_TEXT, ROLE["x"], mono=True)
        rule_text.move_to([MIDDLE_X, lines.get_y(), 0])
        self.play(FadeOut(VGroup(lines, note, rule)), FadeIn(rule_text), run_time=0.6)
        return marks, rule_text

    def show_stream(self, rule_text: Text, marks: VGroup, x_names: VGroup, x_head: Text):
        """x is the residual stream every block reads and adds to: said in the middle
        column, under the rule, with an arrow to x."""
        stream = caption(
            "x is the residual stream:\nevery block reads\nand adds to it", MIN_TEXT, TEXT_2
        )
        stream.next_to(rule_text, DOWN, buff=0.6).align_to(rule_text, LEFT)
        to_block = side_arrow(
            stream.get_right() + RIGHT * 0.1,
            [x_names.get_left()[0] - 0.1, stream.get_y(), 0],
            ROLE["x"],
        )
        self.play(
            FadeOut(marks),
            FadeIn(stream),
            GrowArrow(to_block),
            Indicate(x_head, color=ROLE["x"]),
            run_time=1.0,
        )
        self.wait(1.6)

    def fly(self, row, line):
        """A copy of a table row moves into a worked line and becomes its numbers."""
        return AnimationGroup(
            FadeOut(row.copy(), target_position=line[1:]),
            FadeIn(line, rate_func=lambda a: smooth(max(0.0, 2 * a - 1))),
        )
