"""Code cells show the idea, not the build's bookkeeping.

A chapter's cells compute the numbers its prose quotes: they ``glue`` them into the text
and assert what the prose says about them, so that a run the prose is not true of stops
the build. A reader of the page needs neither, so the source a cell *shows* leaves out:

- a statement that calls ``glue(...)``, and the line ``from myst_nb import glue``;
- an assert that speaks for the prose: its message or its comment mentions "prose";
- a comment that mentions "prose" just above an assert, with that assert and the asserts
  after it, up to the first statement that is neither an assert nor glue (such a comment
  above other bookkeeping goes with it too);
- a loop, ``if`` or ``with`` that holds nothing else.

Only the rendered page changes: the notebook executes every line (the glue computes the
page's numbers), and the notebook readers download keeps them. A cell with nothing left
to show shows no source box (and, without outputs, nothing). Source that does not parse
as Python is shown as written.
"""

from __future__ import annotations

from docutils import nodes
from sphinx.transforms import SphinxTransform

from buildlib.bookkeeping import shown_source


class HideBookkeeping(SphinxTransform):
    """Each MyST-NB code cell's shown source loses its bookkeeping (see the module)."""

    default_priority = 500

    def apply(self, **kwargs) -> None:
        for source_box in list(self.document.findall(nodes.container)):
            if source_box.get("nb_element") != "cell_code_source":
                continue
            for block in list(source_box.findall(nodes.literal_block)):
                shown = shown_source(block.astext())
                if shown != block.astext():
                    block.rawsource = shown
                    block.clear()
                    block.append(nodes.Text(shown))
            if not source_box.astext().strip():
                cell = source_box.parent
                cell.remove(source_box)
                if not cell.children:
                    cell.parent.remove(cell)


def setup(app):
    app.add_transform(HideBookkeeping)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
