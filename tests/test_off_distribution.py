"""Widgets say when the reader's input is outside what their model was trained on.

The limits come from the code that made the training data (ext/live_models/distribution.py
reads prepare.py's sort rows, arithmetic.py's batches and finetune.py's conversations);
the page gets them in each widget's data-live JSON, names them in the hint, and shows a
line under the reply when the input is outside them, while still running the model.
"""

from __future__ import annotations

import itertools
import re

import pytest
from pages import loaded_widget, widget_settings
from sphinx.util.console import strip_colors

from ext.live_models import distribution
from model_src import arithmetic, chat, finetune, prepare, shakespeare

NOTE = ".nb-live-offdist"


def _clear_limits() -> None:
    for made in (
        distribution.sort_limits,
        distribution.char_limits,
        distribution.calculator_limits,
        distribution._request_limits,
    ):
        made.cache_clear()


@pytest.fixture(autouse=True)
def fresh_limits():
    """Each test reads the task code as it is then (the limits are cached per process)."""
    _clear_limits()
    yield
    _clear_limits()


# --- the limits are the task code's ----------------------------------------------------------


def test_the_sort_limits_are_prepare_sort_rows():
    limits = distribution.sort_limits()
    assert limits["lengths"] == [prepare.SORT_LENGTH]
    assert limits["letters"] == list(prepare.SORT_LETTERS)
    every = itertools.combinations_with_replacement(prepare.SORT_LETTERS, prepare.SORT_LENGTH)
    assert limits["answers"] == {"".join(c): "".join(sorted(c)) for c in every}
    assert limits["about"] == (
        f"sorts of {prepare.SORT_LENGTH} letters from {', '.join(prepare.SORT_LETTERS)}"
    )


def test_the_limits_follow_the_code_that_makes_the_data(monkeypatch):
    """Change the data's constants and the limits change with them: nothing is retyped."""
    monkeypatch.setattr(prepare, "SORT_LENGTH", 4)
    monkeypatch.setattr(finetune, "HASH_LENGTH", 7)
    monkeypatch.setattr(arithmetic, "DIGITS", 2)
    assert distribution.sort_limits()["lengths"] == [4]
    assert distribution.chat_limits("mixture")["requests"]["#"]["lengths"] == [7]
    assert distribution.chat_limits("mixture")["requests"]["↑"]["lengths"] == [4]
    assert distribution.calculator_limits()["template"] == "00+00="


def test_the_calculator_limits_are_the_form_of_its_training_prompts():
    limits = distribution.calculator_limits()
    assert limits["template"] == arithmetic.prompt(0, 0)
    example = re.search(r"like (\S+) \(", limits["about"])[1]
    assert re.fullmatch(re.sub("0", "[0-9]", re.escape(limits["template"])), example)
    assert f"exactly {arithmetic.DIGITS} digits" in limits["about"]


def test_each_chat_run_is_limited_to_what_it_and_its_starts_were_fine_tuned_on():
    mixture = distribution.chat_limits("mixture")["requests"]
    assert mixture["↑"]["lengths"] == [prepare.SORT_LENGTH]
    assert mixture["#"]["lengths"] == [finetune.HASH_LENGTH]
    assert {tuple(r["letters"]) for r in mixture.values()} == {tuple(chat.LETTERS)}
    assert list(distribution.chat_limits("chat")["requests"]) == ["↑"]  # never asked #
    hashed = distribution.chat_limits("hash")
    assert set(hashed["requests"]) == {"#", "↑"}  # ↑ from the chat run it starts from
    assert "after ↑ requests of" in hashed["about"] and "in the chat run" in hashed["about"]


def test_the_char_model_is_named_by_its_plays():
    assert distribution.char_limits()["about"].startswith(f"{len(shakespeare.PLAYS)} of")


# --- the page ---------------------------------------------------------------------------------


