"""live-training with :run: rl (issue 47) in a tiny Sphinx project: what the build hands
the page (controls with rl_runs.py's values, rl.py's checkers and methods as choices, the
directive's bounds), the static rendering (the settings it starts from, where the
chapter's recorded run ended), located
warnings; and in Debian's chromium, a reader's run pressed, paused, stepped and finished,
its log table, its start measured as rl_runs measures it, its layout at 390 px."""

from __future__ import annotations

import html
import itertools
import re

import pytest
from sphinx.util.console import strip_colors
from test_live_training_widget import (
    button,
    controls_of,
    keep_records,
    notices_with_and_without_javascript,
    said_during_a_two_step_run,
    stopped_by_a_runaway_rate,
    trains_again_to_the_end,
    widgets,
)

from ext.live_models import compute, rl_training
from ext.live_models.kinds.replay import rl_replay_summary
from ext.live_models.kinds.training import TrainingSpec
from ext.live_models.training_bounds import RL_NUMBERS
from model_src import rl
from model_src.experiments import rl_runs

PRESET = "sort"


def chapter_values() -> dict:
    """The chapter's run, as rl_runs.py sets it."""
    return {
        "method": next(iter(rl_training.methods())),
        "reward": next(iter(rl.REWARDS)),
        "group": rl_runs.GROUP,
        "learning-rate": rl_runs.LEARNING_RATE,
        "steps": rl_runs.STEPS,
        "seed": rl_runs.SEEDS[0],
    }


@pytest.mark.sphinx("html", testroot="live-rl", freshenv=True)
def test_the_page_gets_rl_runs_settings_and_the_recorded_run(app, warning):
    app.build()
    warnings = strip_colors(warning.getvalue())
    assert "index.rst" not in warnings and "myst.md" not in warnings, warnings
    index = app.outdir / "index.html"
    (widget,) = widgets(index)
    assert widget["data-nanobook-model"] == "sort-rl-training"
    assert re.fullmatch(r"_live/sort-rl-training-[0-9a-f]{16}\.js", widget["data-nanobook-src"])
    options = widget["data-live"]
    assert options["kind"] == "rl-training"
    assert (app.outdir / options["trainer"]).is_file()
    controls = controls_of(widget)
    assert list(controls) == [name for name, *_ in rl_training.CONTROLS]
    assert {name: c["value"] for name, c in controls.items()} == chapter_values()
    assert [c[0] for c in controls["reward"]["choices"]] == list(rl.REWARDS)
    assert [c[0] for c in controls["method"]["choices"]] == ["REINFORCE", "GRPO"]
    for name, number in RL_NUMBERS.items():
        assert (controls[name]["min"], controls[name]["max"]) == (number.low, number.high)
    assert options["about"] == {
        "prompts": rl_runs.PROMPTS,
        "eval_every": rl_runs.REPLAY_EVERY,
        "start_iters": rl_runs.START_ITERS,
        "k": rl_runs.K,
    }
    # the MyST page also has a sampling widget to hand the reader's model to
    (myst,) = [
        w for w in widgets(app.outdir / "myst.html") if w["data-live"]["kind"] == "rl-training"
    ]
    chosen = {name: c["value"] for name, c in controls_of(myst).items()}
    assert chosen == {
        "method": "GRPO",
        "reward": "order",
        "group": 4,
        "learning-rate": 3e-3,
        "steps": 30,
        "seed": 11,
    }
    # the trainer loads when the reader presses Train; the RL widget's script after the
    # training widget's, whose parts it uses
    page = index.read_text("utf-8")
    scripts = re.findall(r'<script defer="defer" src="_static/(nanobook_\w+\.js)', page)
    assert "nanobook_train.js" not in scripts and "nanobook_training_run.js" not in scripts
    assert scripts.index("nanobook_training.js") < scripts.index("nanobook_training_rl.js")
    # the static rendering: the settings the page starts from, and where the chapter's
    # recorded REINFORCE run ended (its record itself is the RL replay's)
    last = rl_replay_summary(PRESET)["rows"][-1]
    words = html.unescape(" ".join(re.sub(r"<[^>]+>", " ", page).split()))
    assert f"after {last['step']} steps at held-out pass@1 {last['pass1']:.1%}" in words
    assert f"Group size (answers a prompt) {rl_runs.GROUP}" in words
    myst = (app.outdir / "myst.html").read_text("utf-8")
    myst_words = html.unescape(" ".join(re.sub(r"<[^>]+>", " ", myst).split()))
    assert "Method GRPO (÷ the group's spread)" in myst_words and "Seed 11" in myst_words


