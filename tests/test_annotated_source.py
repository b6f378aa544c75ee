"""The annotated-source directive: lookup, anchors, drift warnings, shapes, HTML, fallbacks."""

from __future__ import annotations

import ast
import importlib.util
import io
import json
import re
import shutil
import sys
from pathlib import Path

import pytest
from bs4 import BeautifulSoup
from pages import LISTEN_TO_LIVE_REGIONS
from sphinx.errors import ConfigError
from sphinx.util.console import strip_colors

from buildlib import processes
from ext._core import Problem
from ext.annotated_source import shapes
from ext.annotated_source.directive import collapse_option
from ext.annotated_source.html import shapes_line
from ext.annotated_source.locate import (
    Anchor,
    find_object,
    list_objects,
    note_spans,
    parse_file,
    resolve_anchor,
    split_notes,
)

REPO = Path(__file__).resolve().parent.parent
FIXTURE = Path(__file__).parent / "roots" / "test-annotated-source"
MODEL = FIXTURE / "model_src" / "model.py"
OTHER = FIXTURE / "other_checkout" / "model.py"
sys.path.insert(0, str(FIXTURE))  # the stand-in presets module, as_presets
# One store of captures for every build and capture here. A capture's key is its inputs,
# not where a copy of the fixture sits, so each (file, preset) runs once (a run starts
# torch in a process of its own: seconds of CPU), and every build after the first reads
# it. The path is relative to a build's srcdir: beside it, in sphinx_test_tempdir.
SHARED_CAPTURES = "annotated-source-captures"
SHARED_CACHE = {"nanobook_cache_dir": f"../{SHARED_CAPTURES}"}
DRIFT_OVERRIDES = {
    "annotated_source_root": str(MODEL.parent),
    "nanobook_presets": "as_presets",
    **SHARED_CACHE,
}
# The html build of the fixture, made once for the tests that only read it
HTML_BUILD = {"shared_result": "annotated-source-html"}


def line_of(path: Path, text: str, occurrence: int = 1) -> int:
    """The real line number of the ``occurrence``-th line containing ``text``."""
    found = [n for n, line in enumerate(path.read_text().splitlines(), 1) if text in line]
    return found[occurrence - 1]


def soup(app, page: str) -> BeautifulSoup:
    return BeautifulSoup((app.outdir / page).read_text(encoding="utf-8"), "html.parser")


@pytest.fixture
def shared_captures(sphinx_test_tempdir: Path) -> Path:
    """The store of SHARED_CACHE, for captures made outside a build."""
    return sphinx_test_tempdir / SHARED_CAPTURES / "shapes"


# --- lookup and anchors (no Sphinx) ---------------------------------------------------


@pytest.fixture(scope="module")
def parsed():
    return parse_file(MODEL)


@pytest.mark.parametrize(
    ("name", "first_text", "last_text"),
    [
        ("GPT", "class GPT(", "        return idx"),
        ("CausalSelfAttention.forward", "    def forward(self, x):", "return self.c_proj(y)"),
        ("GPT.generate", "@torch.no_grad()", "        return idx"),  # decorators belong to it
        ("outer.inner", "def inner(x):", "return x * scale"),
        ("banner", "def banner():", "alert(1)"),
    ],
)
def test_objects_are_found_by_name(parsed, name, first_text, last_text):
    obj = find_object(*parsed, name)
    assert obj.start == line_of(MODEL, first_text)
    assert last_text in obj.file_lines[obj.end - 1]
    assert obj.lines()[0][0] == obj.start


def test_the_whole_file_is_the_object_when_none_is_named(parsed):
    obj = find_object(*parsed, "")
    assert (obj.start, obj.end) == (1, len(MODEL.read_text().splitlines()))


def test_an_empty_file_is_a_problem_not_a_crash():
    with pytest.raises(Problem, match="the file is empty"):
        find_object(ast.parse(""), (), "")


def test_a_missing_object_lists_what_the_file_defines(parsed):
    with pytest.raises(Problem) as caught:
        find_object(*parsed, "GPT.forwrd")
    assert "no object 'GPT.forwrd'" in str(caught.value)
    assert "did you mean 'GPT.forward'" in caught.value.hint
    for name in ("LayerNorm", "CausalSelfAttention.forward", "GPT.generate", "outer.inner"):
        assert name in caught.value.hint
    assert list_objects(parsed[0])[:3] == ["LayerNorm", "LayerNorm.__init__", "LayerNorm.forward"]


def test_anchors_text_regex_and_pick(parsed):
    obj = find_object(*parsed, "CausalSelfAttention.forward")
    assert resolve_anchor(Anchor.parse("B, T, C = x.size()"), obj, "model.py") == line_of(
        MODEL, "B, T, C = x.size()"
    )
    assert resolve_anchor(Anchor.parse(r"/^\s*q = q\.view/"), obj, "model.py") == line_of(
        MODEL, "q = q.view"
    )
    assert resolve_anchor(Anchor.parse("att = #2"), obj, "model.py") == line_of(
        MODEL, "att = att.masked_fill"
    )
    assert resolve_anchor(Anchor.parse("/att = /  #3"), obj, "model.py") == line_of(
        MODEL, "att = F.softmax"
    )