@pytest.mark.sphinx("html", testroot="off-distribution", freshenv=True)
def test_every_free_input_widget_is_handed_the_task_codes_limits(app):
    app.build()
    options = widget_settings((app.outdir / "index.html").read_text(encoding="utf-8"))
    attention, sampling, char, chat_widget, tools = options
    for sort in (attention, sampling):
        assert sort["trained"]["lengths"] == [prepare.SORT_LENGTH]
        assert sort["trained"]["letters"] == list(prepare.SORT_LETTERS)
    assert char["trained"]["about"].startswith(str(len(shakespeare.PLAYS)))
    assert tools["trained"]["template"] == arithmetic.prompt(0, 0)
    (run,) = chat_widget["runs"]
    assert run["trained"]["requests"]["#"]["lengths"] == [finetune.HASH_LENGTH]
    assert run["trained"]["requests"]["↑"]["lengths"] == [prepare.SORT_LENGTH]


@pytest.mark.sphinx("html", testroot="off-distribution", freshenv=True)
def test_rows_that_contradict_the_reading_are_a_located_warning(app, warning, monkeypatch):
    def contradictory():
        raise ValueError("the sort rows answer ABC two ways")

    monkeypatch.setattr(distribution, "sort_limits", contradictory)
    app.build()  # not a traceback while the page is written
    said = strip_colors(warning.getvalue())
    for line, directive in ((4, "live-attention sort"), (6, "live-sampling sort")):
        assert re.search(rf"index\.rst:{line}: WARNING: {directive}: .*answer ABC two ways", said)
    assert said.count("fix the rows or the reading") == 4, said  # once per sort widget, of 2 pages
    options = widget_settings((app.outdir / "index.html").read_text(encoding="utf-8"))
    assert [o["kind"] for o in options] == ["attention", "chat", "tools"]  # the sort two: static


@pytest.fixture
def page(open_test_root_page):
    """The test root's page in chromium; no console error allowed."""
    return open_test_root_page(reduced_motion="reduce")


def note_of(widget):
    return widget.locator(NOTE)


def wait_note(widget, shown: bool):
    note = note_of(widget)
    note.wait_for(state="visible" if shown else "hidden", timeout=30_000)
    return note.inner_text() if shown else ""


def loaded(tab, kind: str, n: int = 0):
    return loaded_widget(tab.locator(f".nb-live-{kind}").nth(n))


def described_by_note(widget, field):
    note_id = note_of(widget).get_attribute("id")
    return note_id in (field.get_attribute("aria-describedby") or "").split()


@pytest.mark.browser
@pytest.mark.sphinx("html", testroot="off-distribution", freshenv=True)
def test_the_attention_widget_says_a_short_prompt_was_never_in_training(page):
    widget = loaded(page, "attention")
    field = widget.locator("input[type=text]")
    hint = widget.locator(".nb-live-hint").inner_text()
    assert hint.startswith(f"Trained on sorts of {prepare.SORT_LENGTH} letters from A, B, C.")
    assert wait_note(widget, False) == ""  # the book's CBACAB
    field.fill("AB")
    said = wait_note(widget, True)
    assert "sorts of 6 letters from A, B, C" in said and "this one has 2 letters" in said
    assert widget.locator(".nb-live-token").count() == 2  # still run
    assert described_by_note(widget, field)
    assert note_of(widget).get_attribute("role") == "status"
    field.fill("CBACABAA")  # the prompt, then the start of its sorted answer: trained on
    wait_note(widget, False)
    field.fill("CBACABCC")  # then letters training never showed after those six
    said = wait_note(widget, True)
    assert "always showed their answer “AABBCC”, never “CC”" in said
    field.fill("CBAXAB")  # unreadable: the status says so, the note says nothing
    wait_note(widget, False)


