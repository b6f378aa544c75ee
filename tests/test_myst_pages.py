"""ext/myst_pages.py: the one reader of the book's MyST pages (front matter, code
cells, directive fences with their options and lines, the markdown between)."""

from __future__ import annotations

import os
from typing import ClassVar

import pytest
from myst_parser.config.main import MdParserConfig

from ext import myst_pages

BOOK = MdParserConfig(enable_extensions={"colon_fence", "dollarmath", "amsmath", "deflist"})

PAGE = """\
---
jupytext:
  text_representation: {extension: .md, format_name: myst}
kernelspec: {display_name: Python 3, language: python, name: python3}
---

% cells read: chapters/*.md
(ch-one)=
# One

```{code-cell} ipython3
:tags: [remove-input, hide-output]
%matplotlib inline
import torch
```

Text with {glue:text}`n` in it.

```{manim-clip} AttentionScene
:file: /scenes/attention.py
:caption: One query: the weights.
:name: ch-clip
```

1. An exercise.

   ````{dropdown} Solution
   :open:

   ```python
   print("as written")
   ```
   ```{note}
   Nested.
   ```
   ````

$$
a &= b
$$
"""


def _line(text: str, start: str) -> int:
    return next(i for i, line in enumerate(text.split("\n"), 1) if line.startswith(start))


def test_front_matter_comments_and_targets():
    page = myst_pages.parse(PAGE, BOOK)
    assert page.front_matter["kernelspec"]["name"] == "python3"
    assert page.comments == (myst_pages.Comment(" cells read: chapters/*.md", 7),)
    targets = [block for block in page.blocks if isinstance(block, myst_pages.Target)]
    assert targets == [myst_pages.Target("ch-one", 8)]


def test_a_page_that_does_not_read_says_nothing_rather_than_raising():
    page = myst_pages.parse("---\nkey: [unclosed\n---\n```{code-cell}\n:tags: [a\nx = 1\n```\n")
    assert page.front_matter == {}  # MyST warns about both when Sphinx reads the page
    assert [cell.source for cell in page.cells] == ["x = 1"]


def test_cells_with_their_tags_as_myst_nb_reads_them():
    # a colon fence and a fence in a list are not cells to MyST-NB: it runs neither
    others = ":::{code-cell}\nx = 1\n:::\n\n- item\n\n  ```{code-cell}\n  y = 2\n  ```\n"
    (cell,) = myst_pages.parse(PAGE + others, BOOK).cells
    assert cell.metadata == {"tags": ["remove-input", "hide-output"]}
    assert cell.source == "%matplotlib inline\nimport torch"
    assert cell.line == _line(PAGE, "```{code-cell}")
    assert cell.body_line == _line(PAGE, "%matplotlib inline")


def test_fences_with_options_argument_body_and_line():
    fences = myst_pages.parse(PAGE, BOOK).fences
    assert [fence.name for fence in fences] == ["code-cell", "manim-clip", "dropdown"]
    clip = fences[1]
    assert clip.argument == "AttentionScene"
    assert clip.options == {
        "file": "/scenes/attention.py",
        "caption": "One query: the weights.",
        "name": "ch-clip",
    }
    assert clip.body == "" and clip.line == _line(PAGE, "```{manim-clip}")
    assert clip.top_level and not fences[2].top_level  # the dropdown is in a list item


def test_nested_fences_keep_the_pages_line_numbers():
    dropdown = myst_pages.parse(PAGE, BOOK).fences[2]
    assert dropdown.argument == "Solution" and dropdown.options == {"open": ""}
    inner = dropdown.page
    code = next(block for block in inner.blocks if isinstance(block, myst_pages.Code))
    assert code.text == '```python\nprint("as written")\n```'  # code as written
    assert code.line == _line(PAGE, "   ```python")
    (note,) = inner.fences
    assert note.name == "note" and note.body == "Nested."
    assert note.line == _line(PAGE, "   ```{note}")
    assert note.page.blocks == (myst_pages.Markdown("Nested.", note.line + 1),)


def test_the_markdown_between_blocks_is_kept_as_written():
    page = myst_pages.parse(PAGE, BOOK)
    texts = [block.text for block in page.blocks if isinstance(block, myst_pages.Markdown)]
    assert "Text with {glue:text}`n` in it." in "\n".join(texts)
    assert any(text.strip() == "1. An exercise." for text in texts)
    (math,) = [block for block in page.blocks if isinstance(block, myst_pages.Math)]
    assert math.body == "a &= b" and math.line == _line(PAGE, "$$")


def test_a_directive_reads_its_fence_with_its_own_option_checks():
    from docutils.parsers.rst import directives
    from myst_parser.parsers.directives import MarkupError

    class Clip:
        required_arguments, optional_arguments, final_argument_whitespace = 1, 0, False
        has_content = True
        option_spec: ClassVar = {"file": directives.path, "caption": directives.unchanged}

    clip = myst_pages.parse(PAGE, BOOK).fences[1]
    parsed = clip.parse(Clip)
    assert parsed.arguments == ["AttentionScene"]
    assert parsed.options["file"] == "/scenes/attention.py"
    assert any("Unknown option key: 'name'" in warning.msg for warning in parsed.warnings)
    with pytest.raises(MarkupError):  # two arguments where the directive takes one
        myst_pages.parse("```{manim-clip} A B\n```\n", BOOK).fences[0].parse(Clip)


def test_a_file_read_again_unchanged_is_not_parsed_again(tmp_path):
    path = tmp_path / "page.md"
    path.write_text(PAGE)
    first = myst_pages.read(path, BOOK)
    assert myst_pages.read(path, BOOK) is first
    path.write_text(PAGE + "\nMore.\n")
    os.utime(path, ns=(0, 0))  # a new stamp however fast the file was rewritten
    assert myst_pages.read(path, BOOK) is not first