EXPECTED_WARNINGS = {  # line of errors.rst -> what it says, and the hint
    4: ("there is no RL run of the char model", "live-training sort"),
    7: (":method: 'PPO' is not one of rl_runs.py's", "REINFORCE, GRPO"),
    11: (":reward: 'length' is not one of rl_runs.py's", "sort, order"),
    15: (":group: '1' is not a whole number from 2 to 32", ":group: 8"),
    19: (":steps: '900' is not a whole number from 1 to 500", ":steps: 100"),
    23: (":clip: is not a setting of the rl run", ":group:"),
    27: (":run: 'rlhf' is not a run", "training, rl"),
}


@pytest.mark.sphinx("html", testroot="live-rl", freshenv=True)
def test_every_bad_value_is_a_located_warning_with_a_hint(app, warning):
    app.build()
    said = strip_colors(warning.getvalue())
    for line, (message, hint) in EXPECTED_WARNINGS.items():
        found = re.search(
            rf"errors\.rst:{line}: WARNING: live-training \w+: (.*)\n\s+hint: (.*)", said
        )
        assert found, (line, said)
        assert message in found[1] and hint in found[2], (line, found[0])
    page = (app.outdir / "errors.html").read_text("utf-8")
    assert page.count("not available") == len(EXPECTED_WARNINGS)


@pytest.mark.sphinx("text", testroot="live-rl", freshenv=True)
def test_without_html_the_starting_settings_are_a_table(app):
    app.build()
    text = (app.outdir / "index.txt").read_text("utf-8")
    assert "needs JavaScript" in text and "pass@1" in text and "Learning rate" in text
    assert not list(app.outdir.glob("_live/*"))


def test_the_recorded_runs_summary_is_keyed_on_rl_training_code(monkeypatch):
    """compute.py does not import rl_training.py, which makes the summary: an edit to
    it (or to what it imports) must key the stored summary anew."""
    monkeypatch.setattr(compute, "rl_replay_key", lambda preset: "the recorded run")
    spec = TrainingSpec(uid="index#0", docname="index", lineno=1, preset=PRESET, run="rl")
    before = compute.result_entry(spec)
    code = compute.producer_code

    def edited(file: str) -> list[str]:
        return [*code(file), "edited"] if file == rl_training.__file__ else code(file)

    monkeypatch.setattr(compute, "producer_code", edited)
    assert compute.result_entry(spec) != before


# --- in chromium -----------------------------------------------------------------------


@pytest.fixture
def opened(open_test_root_page):
    """Opens a page of the built tiny project from disk, its records kept; fails on any
    script error."""

    def open_(name: str, **options):
        page = open_test_root_page(name, **options)
        keep_records(page)
        return page

    return open_


def status_starts(page, text: str, timeout: int = 300_000) -> None:
    page.wait_for_function(
        "(text) => document.querySelector('.nb-live-training .nb-live-status')"
        ".textContent.startsWith(text)",
        arg=text,
        timeout=timeout,
    )