@pytest.mark.parametrize(
    ("anchor", "message", "hint"),
    [
        (
            "att = att.masked_fil(",
            "matches no line of CausalSelfAttention.forward",
            "closest line is 40",
        ),
        (
            "att =",
            "matches 3 lines of CausalSelfAttention.forward (model.py, lines 33-44): 39, 40, 41",
            "add ' #N'",
        ),
        ("att = #4", "picks match 4, but 'att =' matches 3 lines", "39, 40, 41"),
        ("/att = (/", "not a valid regular expression", "escape"),
        ("x #0", "picks match 0", "count from #1"),
    ],
)
def test_anchor_drift_is_explained(parsed, anchor, message, hint):
    obj = find_object(*parsed, "CausalSelfAttention.forward")
    with pytest.raises(Problem) as caught:
        resolve_anchor(Anchor.parse(anchor), obj, "model.py")
    assert message in str(caught.value)
    assert hint in caught.value.hint


def test_notes_split_at_anchor_lines():
    content = ["Intro.", "", "@ B, T, C", "", "First.", "\\@ not a head", "", "@ /y = /", "Two"]
    notes = split_notes(content)
    assert [(n.anchor, content[n.start : n.stop]) for n in notes] == [
        (None, ["Intro."]),
        ("B, T, C", ["First.", "\\@ not a head"]),
        ("/y = /", ["Two"]),
    ]
    assert notes[1].head == 2
    # an "@" with nothing after it is an anchor left out, which the anchor says, not note text
    (alone,) = split_notes(["@", "Body."])
    assert alone.anchor == ""
    with pytest.raises(Problem, match="has no anchor text"):
        Anchor.parse(alone.anchor)


def test_a_note_explains_its_statement_or_block(parsed):
    spans = note_spans(find_object(*parsed, "GPT.forward"))
    loop = line_of(MODEL, "for block in self.transformer.h:")
    assert spans[loop] == (loop, loop + 1)  # a loop header explains the whole loop
    call = line_of(MODEL, "loss = F.cross_entropy(")
    assert spans[call + 1] == (call, call + 2)  # any line of a multi-line statement
    assert spans[line_of(MODEL, "t = idx.size(1)")] == (call - 10, call - 10)


def test_collapse_values():
    assert collapse_option("none") == []
    assert collapse_option("definitions") == ["definitions"]
    assert collapse_option("definitions, unannotated") == ["definitions", "unannotated"]
    for bad in ("", "everything", "definitions folded"):
        with pytest.raises(ValueError, match="choose from none, definitions, unannotated"):
            collapse_option(bad)


# --- shapes ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def captured():
    return shapes.capture(MODEL, "sort", "as_presets")


def _values(result: dict, line: int) -> dict[str, str]:
    return dict(result["lines"][str(line)]["values"])


def test_shapes_equal_the_real_tensors(captured):
    import as_presets
    import torch

    assert captured["errors"] == []
    config = as_presets.gpt_config("sort")
    idx = as_presets.sample_input("sort")
    spec = importlib.util.spec_from_file_location("annotated_source_fixture_model", MODEL)
    fixture_model = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = fixture_model  # its dataclass looks itself up there
    spec.loader.exec_module(fixture_model)
    gpt = fixture_model.GPT(fixture_model.GPTConfig(**vars(config)))
    seen = {}
    attn = gpt.transformer.h[0].attn
    attn.register_forward_hook(lambda m, args, out: seen.update(x=args[0], y=out))
    logits, loss = gpt(idx, torch.roll(idx, -1, dims=1))
    q = attn.c_attn(seen["x"]).split(config.n_embd, dim=2)[0]
    q = q.view(1, idx.size(1), config.n_head, -1).transpose(1, 2)

    def shape(t):
        return "×".join(map(str, t.shape))

    assert _values(captured, line_of(MODEL, "q = q.view"))["q"] == shape(q) == "1×3×11×16"
    attention_def = line_of(MODEL, "def forward(self, x):")
    assert _values(captured, attention_def)["x"] == shape(seen["x"])
    assert _values(captured, line_of(MODEL, "return self.c_proj(y)"))["return"] == shape(seen["y"])
    assert _values(captured, line_of(MODEL, "logits = self.lm_head(x)"))["logits"] == shape(logits)
    assert _values(captured, line_of(MODEL, "loss = F.cross_entropy("))["loss"] == "scalar"
    assert loss.dim() == 0
    assert _values(captured, line_of(MODEL, "B, T, C = x.size()")) == {
        "B": "1",
        "T": "11",
        "C": "48",
    }
    assert _values(captured, line_of(MODEL, "pos = torch.arange"))["pos"] == "11 int64"


def test_loops_record_their_first_iteration(captured):
    generate_step = captured["lines"][str(line_of(MODEL, "idx = torch.cat("))]
    assert generate_step == {"values": [["idx", "1×5 int64"]], "loop": "1st iteration"}
    blocks = captured["lines"][str(line_of(MODEL, "x = block(x)"))]
    assert blocks["loop"] == "1st iteration"
    assert captured["lines"][str(line_of(MODEL, "x = tok_emb + pos_emb"))]["loop"] is None


def test_the_tracer_is_removed_even_when_the_run_fails():
    def outer_trace(frame, event, arg):
        return None

    previous = sys.gettrace()
    sys.settrace(outer_trace)
    try:
        good = shapes.capture(MODEL, "sort", "as_presets")
        assert sys.gettrace() is outer_trace
        bad = shapes.capture(MODEL, "nonesuch", "as_presets")
        assert sys.gettrace() is outer_trace
    finally:
        sys.settrace(previous)
    assert good["lines"] and not good["errors"]
    assert bad["errors"] == ["unknown preset 'nonesuch' (presets: sort, char)"]
    assert not [name for name in sys.modules if name.startswith("_annotated_source_")]


