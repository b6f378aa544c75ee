"""The memory calculator (issue 48): model_src/footprint.py's formulas against real tensors,
the traced formulas against the functions, the page a tiny Sphinx project gets, and in
Debian's chromium the reader's settings giving Python's figures."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pytest
from pages import live_widgets
from sphinx.util.console import strip_colors

from ext.live_models import formulas, memory_check, memory_widget
from model_src import footprint


def test_every_formula_equals_what_the_tensors_hold():
    assert memory_check.disagreements(memory_widget.traced()) == []


def test_the_traced_formulas_are_the_functions():
    trees = memory_widget.traced()
    for shape in memory_widget.shapes().values():
        args = [shape[name] for name in memory_widget.PARAMETER_INPUTS]
        n = footprint.parameters(*args)
        L, C, nh, kv = (shape[k] for k in ("n_layer", "n_embd", "n_head", "n_kv_head"))
        V, T, B, p = (shape[k] for k in ("vocab_size", "context", "batch", "precision"))
        assert formulas.evaluate(trees["parameters"], shape) == n
        activations = footprint.activation_bytes(L, C, nh, kv, V, B, T, p)
        assert formulas.evaluate(trees["activations"], shape) == activations
        assert formulas.evaluate(trees["kv_cache"], shape) == footprint.kv_cache_bytes(
            L, C, nh, kv, B, T, p
        )
        state = footprint.optimizer_bytes(
            "muon",
            n,
            footprint.block_matrices(L, C, nh, kv),
            footprint.tensors(L, shape["bias"]),
            L,
            p,
        )
        assert formulas.evaluate(trees["optimizer:muon"], shape) == state
        assert formulas.evaluate(trees["training:muon"], shape) == 2 * n * p + state + activations


def test_a_formula_cannot_branch_on_an_input():
    (x,) = formulas.symbols("x")
    with pytest.raises(TypeError, match="cannot branch"):
        bool(x + 1)  # what an `if` or a `max` on an input would ask
    assert formulas.evaluate(formulas.as_tree(7 // (x + 1) - x / 2), {"x": 3}) == 7 // 4 - 3 / 2


def calculators(page: Path) -> list[dict]:
    return live_widgets(page.read_text("utf-8"))


@pytest.mark.sphinx("html", testroot="memory-calculator", freshenv=True)
def test_the_page_gets_bounds_shapes_and_formulas(app, warning):
    app.build()
    said = strip_colors(warning.getvalue())
    assert "index.md" not in said, said
    (widget,) = calculators(app.outdir / "index.html")
    data = widget["data-live"]
    assert data["kind"] == "memory" and data["start"] == "char"
    bounds = {i["name"]: (i["min"], i["max"]) for i in data["inputs"]}
    assert bounds == {n: (b.low, b.high) for n, (_, b) in memory_widget.INPUTS.items()}
    assert data["formulas"] == json.loads(json.dumps(memory_widget.traced()))
    page = (app.outdir / "index.html").read_text("utf-8")
    assert "nanobook_memory.js" in page and "nb-live-static" in page


@pytest.mark.sphinx("html", testroot="memory-calculator", freshenv=True)
def test_a_bad_shape_or_option_is_a_located_warning(app, warning):
    app.build()
    said = strip_colors(warning.getvalue())
    assert re.search(r"errors\.md:3: WARNING: memory-calculator gpt3: unknown shape 'gpt3'", said)
    assert "one of sort, char, gpt2, d20" in said
    assert re.search(r"errors\.md:6: WARNING: memory-calculator sort: .*colour", said), said
    page = (app.outdir / "errors.html").read_text("utf-8")
    assert page.count("not available") == 2 and "data-live" not in page


# its own srcdir, so its own cache (<srcdir>/_build/nanobook-cache): the settings the
# other tests stored would not run the broken code
@pytest.mark.sphinx(
    "html", testroot="memory-calculator", srcdir="memory-calculator-broken", freshenv=True
)
def test_failing_model_code_is_a_located_warning_not_a_traceback(app, warning, monkeypatch):
    def broken():
        raise ZeroDivisionError("a formula divides by zero")

    monkeypatch.setattr(memory_widget, "traced", broken)
    app.build()
    said = strip_colors(warning.getvalue())
    assert re.search(r"index\.md:7: WARNING: memory-calculator: .*ZeroDivisionError", said), said
    assert "tests/test_memory_calculator.py runs the same code" in said
    page = (app.outdir / "index.html").read_text("utf-8")
    assert "not available" in page and "data-live" not in page


DISAGREEMENT = (
    "parameters of the char model (fp32, 4 k/v heads): the formula gives 1, the tensors 2"
)


@pytest.mark.sphinx("html", testroot="memory-calculator", srcdir="memory-calculator-disagrees")
def test_a_warm_build_says_a_disagreement_again(make_app, app_params, monkeypatch):
    """A disagreement is never stored: a build that reads no page says it again, so a warm
    `-W` build fails like a cold one."""
    monkeypatch.setattr(memory_check, "disagreements", lambda trees: [DISAGREEMENT])
    args, kwargs = app_params
    for fresh in (True, False):
        app = make_app(*args, **{**kwargs, "freshenv": fresh, "warning": io.StringIO()})
        app.build()
        said = strip_colors(app._warning.getvalue())
        assert f"index.md:7: WARNING: memory-calculator: {DISAGREEMENT}" in said, said
        assert "hint: a formula in model_src/footprint.py is off" in said
    assert "0 added, 0 changed" in strip_colors(app._status.getvalue())  # nothing re-read
    assert "data-live" in (app.outdir / "index.html").read_text("utf-8")  # shown all the same
    strict = make_app(*args, **{**kwargs, "freshenv": False, "warningiserror": True})
    strict.build()
    assert strict.statuscode == 1


@pytest.mark.sphinx("html", testroot="memory-calculator", srcdir="memory-calculator-stored")
def test_settings_without_disagreements_are_made_once(make_app, app_params, monkeypatch):
    """The store keeps them: a build that reads every page again takes them from it."""
    checks = []
    monkeypatch.setattr(memory_check, "disagreements", lambda trees: checks.append(trees) or [])
    args, kwargs = app_params
    pages = []
    for _ in range(2):
        app = make_app(*args, **{**kwargs, "freshenv": True, "warning": io.StringIO()})
        app.build()
        assert "index.md" not in strip_colors(app._warning.getvalue())
        pages.append((app.outdir / "index.html").read_text("utf-8"))
    assert len(checks) == 1
    assert pages[0] == pages[1] and "data-live" in pages[1]


def test_the_calculator_follows_all_the_code_it_runs():
    root = Path(memory_widget.__file__).resolve().parents[2]
    files = {str(f.relative_to(root)) for f in memory_widget.code_files(root)}
    expected = {"ext/live_models/memory_widget.py", "ext/live_models/memory_check.py"}
    expected |= {f"model_src/{n}.py" for n in ("footprint", "memory", "presets", "train")}
    expected |= {"model_src/prepare.py", "model_src/config/char.py", "model_src/config/sort.py"}
    assert expected <= files, expected - files


@pytest.mark.sphinx("text", testroot="memory-calculator", freshenv=True)
def test_without_html_every_shape_is_a_table(app):
    app.build()
    text = (app.outdir / "index.txt").read_text("utf-8")
    char = memory_widget.shapes()["char"]
    params = memory_widget.shown(
        footprint.parameters(*(char[n] for n in memory_widget.PARAMETER_INPUTS)), "count"
    )
    assert "nanochat d20" in text and "KV cache" in text and params in text


# Figures on either side of a step or a rounding: (value, unit, as the page writes it)
BOUNDARIES = [
    (1023.7 * 2**20, "bytes", "1,020 MiB"),
    (8192, "bytes", "8 KiB"),
    (8191, "bytes", "8 KiB"),
    (5.432 * 2**30, "bytes", "5.43 GiB"),
    (1023, "bytes", "1,023 B"),
    (999.7, "count", "1,000"),
    (12.345, "count", "12.3"),
    (0.125, "seconds", "0.125 s"),
    (1.125, "seconds", "1.13 s"),  # a tie, away from zero as Intl.NumberFormat rounds
    (5432, "count", "5,432"),
    (5432.5, "count", "5,430"),
]


def test_figures_are_written_to_three_significant_digits():
    assert [memory_widget.shown(v, u) for v, u, _ in BOUNDARIES] == [t for *_, t in BOUNDARIES]


# --- in chromium -----------------------------------------------------------------------


def expected(values: dict, optimizer: str) -> dict[str, str]:
    """Each output as Python computes and writes it."""
    trees = memory_widget.traced()
    figures = {}
    for name, (_, unit) in memory_widget.OUTPUTS.items():
        key = f"{name}:{optimizer}" if name in memory_widget.PER_OPTIMIZER else name
        figures[name] = memory_widget.shown(formulas.evaluate(trees[key], values), unit)
    return figures


def shown_on(page) -> dict[str, str]:
    cells = page.locator(".nb-memory-table td[data-output]")
    return {
        cells.nth(i).get_attribute("data-output"): cells.nth(i).inner_text()
        for i in range(cells.count())
    }


@pytest.mark.browser
@pytest.mark.sphinx("html", testroot="memory-calculator", freshenv=True)
def test_the_readers_settings_give_pythons_figures(open_test_root_page):
    page = open_test_root_page()
    widget = page.locator(".nb-live-memory")
    widget.locator(".nb-memory-table").wait_for()
    char = memory_widget.shapes()["char"]
    assert shown_on(page) == expected(char, "adamw")
    # the keyboard: from char to GPT-2 small in the shapes' list
    start = widget.get_by_label("start from")
    start.focus()
    page.keyboard.press("ArrowDown")
    gpt2 = memory_widget.shapes()["gpt2"]
    assert shown_on(page) == expected(gpt2, "adamw")
    settings = {
        "layers": 24,
        "width C": 2048,
        "heads": 16,
        "k/v heads": 4,
        "context T": 4096,
        "batch B": 8,
        "training tokens": 10**10,
        "throughput, TFLOP/s": 100,
    }
    for label, value in settings.items():
        widget.get_by_label(label, exact=True).fill(str(value))
    widget.get_by_label("precision").select_option("bf16")
    widget.get_by_label("optimizer").select_option("muon")
    widget.get_by_label("biases").uncheck()
    names = {label: n for n, (label, _) in memory_widget.INPUTS.items()}
    values = {
        **gpt2,
        **{names[label]: v for label, v in settings.items()},
        "bias": 0,
        "precision": footprint.PRECISIONS["bf16"],
    }
    assert shown_on(page) == expected(values, "muon")
    status = widget.locator(".nb-live-status").inner_text()
    assert expected(values, "muon")["training"] in status


@pytest.mark.browser
@pytest.mark.sphinx("html", testroot="memory-calculator", freshenv=True)
def test_the_page_writes_a_figure_as_python_does(app, open_test_root_page):
    page = open_test_root_page()
    (widget,) = calculators(app.outdir / "index.html")
    written = page.evaluate(
        "([figures, options]) => figures.map(([v, u]) => nanobook.memory.shown(v, u, options))",
        [[[v, u] for v, u, _ in BOUNDARIES], widget["data-live"]],
    )
    assert written == [memory_widget.shown(v, u) for v, u, _ in BOUNDARIES]


@pytest.mark.browser
@pytest.mark.sphinx("html", testroot="memory-calculator", freshenv=True)
def test_bad_settings_are_said_and_marked(open_test_root_page):
    page = open_test_root_page()
    widget = page.locator(".nb-live-memory")
    widget.get_by_label("heads", exact=True).fill("5")  # 96 channels do not split into 5
    assert "must divide" in widget.locator(".nb-live-status").inner_text()
    assert set(shown_on(page).values()) == {"—"}
    widget.get_by_label("layers").fill("0")
    assert widget.get_by_label("layers").get_attribute("aria-invalid") == "true"
    assert "from 1 to 256" in widget.locator(".nb-live-status").inner_text()


@pytest.mark.browser
@pytest.mark.sphinx("html", testroot="memory-calculator", freshenv=True)
def test_a_number_typed_is_said_once_the_reader_pauses(open_test_root_page):
    """Each keystroke shows its figures at once; a screen reader hears the status line
    only once the reader pauses (not a result for "32" on the way to "325"), and a choice
    from a menu at once."""
    page = open_test_root_page()
    # The page's clock moves only when the test moves it: the reader's pauses are the
    # ones typed here, never a busy machine's slow round trips between the steps below.
    page.clock.install(time=0)
    page.clock.pause_at(60_000)
    widget = page.locator(".nb-live-memory")
    status = widget.locator(".nb-live-status")
    layers = widget.get_by_label("layers", exact=True)
    layers.fill("3")
    page.clock.run_for(700)
    status.evaluate(  # each change of the status line, and whether it was live then
        """(s) => { window.heard = [];
                    new MutationObserver(() => window.heard.push([s.ariaLive, s.textContent]))
                      .observe(s, { childList: true, characterData: true, subtree: true }); }"""
    )
    layers.press("2")
    page.clock.run_for(150)  # a keystroke 150 ms after the last: still typing
    layers.press("5")
    assert "from 1 to 256" in status.inner_text()  # shown at once
    assert set(shown_on(page).values()) == {"—"}
    heard = page.evaluate("window.heard.splice(0)")
    assert heard and {live for live, _ in heard} == {"off"}  # typed, not said
    page.clock.run_for(700)
    heard = page.evaluate("window.heard.splice(0)")
    assert heard == [["polite", status.inner_text()]]  # said once, after the pause
    widget.get_by_label("optimizer").select_option("muon")
    layers.fill("12")
    widget.get_by_label("optimizer").select_option("adamw")  # a choice: said at once
    assert page.evaluate("window.heard.splice(0)")[-1] == ["polite", status.inner_text()]


@pytest.mark.browser
@pytest.mark.sphinx("html", testroot="memory-calculator", freshenv=True)
def test_the_calculator_fits_a_phone_in_the_dark(open_test_root_page):
    page = open_test_root_page(
        viewport={"width": 390, "height": 844}, color_scheme="dark", reduced_motion="reduce"
    )
    page.evaluate("document.documentElement.dataset.theme = 'dark'")
    page.locator(".nb-memory-table").wait_for()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    ink = page.locator(".nb-live-memory").evaluate("e => getComputedStyle(e).borderLeftColor")
    assert ink == "rgb(244, 162, 97)"  # the dark theme's accent


@pytest.mark.browser
def test_the_scale_chapters_calculator_gives_pythons_figures(book_html, browser):
    context = browser.new_context()
    page = context.new_page()
    problems = []
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.goto((book_html / "chapters" / "scale.html").as_uri())
    widget = page.locator(".nb-live-memory")
    widget.scroll_into_view_if_needed()
    widget.locator(".nb-memory-table").wait_for()
    assert shown_on(page) == expected(memory_widget.shapes()["char"], "adamw")
    assert not problems, problems
    context.close()