@pytest.mark.browser
@pytest.mark.sphinx("html", testroot="live-rl", freshenv=True)
def test_a_readers_rl_run_paused_stepped_and_finished(opened):
    """The MyST page's run (GRPO, the gameable reward, group 4, 30 steps): nothing of the
    trainer before Train; a record for the start and every step, the held-out ones every
    REPLAY_EVERY steps, the log's rows the records; the start's pass@1 rl_runs'."""
    page = opened("myst")
    widget = page.locator(".nb-live-training")
    page.wait_for_timeout(500)
    trainer = (
        "nanobook_train.js",
        "nanobook_train_worker.js",
        "nanobook_training_run.js",
        "_live/sort-rl-training-",
    )
    assert not [u for u in page.requests if any(name in u for name in trainer)]
    listen_to_the_news(widget)
    button(widget, "Train").click()
    rows = widget.locator("table.nb-training-log tbody tr")
    rows.nth(6).wait_for(timeout=300_000)
    # while it runs, the progress line says about how long the run has left
    progress = widget.locator(".nb-training-progress")
    assert re.match(r"Step \d+ of 30 \(about \d+ (s|min) left\) · ", progress.inner_text())
    button(widget, "Pause").click()
    status_starts(page, "Paused")
    assert " left)" not in progress.inner_text()
    page.wait_for_timeout(500)  # from disk, the step under way may be heard just after
    before = page.evaluate("window.records.length")
    button(widget, "Step").click()
    page.wait_for_function(f"window.records.length > {before}", timeout=60_000)
    assert page.evaluate("window.records.length") == before + 1
    button(widget, "Resume").click()
    status_starts(page, "Done")
    records = page.evaluate("window.records")
    assert [r["iter"] for r in records] == list(range(31))
    evaluated = [r["iter"] for r in records if "pass1" in r]
    assert evaluated == list(range(0, 31, rl_runs.REPLAY_EVERY))
    assert all(0 <= r["sorted"] <= r["reward"] <= 1 for r in records[1:])  # sorted is ordered
    start = rl_runs.exact_pass(rl_runs.start_model(), *rl_runs.held_out())
    assert records[0]["pass1"] == pytest.approx(start["pass@1"], rel=1e-5)
    texts = rows.all_inner_texts()
    assert len(texts) == 31 and texts[0].startswith("0\t–\t–\t")
    assert texts[5].split("\t")[0] == "5" and texts[5].split("\t")[3].endswith("%")
    # the method and the reward as their menus name them, not by rl.py's keys
    labels = dict(rl_training.LABELS)
    done = f"Done: 30 steps of {labels['GRPO']} with the reward “{labels['order']}”; "
    assert widget.locator(".nb-live-status").inner_text().startswith(done)
    # the evaluations said, from the start on, in order, never two within the news gap:
    # one a second, each said, was a queue that the screen reader read long after the run
    heard = page.evaluate("window.news")
    said = [text for _, text in heard]
    evaluations = ["At the start", *(f"At step {n} of 30" for n in evaluated[1:-1])]
    assert said[0].startswith("At the start:")
    whens = [evaluations.index(text.split(":")[0]) for text in said]
    assert whens == sorted(set(whens))  # none twice, none out of order
    gap = page.evaluate("nanobook.widgets.trainingParts.NEWS_GAP")
    times = [time for time, _ in heard]
    assert all(b - a >= gap - 50 for a, b in itertools.pairwise(times)), heard
    start = page.evaluate("(p) => nanobook.widgets.percentOneDecimal(p)", records[0]["pass1"])
    assert f"pass@1 {start}," in said[0]
    # the gameable reward: the mean reward and the share that sorts are two lines, and
    # pass@1's dots are in its legend's swatch
    assert legend_of(widget) == [
        ["nb-rl-swatch-pass1", "held-out exact pass@1 (a dot at each evaluation)"],
        ["nb-rl-swatch-passk", f"held-out exact pass@{rl_runs.K}"],
        ["nb-rl-swatch-reward", "mean reward"],
        ["nb-rl-swatch-sorted", "answers that sort (sampled)"],
        ["nb-training-swatch-book", "the book's REINFORCE run (exact pass@1)"],
    ]
    dot = widget.locator(".nb-rl-swatch-pass1").evaluate(
        "s => getComputedStyle(s, '::after').backgroundColor"
    )
    drawn = widget.locator("circle.nb-training-val").first.evaluate("c => getComputedStyle(c).fill")
    assert dot == drawn
    assert widget.locator("polyline.nb-rl-sorted").count() == 1
    handed_to_sampling(page, widget, steps=30)


def listen_to_the_news(widget) -> None:
    """Keeps in window.news each text of the widget's line that screen readers hear, with
    when (performance.now(), in ms)."""
    widget.evaluate(
        """(root) => {
             window.news = [];
             const news = root.querySelector('p.nb-live-sr[aria-live=polite]');
             new MutationObserver(
               () => window.news.push([performance.now(), news.textContent]))
               .observe(news, { childList: true, characterData: true, subtree: true });
           }"""
    )


def legend_of(widget) -> list[list[str]]:
    """The chart's legend: each entry's swatch (its own class) and words."""
    return widget.locator(".nb-training-legend li").evaluate_all(
        """items => items.map((li) => [
             [...li.querySelector('.nb-training-swatch').classList]
               .filter((c) => c !== 'nb-training-swatch').join(' '),
             li.textContent])"""
    )


def handed_to_sampling(page, widget, steps: int) -> None:
    """The RL-trained model, handed over, samples in the page's sampling widget in the
    book's model's place, and its Model menu switches back."""
    button(widget, "Use my model in the sampling widget").click()
    sampling = page.locator(".nb-live-sampling")
    menu = sampling.locator("select[id$='-model']")
    menu.wait_for()
    assert menu.input_value() == "reader"
    assert menu.locator("option:checked").inner_text() == f"your RL model (step {steps})"
    button(sampling, "Step").click()
    sampling.locator(".nb-live-drawn").first.wait_for()
    assert (
        widget.locator(".nb-live-status")
        .inner_text()
        .startswith(f"Your RL model as it was after step {steps} is now in the sampling widget")
    )
    menu.select_option("book")
    assert sampling.locator(".nb-live-drawn").count() == 0  # started again with the book's