def test_captures_are_cached_on_disk_by_content(tmp_path, monkeypatch):
    model = tmp_path / "model.py"
    model.write_text(MODEL.read_text())
    first = shapes.cached_capture(model, "sort", "as_presets", tmp_path, tmp_path / "cache")
    assert len(list((tmp_path / "cache").glob("*/capture.json"))) == 1

    def must_not_run(*args, **kwargs):
        raise AssertionError("ran the model again")

    monkeypatch.setattr(processes, "call_apart", must_not_run)  # not even a process started
    assert shapes.cached_capture(model, "sort", "as_presets", tmp_path, tmp_path / "cache") == first
    # a comment after the code moves no line the shapes sit on: still served
    model.write_text(MODEL.read_text() + "\n# changed\n")
    assert shapes.cached_capture(model, "sort", "as_presets", tmp_path, tmp_path / "cache") == first
    model.write_text("# a first line moves every line below it\n" + MODEL.read_text())
    with pytest.raises(AssertionError, match="ran the model again"):
        shapes.cached_capture(model, "sort", "as_presets", tmp_path, tmp_path / "cache")


def test_a_damaged_capture_is_captured_again_not_served(tmp_path, shared_captures):
    """Issue 31: a truncated capture.json ended every later build; now it is remade."""
    first = shapes.cached_capture(MODEL, "sort", "as_presets", FIXTURE, shared_captures)
    key = shapes.cache_key(MODEL, "sort", "as_presets", FIXTURE)
    cache = tmp_path / "cache"
    shutil.copytree(shared_captures / key, cache / key)  # a copy to damage, not a new run
    (stored,) = cache.glob("*/capture.json")
    stored.write_bytes(stored.read_bytes()[:100])
    said = []
    again = shapes.cached_capture(MODEL, "sort", "as_presets", FIXTURE, cache, log=said.append)
    assert again["lines"] == first["lines"] and json.loads(stored.read_text()) == again
    assert len(said) == 1 and "capture.json is not the file that was stored" in said[0]


@pytest.mark.skipif(
    not (REPO / "model_src" / "model.py").is_file()
    or not (REPO / "model_src" / "presets.py").is_file(),
    reason="model_src has not landed yet",
)
def test_shapes_of_the_real_model_src():
    import torch

    from model_src import presets

    path = REPO / "model_src" / "model.py"
    result = shapes.capture(path, "sort", "model_src.presets")
    assert result["errors"] == []
    tree, lines = parse_file(path)
    forward = find_object(tree, lines, "CausalSelfAttention.forward")
    q_lines = [
        str(n)
        for n, text in forward.lines()
        if re.match(r"\s*q\b.*=", text) and str(n) in result["lines"]
    ]
    config = presets.gpt_config("sort")
    time = presets.sample_input("sort").size(1)
    expected = f"1×{config.n_head}×{time}×{config.n_embd // config.n_head}"
    assert expected == "1×3×11×16"
    assert any(dict(result["lines"][n]["values"]).get("q") == expected for n in q_lines)
    # nanoGPT's explicit attention path runs too, though PyTorch has the fused kernel
    masked = [n for n, text in forward.lines() if "att = att.masked_fill" in text]
    scores = f"1×{config.n_head}×{time}×{time}"
    assert all(dict(result["lines"][str(n)]["values"])["att"] == scores for n in masked)
    assert hasattr(torch.nn.functional, "scaled_dot_product_attention")


def _evaluate(formula: str, symbols: dict[str, int]) -> str:
    """What annotated_source.js shows for a formula: each symbol replaced by its value."""
    pattern = "|".join(re.escape(name) for name in sorted(symbols, key=len, reverse=True))
    return re.sub(
        rf"(?<![A-Za-z]){'(?:' + pattern + ')'}(?![A-Za-z])",
        lambda m: str(symbols[m.group()]),
        formula,
    )