@pytest.mark.browser
@pytest.mark.sphinx("html", testroot="off-distribution", freshenv=True)
def test_a_note_that_follows_the_typing_is_said_once_the_reader_pauses(page):
    """Typing a prompt changes the note at each letter ("this one has 3 letters", then 4):
    it is shown at once, and a screen reader hears it once the reader pauses, not at each
    keystroke (kit.say, as the memory calculator's status line)."""
    widget = loaded(page, "attention")
    field, note = widget.locator("input[type=text]"), note_of(widget)
    # The page's clock moves only when the test moves it: the reader's pauses are the ones
    # made here, never a busy machine's slow round trips (the redraw waits for a frame).
    page.clock.install(time=0)
    page.clock.pause_at(60_000)
    field.fill("AB")
    page.clock.run_for(700)
    assert "this one has 2 letters" in note.inner_text()
    note.evaluate(  # each change of the note, and whether it was live then
        """(n) => { window.heard = [];
                    new MutationObserver(() => window.heard.push([n.ariaLive, n.textContent]))
                      .observe(n, { childList: true, characterData: true, subtree: true }); }"""
    )
    field.press("End")
    for letter in "CA":
        field.press(letter)
        page.clock.run_for(150)  # a keystroke 150 ms after the last: still typing
    assert "this one has 4 letters" in note.inner_text()  # shown at once
    heard = page.evaluate("window.heard.splice(0)")
    assert heard and {live for live, _ in heard} == {"off"}  # typed, not said
    page.clock.run_for(700)
    assert page.evaluate("window.heard.splice(0)") == [["polite", note.inner_text()]]


@pytest.mark.browser
@pytest.mark.sphinx("html", testroot="off-distribution", freshenv=True)
def test_the_sampling_widget_names_its_data_and_flags_a_long_prompt(page):
    widget = loaded(page, "sampling")
    assert widget.locator(".nb-live-hint").inner_text().startswith("Trained on sorts of 6")
    wait_note(widget, False)
    widget.locator("input[type=text]").fill("ABCABCA")  # the prompt and its answer's start
    wait_note(widget, False)
    widget.locator("input[type=text]").fill("ABCABCC")  # an answer that starts wrong
    assert "never “C”" in wait_note(widget, True)
    widget.locator("input[type=text]").fill("CCCAAA")
    wait_note(widget, False)


@pytest.mark.browser
@pytest.mark.sphinx("html", testroot="off-distribution", freshenv=True)
def test_the_char_model_has_no_limit_beyond_its_vocabulary(page):
    widget = loaded(page, "attention", 1)
    hint = widget.locator(".nb-live-hint").inner_text()
    assert hint.startswith(f"Trained on {len(shakespeare.PLAYS)} of Shakespeare's plays")
    widget.locator("input[type=text]").fill("To be")
    widget.locator(".nb-live-token").nth(4).wait_for()
    assert not note_of(widget).is_visible()


@pytest.mark.browser
@pytest.mark.sphinx("html", testroot="off-distribution", freshenv=True)
def test_the_chat_widget_says_three_letters_were_never_in_fine_tuning(page):
    widget = loaded(page, "chat")
    letters = widget.get_by_label("Letters")
    letters.fill("CBA")
    widget.get_by_role("button", name="Reply").click()
    said = wait_note(widget, True)
    assert "↑ requests of 6 letters and # requests of 11" in said
    assert "this one has 3 letters" in said
    rendered, _ = chat.render(chat.conversation("↑", "CBA"))
    assert widget.locator(".nb-chat-row").first.locator("li").count() == len(rendered)
    widget.locator(".nb-live-readout", has_text="replies").wait_for()  # still replied
    assert described_by_note(widget, letters)
    letters.fill("CBACAB")
    widget.get_by_role("button", name="Reply").click()
    wait_note(widget, False)
    hint = widget.locator(".nb-live-hint").inner_text()
    assert hint.startswith("Trained on ↑ requests of 6 letters and # requests of 11")


@pytest.mark.browser
@pytest.mark.sphinx("html", testroot="off-distribution", freshenv=True)
def test_the_calculator_says_four_digits_were_never_in_training(page):
    widget = loaded(page, "tools")
    assert "3 digits each" in widget.locator(".nb-live-hint").inner_text()
    prompt = widget.get_by_label("Sum for the calculator model")
    for typed, reason in [
        ("1234+5678=", "“1234” has 4 digits"),
        ("12+5=", "“12” has 2 digits"),
        ("123-045=", "“123-045=” is not in that form (000+000=)"),
    ]:
        prompt.fill(typed)
        widget.get_by_role("button", name="Run").click()
        said = wait_note(widget, True)
        assert "2 numbers of exactly 3 digits each" in said and reason in said, said
        widget.locator(".nb-tool-text", has_text=typed).wait_for()  # still ran
    prompt.fill("999+001=")
    widget.get_by_role("button", name="Run").click()
    wait_note(widget, False)
    assert described_by_note(widget, prompt)