@pytest.mark.browser
@pytest.mark.sphinx("html", testroot="live-rl", freshenv=True)
def test_the_widget_fits_a_phone(opened):
    page = opened("index", viewport={"width": 390, "height": 800}, color_scheme="dark")
    widget = page.locator(".nb-live-training")
    button(widget, "Train").click()
    widget.locator("table.nb-training-log tbody tr").nth(1).wait_for(timeout=300_000)
    button(widget, "Pause").click()
    wide = page.evaluate(
        """() => {
             const root = document.querySelector('.nb-live-training');
             const edge = Math.min(root.getBoundingClientRect().right, window.innerWidth);
             return [...root.querySelectorAll('*')]
               .filter((e) => e.getBoundingClientRect().right > edge + 1
                              && !e.closest('.nb-training-log-box'))
               .map((e) => e.tagName + '.' + e.className);
           }"""
    )
    assert not wide, wide
    # the controls are reached by the keyboard: Tab goes from the method to the reward
    page.locator(".nb-live-training select").first.focus()
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.tagName") == "SELECT"


@pytest.mark.browser
@pytest.mark.sphinx("html", testroot="live-rl", freshenv=True)
def test_only_a_reader_without_javascript_is_told_it_is_needed(opened, app, browser):
    """Without JavaScript the widget says RL in the page needs it, and the settings it would
    start from; with it, the controls are there, neither the notice nor their table."""
    on, off = notices_with_and_without_javascript(app, browser, "index")
    notice = "Training the sort model by RL in the page needs JavaScript"
    assert notice not in on and "\nsetting\n" not in on and "Train" in on
    assert notice in off and "\nsetting\n" in off and "The book's run ended after" in off


@pytest.mark.browser
@pytest.mark.sphinx("html", testroot="live-rl", freshenv=True)
def test_train_says_what_it_loads_and_is_train_again_only_after_a_run(opened):
    """While the first run loads, the status says so in the reader's words (not the
    export's name) and the button still reads Train; Train again once the run is done."""
    page = opened("index")
    widget = page.locator(".nb-live-training")
    statuses, again = said_during_a_two_step_run(page, widget)
    loads = [s for s in statuses if s.startswith("Loading")]
    assert loads and all(s == "Loading the trainer and the chapter's start model…" for s in loads)
    assert not [s for s in statuses if "rl-training" in s]
    assert again and all(s.startswith("Done") for s in again), again
    # the exact-sort reward pays the answers that sort: one line, which the legend says
    assert rl.REWARDS[chapter_values()["reward"]] is rl.sort_reward
    entries = [swatch for swatch, _ in legend_of(widget)]
    assert "nb-rl-swatch-sorted" not in entries and "nb-rl-swatch-reward" in entries
    reward = dict(legend_of(widget))["nb-rl-swatch-reward"]
    assert reward.startswith("mean reward, the same line as the answers that sort")
    assert widget.locator("polyline.nb-rl-sorted").count() == 0
    assert widget.locator("polyline.nb-rl-reward").count() == 1


@pytest.mark.browser
@pytest.mark.sphinx("html", testroot="live-rl", freshenv=True)
def test_a_run_whose_loss_is_no_number_stops_and_says_what_to_do(opened):
    """A loss that is NaN (a learning rate past the build's bound) stops the RL run at that
    step, in words with what to do; the rate lowered, Train again runs to the end."""
    page = opened("index")
    widget = page.locator(".nb-live-training")
    stopped_by_a_runaway_rate(page, widget, "RL")
    trains_again_to_the_end(page, widget, chapter_values()["learning-rate"])


@pytest.mark.browser
@pytest.mark.sphinx("html", testroot="live-rl", freshenv=True)
def test_a_start_model_that_gives_no_number_stops_before_the_first_step(opened):
    """A start model whose held-out pass@1 is not a number (its weights spoiled in the page,
    as a damaged download would) stops the run at the start, says so and to reload, and
    takes no step; Train again is still there to press."""
    page = opened("index")
    widget = page.locator(".nb-live-training")
    page.evaluate(
        """async () => {
             const name = document.querySelector('.nb-live-training').dataset.nanobookModel;
             Object.values((await nanobook.model(name)).w)[0].fill(NaN);
           }"""
    )
    button(widget, "Train").click()
    status_starts(page, "RL stopped at the start: ", timeout=120_000)
    said = widget.locator(".nb-live-status").inner_text()
    assert said == (
        "RL stopped at the start: its held-out pass@1 is not a number (NaN), and the run"
        " cannot go on from there. Reload the page and press Train again."
    )
    page.wait_for_timeout(1000)  # a run that went on would be heard by now
    assert page.evaluate("window.records") == []
    assert widget.locator("table.nb-training-log tbody tr").count() == 0
    assert button(widget, "Train again").is_enabled()
    for name in ("Pause", "Resume", "Step"):
        assert button(widget, name).is_disabled()