@pytest.mark.parametrize("preset", ["sort", "char"])
def test_shape_formulas_give_pytorchs_shapes_at_a_second_size(preset):
    """Every formula, evaluated at the second size, is what PyTorch bound there."""
    from ext.annotated_source.formulas import symbol_values
    from model_src import presets

    path = REPO / "model_src" / "model.py"
    # what a capture's process runs, run here: this test is about the formulas, and torch
    # is already loaded (the tests above cover the process and the store)
    result = shapes.capture_with_formulas(str(path), preset, "model_src.presets")
    second = result["second_size"]
    config = presets.gpt_config(preset)
    short = symbol_values(
        config, 1, presets.sample_input(preset, 1, config.block_size // 2).size(1)
    )
    assert short["T"] != result["symbols"]["T"]
    checked = 0
    for line, entry in result["lines"].items():
        for (name, shape), (_, formula) in zip(entry["values"], entry["formulas"], strict=True):
            if formula is None:
                continue
            assert dict(second[line]["values"])[name] == _evaluate(formula, short), (line, name)
            assert _evaluate(formula, result["symbols"]) == shape
            checked += 1
    assert checked >= 40
    tree, lines = parse_file(path)
    forward = find_object(tree, lines, "CausalSelfAttention.forward")
    formulas = {
        text.strip().split(" =")[0]: dict(result["lines"][str(n)]["formulas"])
        for n, text in forward.lines()
        if str(n) in result["lines"] and result["lines"][str(n)]["formulas"]
    }
    assert formulas["att"]["att"] == "B×nh×T×T"
    assert formulas["y"]["y"] in ("B×nh×T×hs", "B×T×C")
    assert formulas["B, T, C"] == {"B": "B", "T": "T", "C": "C"}


def test_a_shape_no_symbol_explains_has_no_formula():
    from ext.annotated_source.formulas import formula

    tables = [dict(B=1, T=11, C=48), dict(B=1, T=5, C=48), dict(B=2, T=10, C=72)]
    assert formula(["1×11×48", "1×5×48", "2×10×72"], tables) == "B×T×C"
    assert formula(["1×4 int64", "1×4 int64", "2×4 int64"], tables) == "B×4 int64"
    assert formula(["40 tensors", "40 tensors", "56 tensors"], tables) is None
    assert formula(["1×11", "1×5×2", "2×10"], tables) is None  # rank differs


# --- Sphinx builds --------------------------------------------------------------------


@pytest.mark.sphinx("html", testroot="annotated-source", freshenv=True, confoverrides=SHARED_CACHE)
@pytest.mark.test_params(**HTML_BUILD)
def test_html_layout_links_notes_and_lines(app, warning):
    app.build()
    assert warning.getvalue() == ""
    extension = app.extensions["ext.annotated_source"]
    assert extension.parallel_read_safe and extension.parallel_write_safe
    page = soup(app, "attention.html")
    block = page.select_one("div.annotated-source")
    assert block is not None
    rows = block.select(".as-rows > .as-row")
    assert rows and all(
        [child["class"][0] for child in row.find_all(recursive=False)] == ["as-notes", "as-code"]
        for row in rows
    )
    notes = {note["id"]: note for note in block.select(".as-note")}
    # the listing is one group, named for what it shows; a note is named by its own text
    group = block.select_one(".as-rows[role=group]")
    assert "model.py" in group["aria-label"] and "lines" in group["aria-label"]
    for note in notes.values():
        assert note["role"] == "note" and note["aria-labelledby"] == note["id"]
        assert "tabindex" not in note.attrs
    lines = {line["id"]: line for line in block.select(".as-line")}
    # every line has its real number; every note's lines exist and point back at it
    first = line_of(MODEL, "def forward(self, x):")
    last = line_of(MODEL, "return self.c_proj(y)")
    numbers = [int(line["data-line"]) for line in lines.values()]
    assert numbers == list(range(first, last + 1))
    assert [line.select_one(".as-ln").text for line in lines.values()] == list(map(str, numbers))
    for note_id, note in notes.items():
        start, end = map(int, note["data-as-lines"].split("-"))
        for n in range(start, end + 1):
            assert note_id in lines[f"{block['id']}-L{n}"]["data-as-notes"].split()
        assert note.select_one("a.as-note-lines")["href"] == f"#{block['id']}-L{start}"
    masked = line_of(MODEL, "att = att.masked_fill")
    masked_note = next(n for n in notes.values() if n["data-as-lines"] == f"{masked}-{masked}")
    assert "causal mask" in masked_note.text
    assert masked_note.select(".math")  # MyST math in a note is a real math node
    assert masked_note.find_parent(class_="as-row").select_one(".as-line")["data-line"] == str(
        masked
    )
    # no Tab stop in the HTML: annotated_source.js makes the listing one
    assert not block.select(".as-rows [tabindex='0']")
    skip = block.select_one("a.as-skip")
    assert "tabindex" not in skip.attrs and page.select_one(skip["href"])  # a Tab stop
    forge = block.select_one("a.as-forge")["href"]
    assert forge == f"https://forge.example/nanobook/blob/main/model_src/model.py#L{first}-L{last}"
    assert page.select_one('link[href*="annotated_source.css"]')
    assert page.select_one('script[src*="annotated_source.js"]')
    assert (app.outdir / "_static" / "annotated_source.js").is_file()
    q_line = lines[f"{block['id']}-L{line_of(MODEL, 'q = q.view')}"]
    assert q_line.select_one(".as-shape").text == "q: 1×3×11×16"
    assert q_line.select_one(".as-src .n").text == "q"  # Pygments classes, per line
    # A link in a MyST note resolves like any other link on the page.
    assert block.select_one('.as-note a[href="index.html"]')


@pytest.mark.sphinx("html", testroot="annotated-source", freshenv=True, confoverrides=SHARED_CACHE)
@pytest.mark.test_params(**HTML_BUILD)
def test_html_collapses_definitions_and_unannotated_stretches(app, warning):
    app.build()
    page = soup(app, "attention.html")
    gpt, generate = page.select("div.annotated-source")[1:3]
    folds = gpt.select("details.as-fold")
    summaries = [[src.text.strip() for src in fold.summary.select(".as-src")] for fold in folds]
    assert [summary[-1].split("(")[0] for summary in summaries] == [
        "def __init__",
        "def _init_weights",
        "def configure_optimizers",
        "def generate",
    ]
    assert summaries[-1][0] == "@torch.no_grad()"  # decorators stay with their def
    assert not gpt.select("details .as-line[data-as-notes]")  # annotated code stays open
    generate_folds = generate.select("details.as-fold")
    assert len(generate_folds) == 1
    hidden = [int(line["data-line"]) for line in generate_folds[0].select(".as-line")]
    assert hidden == list(
        range(line_of(MODEL, "@torch.no_grad()"), line_of(MODEL, "probs = F.softmax(logits") + 1)
    )
    loop_shape = generate.select_one(f"#{generate['id']}-L{line_of(MODEL, 'idx = torch.cat(')}")
    assert loop_shape.select_one(".as-shape").text == "idx: 1×5 int64 (1st iteration)"


@pytest.mark.sphinx("html", testroot="annotated-source", freshenv=True, confoverrides=SHARED_CACHE)
@pytest.mark.test_params(**HTML_BUILD)
def test_nothing_from_the_source_or_notes_becomes_markup(app, warning):
    app.build()
    html = (app.outdir / "index.html").read_text(encoding="utf-8")
    assert "<script>alert(1)" not in html and "</pre><script>" not in html
    assert "&lt;/pre&gt;&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "Raw &lt;b&gt;tags&lt;/b&gt; stay text." in html
    page = soup(app, "index.html")
    assert not [s for s in page.find_all("script") if "alert" in (s.string or "")]


@pytest.mark.sphinx("text", testroot="annotated-source", freshenv=True, confoverrides=SHARED_CACHE)
def test_text_builder_interleaves_notes_and_code(app, warning):
    app.build()
    assert warning.getvalue() == ""
    text = (app.outdir / "attention.txt").read_text(encoding="utf-8")
    masked = line_of(MODEL, "att = att.masked_fill")
    assert f"*Line {masked}:*\n\nThe causal mask: position t sees only \\le t." in text
    note_at = text.index("The causal mask")
    code_at = text.index('att = att.masked_fill(self.bias[:, :, :T, :T] == 0, float("-inf"))')
    assert note_at < code_at  # the note, then the lines it explains
    assert re.search(r"q = q\.view\(.*\)  # \(B, nh, T, hs\)\s+# q: 1×3×11×16\n", text)
    assert "# idx: 1×5 int64 (1st iteration)" in text
    assert '"model.py" — "CausalSelfAttention.forward", lines' in text
    index = (app.outdir / "index.txt").read_text(encoding="utf-8")
    assert "Raw <b>tags</b> stay text." in index


@pytest.mark.sphinx("latex", testroot="annotated-source", freshenv=True, confoverrides=SHARED_CACHE)
def test_latex_builder_numbers_code_from_the_real_lines(app, warning):
    app.build()
    assert warning.getvalue() == ""
    tex = next(app.outdir.glob("*.tex")).read_text(encoding="utf-8")
    masked = line_of(MODEL, "att = att.masked_fill")
    assert f"numbers=left,firstnumber={masked}" in tex
    assert "The causal mask: position" in tex
    assert r"\sphinxhref{https://forge.example/nanobook/blob/main/model\_src/model.py\#L" in tex
    assert r"\textless{}b\textgreater{}tags" in tex


@pytest.mark.sphinx(
    "html", testroot="annotated-source-drift", freshenv=True, confoverrides=DRIFT_OVERRIDES
)
def test_drift_warnings_name_the_page_line_object_and_anchor(app, warning):
    app.build()
    log = warning.getvalue()
    index = "index.rst"
    expected = [
        (
            index,
            11,
            "anchor 'att = att.masked_fil(' matches no line of "
            "CausalSelfAttention.forward (model.py, lines 33-44)",
            "closest line is 40",
        ),
        (index, 14, "anchor 'att =' matches 3 lines of CausalSelfAttention.forward", "#N"),
        (index, 17, "anchor 'att = #7' picks match 7, but 'att =' matches 3 lines", "39, 40"),
        (index, 20, "anchor '/att = (/' is not a valid regular expression", "escape"),
        (index, 26, "the note on 'return self.c_proj(y)' has no text", "lines after"),
        (
            index,
            28,
            "annotated-source model.py: no object 'CausalSelfAttention.backward'",
            "the file defines: LayerNorm, LayerNorm.__init__",
        ),
        (
            index,
            31,
            "annotated-source modle.py: no such file under annotated_source_root",
            "files there: model.py",
        ),
        (
            index,
            34,
            "annotated-source ../conf.py: the path leaves annotated_source_root",
            "e.g. 'model.py'",
        ),
        (
            index,
            36,
            "no line of outer.inner bound a tensor while the 'sort' sample ran",
            "model.generate",
        ),
        (
            index,
            40,
            "shapes for MLP.forward (nonesuch): unknown preset 'nonesuch' (presets: sort, char)",
            None,
        ),
        ("page.md", 9, "anchor 'probs = F.softmx(' matches no line of GPT.generate", None),
        ("page.md", 15, "anchor 'idx = torch.stack' matches no line of GPT.generate", None),
    ]
    for page, line, message, hint in expected:
        pattern = (
            re.escape(f"{page}:{line}: WARNING: ")
            + r"annotated-source\b.*"
            + re.escape(message.removeprefix("annotated-source "))
        )
        assert re.search(pattern, log), f"no warning {page}:{line} {message!r} in\n{log}"
        if hint:
            block = log[re.search(pattern, log).start() :].split("WARNING")[1]
            assert hint in block
    assert log.count("WARNING") == len(expected)
    assert log.count("[nanobook.annotated-source]") == len(expected)
    # Every block that resolved still renders; its good notes are kept.
    page = soup(app, "index.html")
    kept = [n.text.strip() for n in page.select("div.annotated-source .as-note p")]
    assert kept == ["This one still matches."]
    assert page.select_one(".as-header .as-where").text == "lines 33–44"  # no url: no link
    assert not page.select("a.as-forge")


@pytest.mark.sphinx(
    "html",
    testroot="annotated-source",
    srcdir="annotated-source-other",
    confoverrides={"annotated_source_root": "other_checkout", **SHARED_CACHE},
)
def test_the_same_pages_build_over_another_checkout(app, warning):
    app.build()
    assert warning.getvalue() == ""
    block = soup(app, "attention.html").select_one("div.annotated-source")
    first = line_of(OTHER, "def forward(self, x):")
    last = line_of(OTHER, "return self.resid_dropout(self.c_proj(y))")
    assert first != line_of(MODEL, "def forward(self, x):")
    numbers = [int(line["data-line"]) for line in block.select(".as-line")]
    assert numbers == list(range(first, last + 1))
    q_line = block.select_one(f"#{block['id']}-L{line_of(OTHER, 'q = q.view')}")
    assert q_line.select_one(".as-shape").text == "q: 1×3×11×16"
    head = block.select_one(f"#{block['id']}-L{line_of(OTHER, 'head_size = C // self.n_head')}")
    assert head.select_one(".as-shape").text == "head_size: 16"  # this checkout's own line
    # its fused-kernel switch is turned off for a second pass, so the explicit lines run
    masked = block.select_one(f"#{block['id']}-L{line_of(OTHER, 'att = att.masked_fill')}")
    assert masked.select_one(".as-shape").text == "att: 1×3×11×11"
    assert block.select_one("a.as-forge")["href"].endswith(f"model.py#L{first}-L{last}")


@pytest.mark.sphinx(
    "html",
    testroot="annotated-source",
    srcdir="annotated-source-parallel",
    parallel=2,
    confoverrides=SHARED_CACHE,
)
def test_a_parallel_build_renders_the_same_blocks(app, warning):
    app.build()
    assert warning.getvalue() == ""
    block = soup(app, "attention.html").select_one("div.annotated-source")
    q_line = block.select_one(f"#{block['id']}-L{line_of(MODEL, 'q = q.view')}")
    assert q_line.select_one(".as-shape").text == "q: 1×3×11×16"
    assert soup(app, "index.html").select("div.annotated-source .as-note")


@pytest.mark.sphinx(
    "html",
    testroot="annotated-source",
    srcdir="annotated-source-badurl",
    confoverrides={"annotated_source_url": "https://x/{file}#L{start}"},
)
def test_a_bad_url_template_is_a_config_error(make_app, app_params):
    args, kwargs = app_params
    with pytest.raises(ConfigError, match=r"annotated_source_url .*\{path\}, \{start\}"):
        make_app(*args, **kwargs)


@pytest.mark.sphinx(
    "html",
    testroot="annotated-source",
    srcdir="annotated-source-incremental",
    confoverrides=SHARED_CACHE,
)
def test_a_changed_source_file_rebuilds_its_pages(make_app, app_params):
    args, kwargs = app_params
    app = make_app(*args, **kwargs)
    app.build()
    model = Path(app.srcdir) / "model_src" / "model.py"
    model.write_text(
        model.read_text().replace(
            "        y = att @ v  # (B, nh, T, hs)\n",
            "        y = att @ v  # (B, nh, T, hs)\n        y = y * 1.0  # a new line\n",
        )
    )
    app = make_app(*args, **kwargs)  # a later build over the same tree and environment
    app.build()
    page = soup(app, "attention.html")
    new_line = line_of(model, "y = y * 1.0")
    block = page.select_one("div.annotated-source")
    assert block.select_one(f"#{block['id']}-L{new_line} .as-shape").text == "y: 1×3×11×16"


@pytest.mark.browser
@pytest.mark.skipif(not shutil.which("chromium"), reason="needs chromium")
@pytest.mark.sphinx(
    "html",
    testroot="annotated-source",
    srcdir="annotated-source-browser",
    confoverrides={"html_theme": "sphinx_book_theme", **SHARED_CACHE},
)
def test_in_a_browser_notes_and_lines_light_up_and_narrow_screens_do_not_scroll(app, browser):
    app.build()
    url = (app.outdir / "attention.html").as_uri()
    masked = line_of(MODEL, "att = att.masked_fill")
    # the session's browser (conftest.py): a Playwright of its own cannot start in a
    # process where a test before this one started that one
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        page = context.new_page()
        page.goto(url)
        block = page.locator("div.annotated-source").first
        block_id = block.get_attribute("id")
        note = block.locator(f'.as-note[data-as-lines="{masked}-{masked}"]')
        line = block.locator(f"#{block_id}-L{masked}")
        # The theme's text column is too narrow for notes beside 90-character lines:
        # each note stands above its code, and the listing keeps to the column.
        note_box, code_box = note.bounding_box(), line.bounding_box()
        assert note_box["y"] + note_box["height"] <= code_box["y"]
        column_right = page.evaluate(
            """() => { const a = document.querySelector('article.bd-article');
               return a.getBoundingClientRect().right
                 - parseFloat(getComputedStyle(a).paddingRight); }"""
        )
        assert block.evaluate("b => b.getBoundingClientRect().right") <= column_right + 0.5
        # A listing given room for both (here by hand) puts them side by side.
        block.evaluate("b => { b.style.width = '72rem'; b.style.maxWidth = 'none'; }")
        note_box, code_box = note.bounding_box(), line.bounding_box()
        assert note_box["x"] + note_box["width"] <= code_box["x"]
        assert abs(note_box["y"] - code_box["y"]) < 40
        block.evaluate("b => b.removeAttribute('style')")
        note.hover()
        assert "as-active" in line.get_attribute("class")
        page.mouse.move(0, 0)
        assert "as-active" not in line.get_attribute("class")
        line.hover()
        assert "as-active" in note.get_attribute("class")
        page.mouse.move(0, 0)
        note.focus()  # keyboard focus does what hover does
        assert "as-active" in line.get_attribute("class")
        shape = line.locator(".as-shape")
        light = shape.evaluate("e => getComputedStyle(e).color")
        page.evaluate("document.documentElement.dataset.theme = 'dark'")
        assert shape.evaluate("e => getComputedStyle(e).color") == "rgb(74, 222, 128)" != light

        page.set_viewport_size({"width": 390, "height": 800})
        page.goto(url)
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        code = page.locator(".as-code").nth(1)
        assert code.evaluate("e => e.scrollWidth <= e.clientWidth")  # long lines wrap
        assert code.evaluate(  # onto extra rows inside their own line
            """e => [...e.querySelectorAll('.as-src')].some(
                s => s.offsetHeight > 1.5 * parseFloat(getComputedStyle(s).lineHeight))"""
        )
        note_box, code_box = note.bounding_box(), line.bounding_box()
        assert note_box["y"] + note_box["height"] <= code_box["y"]  # stacked
    finally:
        context.close()


def sizes_said_from_the_second(page, t: int) -> None:
    """A widget's sizes (nanobook:input), T = t + 1 then T = t: the first are a widget's own
    first read, as it loads, shown but not said (a reader who scrolled near the attention
    widget, or handed it a model, heard " · for your input: B = 1, T = 11" from a listing
    they were not reading); the second are said (by each listing of the model: two here)."""
    page.evaluate(LISTEN_TO_LIVE_REGIONS)
    for size in (t + 1, t):
        page.evaluate(
            "t => document.dispatchEvent(new CustomEvent('nanobook:input', "
            "{detail: {model: 'sort', batch: 1, time: t}}))",
            size,
        )
        page.wait_for_timeout(100)
    heard = page.evaluate("window.heard.splice(0)")
    said = [words for live, _, _, words in heard if live != "off"]
    assert said and set(said) == {f" · for your input: B = 1, T = {t}"}, heard


@pytest.mark.browser
@pytest.mark.skipif(not shutil.which("chromium"), reason="needs chromium")
@pytest.mark.sphinx("html", testroot="annotated-source", freshenv=True, confoverrides=SHARED_CACHE)
@pytest.mark.test_params(**HTML_BUILD)
def test_in_a_browser_shapes_show_as_symbols_and_follow_a_live_input(app, shared_captures, browser):
    app.build()
    result = shapes.cached_capture(MODEL, "sort", "as_presets", FIXTURE, shared_captures)
    time = result["second_size"]
    masked = line_of(MODEL, "att = att.masked_fill")
    formula = dict(result["lines"][str(masked)]["formulas"])["att"]
    second = dict(time[str(masked)]["values"])["att"]
    context = browser.new_context()  # the session's browser: see the test above
    try:
        page = context.new_page()
        errors = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto((app.outdir / "attention.html").as_uri())
        block = page.locator("div.annotated-source").first
        text = block.locator(f"#{block.get_attribute('id')}-L{masked} .as-shape-text")
        captured = text.inner_text()
        toggle = block.get_by_role("button", name="as B×T×C")
        toggle.focus()
        page.keyboard.press("Enter")
        assert toggle.get_attribute("aria-pressed") == "true"
        assert text.inner_text() == f"att: {formula}" == "att: B×nh×T×T"
        # the line that defines the symbols keeps their values, never "B: B, T: T"
        sizes = block.locator(
            f"#{block.get_attribute('id')}-L{line_of(MODEL, 'B, T, C = x.size()')} .as-shape-text"
        )
        assert re.fullmatch(r"B: \d+, T: \d+, C: \d+", sizes.inner_text()), sizes.inner_text()
        page.keyboard.press("Enter")
        assert text.inner_text() == captured
        t = int(second.split("×")[-1])
        sizes_said_from_the_second(page, t)
        assert text.inner_text() == f"att: {second}" != captured  # PyTorch's, at T = t
        assert f"T = {t}" in block.locator(".as-live").first.inner_text()
        # every shape with a formula now shows the second-size capture
        compared = 0
        for line, entry in result["lines"].items():
            shown = block.locator(f"#{block.get_attribute('id')}-L{line} .as-shape-text")
            if shown.count() and all(f for _, f in entry["formulas"]):
                assert shown.inner_text() == shapes_line({"values": time[line]["values"]})
                compared += 1
        assert compared >= 5
        # a widget's chosen query: its scores, masked row and weights under their lines
        rows = {
            "scores": [0.5, -1.25, 2],
            "masked": [0.5, -1.25, None],
            "softmax": [0.25, 0.75, 0],
        }
        page.evaluate(
            """rows => document.dispatchEvent(new CustomEvent('nanobook:select', {detail: {
                model: 'sort', layer: 1, head: 2, query: 1, token: 'B',
                rows: {...rows,
                       masked: rows.masked.map(v => v === null ? -Infinity : v)}}}))""",
            rows,
        )
        lines = {
            "scores": line_of(MODEL, "att = (q @ k"),
            "masked": masked,
            "softmax": line_of(MODEL, "att = F.softmax(att"),
        }
        shown = {
            key: block.locator(f"#{block.get_attribute('id')}-L{n} .as-value").inner_text()
            for key, n in lines.items()
        }
        assert shown["scores"].endswith("query 1 (“B”), layer 1 head 2: [0.50, −1.25, 2.00]")
        assert shown["masked"].endswith("[0.50, −1.25, −∞]")
        assert shown["softmax"].startswith("weights") and shown["softmax"].endswith(
            "[0.25, 0.75, 0.00]"
        )
        assert errors == []
    finally:
        context.close()


@pytest.mark.sphinx(
    "html", testroot="annotated-source-drift", freshenv=True, confoverrides=DRIFT_OVERRIDES
)
def test_a_warm_rebuild_says_every_warning_again(make_app, app_params):
    """Warnings said while a page is read are said again by builds that do not re-read
    it, so `-W` fails a warm build as it fails a cold one."""
    args, kwargs = app_params
    located = re.compile(r"index\.rst:\d+: WARNING: .*")
    builds = []
    for fresh in (True, False):
        app = make_app(*args, **{**kwargs, "freshenv": fresh, "warning": io.StringIO()})
        app.build()
        log = strip_colors(app._warning.getvalue())
        builds.append(sorted(located.findall(log)))
    cold, warm = builds
    assert cold and warm == cold
    assert "0 added, 0 changed" in strip_colors(app._status.getvalue())  # nothing re-read
    strict = make_app(*args, **{**kwargs, "freshenv": False, "warningiserror": True})
    strict.build()
    assert strict.statuscode == 1  # -W fails the warm build as it fails a cold one


def test_model_code_that_exits_is_a_capture_error_not_the_end_of_the_build(tmp_path):
    quits = tmp_path / "quits.py"
    quits.write_text("import sys\n\nsys.exit(0)\n")
    result = shapes.cached_capture(quits, "sort", "model_src.presets", tmp_path, tmp_path / "c")
    assert result["lines"] == {}
    assert any("SystemExit" in error for error in result["errors"]), result["errors"]


def test_sources_are_decoded_as_python_decodes_them(tmp_path):
    latin = tmp_path / "latin.py"
    latin.write_bytes(b'# -*- coding: latin-1 -*-\nNAME = "caf\xe9"\n')
    _, lines = parse_file(latin)
    assert lines[1] == 'NAME = "café"'
    image = tmp_path / "image.png"
    image.write_bytes(bytes(range(256)))
    with pytest.raises(Problem, match=r"image\.png is not Python source text") as error:
        parse_file(image)
    assert "coding line" in error.value.hint


@pytest.mark.sphinx(
    "html", testroot="annotated-source-drift", freshenv=True, confoverrides=DRIFT_OVERRIDES
)
def test_a_block_that_cannot_be_shown_leaves_a_placeholder(app):
    app.build()
    page = soup(app, "index.html")
    placeholders = [p.text for p in page.select("p.annotated-source-placeholder")]
    assert any(
        "could not be shown" in text and "CausalSelfAttention.backward" in text
        for text in placeholders
    ), placeholders


def test_a_capture_that_runs_too_long_is_stopped_and_not_cached(tmp_path):
    slow = tmp_path / "slow.py"
    slow.write_text("import time\n\ntime.sleep(600)\n")
    cache = tmp_path / "cache"
    result = shapes.cached_capture(slow, "sort", "model_src.presets", tmp_path, cache, timeout=1)
    assert result["errors"] == ["the model code ran longer than 1 s and was stopped"]
    assert not list(cache.glob("*/capture.json"))  # a timeout says nothing about the code


def test_a_capture_whose_model_ends_its_process_or_forks_is_an_error_not_the_build(tmp_path):
    model = MODEL.read_text()
    activation = "        x = self.gelu(x)\n"
    assert activation in model
    results = {}
    for name, line in [("exits", "os._exit(0)"), ("forks", "os.fork() or time.sleep(0.5)")]:
        path = tmp_path / f"{name}.py"
        path.write_text("import os, time\n" + model.replace(activation, f"        {line}\n"))
        results[name] = shapes.cached_capture(path, "sort", "as_presets", FIXTURE, tmp_path / "c")
    assert results["exits"]["errors"] == [
        "the capture stopped: the process running it exited with code 0 "
        "(sys.exit or os._exit) before it returned"
    ]
    assert results["forks"]["errors"] == [
        "the capture stopped: the code called fork(): its copies were stopped"
    ]
    assert not list((tmp_path / "c").glob("*/capture.json"))


def test_a_page_is_read_again_when_the_lines_it_shows_change_not_for_a_comment_elsewhere(
    make_app, tmp_path, shared_captures
):
    """Issue 30's warm builds: a comment edit of a shown file re-reads only the pages
    whose shown lines changed; a code edit anywhere re-reads every page showing the file
    (its shapes come from running all of it)."""
    srcdir = tmp_path / "book"
    shutil.copytree(FIXTURE, srcdir)
    model = srcdir / "model_src" / "model.py"

    def pages_read_again() -> int:
        app = make_app(
            "html",
            srcdir=srcdir,
            confoverrides={"nanobook_cache_dir": str(shared_captures.parent)},
            status=io.StringIO(),
            warning=io.StringIO(),
        )
        app.build()
        status = strip_colors(app._status.getvalue())
        return int(re.search(r"(\d+) changed", status).group(1))

    pages_read_again()  # a cold build
    model.write_text(model.read_text() + "\n# a comment after every shown object\n")
    assert pages_read_again() == 0
    # a comment inside CausalSelfAttention.forward, on its line: attention.md shows it
    model.write_text(model.read_text().replace("# batch, time, channels", "# B, T, C"))
    assert pages_read_again() == 1
    assert "# B, T, C" in (srcdir / "_build" / "html" / "attention.html").read_text()
    model.write_text(model.read_text().replace("1e-5", "1e-6"))  # LayerNorm: shown nowhere
    assert pages_read_again() == 2