@pytest.mark.browser
@pytest.mark.sphinx("html", testroot="off-distribution", freshenv=True)
def test_the_pages_check_agrees_with_the_sort_rows(page):
    """Every sort prompt the widget calls trained-on is a prefix of a training row (after
    the whole prompt), and every other one is called off."""
    limits = widget_settings(page.content())[0]["trained"]
    rows = {
        "".join(prepare.SORT_LETTERS[i] for i in row)
        for row in distribution._rows(prepare.sort_data())
    }
    texts = ["".join(p) for n in range(1, 9) for p in itertools.product("ABC", repeat=n)][::7]
    verdicts = page.evaluate(
        "([limits, texts]) => texts.map((t) => nanobook.widgets.offDistribution(limits, t))",
        [limits, texts],
    )
    for text, verdict in zip(texts, verdicts, strict=True):
        in_rows = len(text) >= prepare.SORT_LENGTH and any(row.startswith(text) for row in rows)
        assert (verdict is None) == in_rows, (text, verdict)


# --- the static rendering says it too, as the page's script would --------------------------


@pytest.mark.sphinx("text", testroot="off-distribution", freshenv=True)
def test_the_static_rendering_says_when_the_authors_prompt_is_off(app):
    app.build()
    text = " ".join((app.outdir / "off.txt").read_text(encoding="utf-8").split())
    on = " ".join((app.outdir / "index.txt").read_text(encoding="utf-8").split())
    assert "Outside its training" not in on
    for said in [
        "sorts of 6 letters from A, B, C, and this one has 2 letters",
        "their answer “AABBCC”, never “CC”",
        "“1234” has 4 digits",
        "mixture: Outside its training: the model learned from ↑ requests of 6 letters and #",
        "chat: Outside its training: the model learned from ↑ requests of 6 letters, all from",
    ]:
        assert said in text, said


def parity_inputs() -> list[tuple[str, str]]:
    """(limits' name, input): sort prompts of every length, sums of every form, chat turns."""
    sort = ["".join(p) for n in range(1, 10) for p in itertools.product("ABC", repeat=n)][::5]
    sums = ["123+045=", "1234+5678=", "12+5=", "123-045=", "", "12345", "+=", "999+999=9"]
    turns = ["↑CBA", "↑CBACAB", "#ABCABCABCAB", "#AB", "↑", "#ABCD", "xABC", "↑CBACABAABBCC"]
    return (
        [("sort", text) for text in [*sort, "ABD", "AAAAAAA", "ABCABCAABBCCA"]]
        + [("calculator", text) for text in sums]
        + [(run, text) for run in ("chat", "hash", "mixture") for text in turns]
    )


@pytest.mark.browser
@pytest.mark.sphinx("html", testroot="off-distribution", freshenv=True)
def test_the_page_and_the_build_say_the_same_of_every_input(page):
    """The static rendering's note (distribution.note) and the page's (trainingNote's
    text, from offDistribution) agree, word for word, on every input."""
    limits = {
        "sort": distribution.sort_limits(),
        "calculator": distribution.calculator_limits(),
        **{run: distribution.chat_limits(run) for run in ("chat", "hash", "mixture")},
    }
    inputs = parity_inputs()
    said = page.evaluate(
        """([limits, inputs]) =>
             inputs.map(([name, text]) => nanobook.widgets.offDistribution(limits[name], text))""",
        [limits, inputs],
    )
    for (name, text), reason in zip(inputs, said, strict=True):
        assert distribution.off_distribution(limits[name], text) == reason, (name, text)
    assert sum(reason is None for reason in said) >= 5  # some inputs are on, too
