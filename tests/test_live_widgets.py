"""The live widgets in the built book, opened from disk in Debian's chromium.

Each test drives a widget as a reader would (typing, choosing a position and a head,
moving the replay's slider with the keyboard, answering a question) and checks what
the page then shows against PyTorch or the build's cache: the shapes beside the source
for the reader's input, the rows of scores under the lines that compute them, the
replay's snapshots, the answers to the questions, the seeded samples.
"""

from __future__ import annotations

import ast
import functools
import json
import math
import re
from pathlib import Path

import pytest
import torch
from pages import LISTEN_TO_LIVE_REGIONS, loaded_widget, signed

from ext.annotated_source import shapes
from ext.live_models import compute, render
from ext.live_models.kinds import chat as chat_kind
from ext.live_models.kinds import predict, sampling, tools
from model_src import presets, shakespeare, visible

pytestmark = pytest.mark.browser

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def open_page(book_html, open_page_checked_for_errors):
    """Opens a chapter from disk; fails the test on any console error or page error."""

    def open_(name: str, **options):
        chapter = (book_html / "chapters" / f"{name}.html").as_uri()
        return open_page_checked_for_errors(chapter, **options)

    return open_


def live(page, selector: str):
    """The widget, scrolled into view and with its model (or replay) loaded."""
    return loaded_widget(page.locator(selector).first, timeout=30_000)


def expected_dims(entry: dict, second: dict | None) -> list[str]:
    """What the shape column of one line shows once the input has the second size:
    each group of names (as html.shape_html groups them) with PyTorch's shape there;
    a shape without a formula keeps its captured value and says so."""
    formulas = dict(entry["formulas"])
    groups: list[tuple[str, str | None, str]] = []
    for name, shape in entry["values"]:
        if groups and groups[-1][:2] == (shape, formulas.get(name)):
            continue
        now = dict(second["values"])[name] if formulas.get(name) else f"{shape} (as captured)"
        groups.append((shape, formulas.get(name), now))
    return [now for _, _, now in groups]


def test_the_attention_widget_drives_the_shapes_and_values_beside_the_source(open_page, tmp_path):
    page = open_page("attention")
    widget = live(page, "#live-attention-sort-0")
    # the build's own capture at its second size: PyTorch's shapes for a shorter input
    path = REPO / "model_src" / "model.py"
    capture = shapes.cached_capture(path, "sort", "model_src.presets", REPO, tmp_path)
    config = presets.gpt_config("sort")
    short = presets.sample_input("sort", 1, config.block_size // 2)
    entry = compute.trained_model("sort")
    prompt = entry.decode(short[0])
    assert len(prompt) != entry.meta["prompt_len"]  # read as typed: no answer appended
    widget.locator("input[type=text]").fill(prompt)
    block = page.locator(".annotated-source:has(.as-symbols[data-as-preset=sort])").first
    block.locator(".as-live", has_text=f"T = {len(prompt)}").wait_for()
    checked = 0
    for line in block.locator(".as-line:has(.as-dims)").all():
        number = line.get_attribute("data-line")
        shown = line.locator(".as-dims").all_text_contents()
        want = expected_dims(capture["lines"][number], capture["second_size"].get(number))
        assert shown == want, (number, line.inner_text())
        checked += 1
    assert checked >= 10

    # choose a query and a head: the rows under the code are PyTorch's for this input
    layer, head, query = 1, 2, len(prompt) - 2
    # the head with the keyboard, then the query in the strip (the pointer over a map
    # would choose the row under it)
    widget.locator(".nb-live-head-button").nth(layer * config.n_head + head).focus()
    page.keyboard.press("Enter")
    widget.locator(".nb-live-token").nth(query).focus()
    ids = torch.tensor([entry.encode(prompt)])
    rows = pytorch_rows(entry.model, ids, layer, head, query)
    for key, row in rows.items():
        value = block.locator(".as-value:not([hidden])", has_text=VALUE_LABELS[key]).first
        text = value.inner_text()
        assert f"query {query}" in text and f"layer {layer} head {head}" in text, text
        numbers = [signed(n) for n in re.search(r"\[(.*)\]", text)[1].split(", ")]
        assert len(numbers) == len(prompt), text
        for shown_value, true_value in zip(numbers, row.tolist(), strict=True):
            assert shown_value == pytest.approx(true_value, abs=0.006), (key, text)


VALUE_LABELS = {"scores": "scores q·k/√hs", "masked": "masked", "softmax": "weights"}


def pytorch_rows(model, ids, layer: int, head: int, query: int) -> dict[str, torch.Tensor]:
    """One query's scores, masked scores and softmax weights, from the module's own input."""
    attn = model.transformer.h[layer].attn
    seen = {}
    hook = attn.register_forward_hook(lambda module, args, out: seen.setdefault("x", args[0]))
    with torch.no_grad():
        model(ids)
        hook.remove()
        C, nh = model.config.n_embd, model.config.n_head
        q, k, _ = attn.c_attn(seen["x"]).split(C, dim=2)
        q = q[0, query].view(nh, C // nh)[head]
        k = k[0].view(-1, nh, C // nh)[:, head]
        scores = (k @ q) / math.sqrt(C // nh)
    masked = scores.masked_fill(torch.arange(len(scores)) > query, -math.inf)
    return {"scores": scores, "masked": masked, "softmax": torch.softmax(masked, dim=0)}


def test_arrow_keys_never_turn_the_page_under_a_widget(open_page):
    """A head's map takes the focus; the arrows there, or on the page itself, stay in the
    chapter (the theme's arrow-key navigation is off)."""
    page = open_page("attention")
    chapter = page.url
    live(page, ".nb-live-attention").locator(".nb-live-head-button").first.focus()
    for key in ("ArrowRight", "ArrowLeft"):
        page.keyboard.press(key)
        page.wait_for_timeout(300)  # a navigation would have begun by now
        assert page.url == chapter, key
    page.evaluate("document.activeElement.blur()")
    page.keyboard.press("ArrowRight")
    page.wait_for_timeout(300)
    assert page.url == chapter


# Text in a widget below WCAG's contrast (4.5:1, 3:1 from 24 px or 18.66 px bold) against
# the first opaque ground behind it: [tag, class, text, ratio, px].
LOW_CONTRAST = r"""() => {
  const luminance = (colour) => {
    const [r, g, b, alpha = 1] = colour.match(/[\d.]+/g).map(Number);
    const linear = (v) => ((v /= 255) <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4);
    return [0.2126 * linear(r) + 0.7152 * linear(g) + 0.0722 * linear(b), alpha];
  };
  const ground = (e) => {
    for (; e; e = e.parentElement) {
      const [l, alpha] = luminance(getComputedStyle(e).backgroundColor);
      if (alpha > 0.9) return l;
    }
    return 1;
  };
  const low = [];
  for (const e of document.querySelectorAll(".nb-live *")) {
    if (!e.offsetParent && e.tagName !== "text") continue;
    if (![...e.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim())) continue;
    if (e.closest("[hidden], [disabled]")) continue;
    const style = getComputedStyle(e);
    const svg = e instanceof SVGElement;
    const [text] = luminance(svg ? style.fill : style.color);
    const back = ground(svg ? e.closest("svg") : e);
    const ratio = (Math.max(text, back) + 0.05) / (Math.min(text, back) + 0.05);
    const px = parseFloat(style.fontSize);
    const large = px >= 24 || (Number(style.fontWeight) >= 700 && px >= 18.66);
    if (ratio < (large ? 3 : 4.5)) {
      low.push([e.tagName, e.getAttribute("class"), e.textContent.trim().slice(0, 30), ratio, px]);
    }
  }
  return low;
}"""


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_every_widgets_text_reads_at_wcag_contrast(open_page, scheme):
    for chapter in ("attention", "sampling", "training", "rl", "tools", "finetuning"):
        page = open_page(chapter, color_scheme=scheme)
        for widget in page.locator(".nb-live").all():
            widget.scroll_into_view_if_needed()
        page.wait_for_timeout(1500)  # the models load when seen, and draw
        assert page.evaluate(LOW_CONTRAST) == [], (chapter, scheme)


def seen_colour(colour: str, under: list[float]) -> list[float]:
    """A computed colour (rgb(), rgba() or color(srgb …), a color-mix's) laid over `under`
    ([r, g, b], 0 to 255)."""
    values = [float(v) for v in re.findall(r"[\d.]+", colour)]
    scale = 255 if colour.startswith("color(") else 1
    alpha = values[3] if len(values) > 3 else 1.0
    return [alpha * v * scale + (1 - alpha) * u for v, u in zip(values[:3], under, strict=True)]


def contrast_ratio(a: list[float], b: list[float]) -> float:
    def luminance(rgb: list[float]) -> float:
        linear = [(c / 255) / 12.92 if c / 255 <= 0.04045 else ((c / 255 + 0.055) / 1.055) ** 2.4
                  for c in rgb]  # fmt: skip
        return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]

    low, high = sorted((luminance(a), luminance(b)))
    return (high + 0.05) / (low + 0.05)


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_a_key_that_takes_all_the_weight_keeps_its_text_readable(open_page, scheme):
    """A position's button is shaded by the chosen query's weight on it; at weight 1 its
    letter, prediction and probability still read at 4.5:1 on the shade. In the dark the
    light ink at 70% left the light text at 3.2:1 (a two-letter prompt in the char model:
    its second letter puts 0.96 on the first)."""
    page = open_page("attention", color_scheme=scheme)
    page.evaluate(f"document.documentElement.dataset.theme = '{scheme}'")
    widget = live(page, "#live-attention-char-1")
    token = widget.locator(".nb-live-token").first
    token.evaluate("(b) => b.style.setProperty('--nb-live-weight', '1')")
    shade, panel, *texts = token.evaluate(
        """(b) => [b, b.closest('.nb-live'),
                   ...b.querySelectorAll('.nb-live-tok, .nb-live-pred, .nb-live-prob')]
                 .map((e, i) => getComputedStyle(e)[i < 2 ? 'backgroundColor' : 'color'])"""
    )
    ground = seen_colour(shade, seen_colour(panel, [255, 255, 255]))
    assert len(texts) == 3
    for text in texts:
        assert contrast_ratio(seen_colour(text, ground), ground) >= 4.5, (scheme, text, shade)


def test_the_replay_shows_the_snapshots_the_cache_holds(open_page):
    page = open_page("training")
    widget = live(page, ".nb-live-replay")
    replay = compute.trained_model("sort").replay
    vocab = compute.replay_payload("sort")["vocab"]
    slider = widget.locator("input[type=range]")
    slider.focus()
    for press, index in [("Home", 0), ("ArrowRight", 1), ("ArrowRight", 2), ("End", -1)]:
        page.keyboard.press(press)
        snapshot = replay["snapshots"][index]
        summary = widget.locator(".nb-live-readout").first.inner_text()
        assert summary.startswith(f"Step {snapshot['step']}:"), summary
        # to one decimal, as the build writes every accuracy (a whole 100% hid the last errors)
        assert f"held-out accuracy {snapshot['accuracy']:.1%}." in summary, summary
        predicted = widget.locator(".nb-live-token .nb-live-pred").all_text_contents()
        answers = [p.removeprefix("→") for p in predicted if p]
        prompt_len = compute.replay_payload("sort")["prompt_len"]
        want = [vocab[t] for t in snapshot["prediction"][0][prompt_len - 1 :]]
        assert answers == want, (snapshot["step"], answers)


def test_the_training_replay_starts_again_at_step_0_with_reduced_motion(open_page):
    """With reduced motion each press of Next step shows the next snapshot; from the last,
    the first again (step 0), not the second."""
    page = open_page("training", reduced_motion="reduce")
    widget = live(page, ".nb-live-replay")
    snapshots = compute.trained_model("sort").replay["snapshots"]
    last = compute.replay_payload("sort")["max_iters"]
    widget.locator("input[type=range]").focus()
    page.keyboard.press("End")
    shown = widget.locator("output")
    assert shown.inner_text() == f"{snapshots[-1]['step']} of {last}"
    button = widget.get_by_role("button", name="Next step")
    for snapshot in snapshots[:2]:
        button.click()
        assert shown.inner_text() == f"{snapshot['step']} of {last}"
        readout = widget.locator(".nb-live-readout").first.inner_text()
        assert readout.startswith(f"Step {snapshot['step']}:")


def test_the_replays_step_label_is_clear_of_the_curves(open_page):
    """The learning chart's "step N" sits above every point of both curves and inside the
    chart, at the first snapshot, the last and between, on a wide screen and a phone."""
    for viewport in ({"width": 1280, "height": 900}, {"width": 390, "height": 844}):
        page = open_page("training", viewport=viewport, reduced_motion="reduce")
        widget = live(page, ".nb-live-replay")
        slider = widget.locator("input[type=range]")
        slider.focus()
        for press in ("Home", "ArrowRight", "ArrowRight", "ArrowRight", "End"):
            page.keyboard.press(press)
            chart = widget.locator("svg.nb-replay-chart")
            label, lowest, width = chart.evaluate(
                """(svg) => { const box = svg.querySelector(".nb-replay-now-label").getBBox();
                    const ys = [...svg.querySelectorAll("polyline")]
                      .flatMap((p) => [...p.points].map((point) => point.y));
                    return [[box.x, box.y, box.width, box.height], Math.min(...ys),
                            svg.viewBox.baseVal.width]; }"""
            )
            x, y, w, h = label
            assert y + h <= lowest, (press, label, lowest)  # above the curves' highest point
            assert y >= 0 and x >= 0 and x + w <= width, (press, label, width)


def test_the_rl_replay_shows_the_runs_record(open_page):
    """The RL chapter's replay: each recorded step's pass@1 and pass@k, and its group's
    answers, rewards and advantages, as rl_runs.py recorded them; with reduced motion the
    button steps through the record one snapshot a press."""
    page = open_page("rl", reduced_motion="reduce")
    widget = live(page, ".nb-live-replay")
    payload = compute.rl_replay_payload("sort")
    snapshots, k, vocab = payload["snapshots"], payload["k"], payload["vocab"]
    slider = widget.locator("input[type=range]")
    slider.focus()
    for press, index in [("Home", 0), ("ArrowRight", 1), ("ArrowRight", 2), ("End", -1)]:
        page.keyboard.press(press)
        snapshot = snapshots[index]
        summary = widget.locator(".nb-live-readout").first.inner_text()
        assert summary.startswith(
            f"Step {snapshot['step']}: held-out exact pass@1 {snapshot['pass@1']:.1%}, "
            f"exact pass@{k} {snapshot[f'pass@{k}']:.1%}"
        ), summary
        rows = widget.locator(".nb-rl-answer")
        if "answers" not in snapshot:
            assert rows.count() == 0
            continue
        assert rows.locator(".nb-rl-word").all_text_contents() == [
            "".join(vocab[i] for i in answer) for answer in snapshot["answers"]
        ]
        rewards = [
            float(text.split()[0]) for text in rows.locator(".nb-rl-reward").all_text_contents()
        ]
        assert rewards == snapshot["rewards"]
        shown = [float(text) for text in rows.locator(".nb-rl-advantage").all_text_contents()]
        assert shown == pytest.approx(snapshot["advantages"], abs=5e-4)
    assert (
        slider.get_attribute("aria-valuetext")
        == f"step {snapshots[-1]['step']} of {payload['max_iters']}"
    )
    button = widget.get_by_role("button", name="Next step")
    button.click()  # from the last snapshot, the next press starts again at the first
    assert (
        widget.locator(".nb-live-readout")
        .first.inner_text()
        .startswith(f"Step {snapshots[0]['step']}:")
    )


@pytest.mark.parametrize(
    "chapter, preset",
    [("attention", "sort"), ("sampling", "char"), ("training", "sort"), ("rl", "sort")],
)
def test_predict_then_check_gives_the_models_answer(open_page, chapter, preset):
    page = open_page(chapter)
    widget = page.locator(".nb-live-predict").first
    widget.scroll_into_view_if_needed()
    verdict = widget.locator(".nb-predict-verdict")
    options = json.loads(widget.get_attribute("data-live"))
    question = options["question"]
    # a replay's answer is read from the run's record, and the button says so
    record = question["ask"] in ("accuracy-step", "rl-pass-k")
    assert question["check"].startswith("Check against the" if record else "Check with the model")
    check = widget.get_by_role("button", name=question["check"])
    check.click()
    assert "Choose an answer first" in verdict.inner_text()
    widget.locator("input[type=radio]").first.check()
    check.click()
    page.wait_for_function(
        "w => w.dataset.answer !== undefined", arg=widget.element_handle(), timeout=30_000
    )
    built = predict.predict(
        preset,
        question["ask"],
        options["prompt"],
        question.get("temperature", 1.0),  # the asks that take one carry it
        question.get("threshold", 0.9),
        question.get("layer"),  # strongest-key: the layer the build asked about
    )
    assert widget.get_attribute("data-answer") == str(built["answer"])
    assert re.match(r"(Right|Not this time): the answer is ", verdict.inner_text())
    if built.get("why"):  # the verdict says why, in the build's words, from the live model
        assert verdict.inner_text().endswith(built["why"]), (verdict.inner_text(), built["why"])


def test_seeded_sampling_in_the_page_is_what_the_build_shows(open_page):
    page = open_page("sampling", reduced_motion="reduce")
    widget = live(page, ".nb-live-sampling")
    widget.get_by_role("button", name="Play").click()  # reduced motion: the whole run at once
    text = widget.locator(".nb-live-text").inner_text()
    built = sampling.sampling("char", "KING RICHARD:", 0.8, None, 0, 80)
    assert text == built["text"]
    assert "Step 80 of 80" in widget.locator(".nb-live-readout").inner_text()


def test_the_sampling_widget_prints_the_separator_it_draws(open_page):
    """At the slider's top temperature the char model draws the separator between plays
    within a few seeds: the widget's text shows it as the book prints it, never as a
    character that shows nothing, and is otherwise the text PyTorch draws."""
    sep, hottest, prompt = shakespeare.SEPARATOR, sampling.TEMPERATURES[1], "KING RICHARD:"
    runs = (sampling.sampling("char", prompt, hottest, None, seed, 80) for seed in range(20))
    seed, built = next((seed, run) for seed, run in enumerate(runs) if sep in run["text"])
    page = open_page("sampling", reduced_motion="reduce")
    widget = live(page, ".nb-live-sampling[data-nanobook-model=char]")
    slider = widget.get_by_label("Temperature")
    slider.evaluate(
        "(s, t) => { s.value = String(t); s.dispatchEvent(new Event('input')); }", hottest
    )
    widget.get_by_label("Seed").fill(str(seed))
    widget.get_by_role("button", name="Play").click()
    text = widget.locator(".nb-live-text").inner_text()
    assert text == built["text"].replace(sep, visible.token(sep))


def test_the_sampled_text_is_a_named_group(open_page):
    """A paragraph's aria-label is never read: the text so far is a group, named."""
    page = open_page("sampling")
    widget = live(page, ".nb-live-sampling")
    text = widget.get_by_role("group", name="Text so far")
    assert text.count() == 1
    assert "nb-live-text" in text.get_attribute("class")


def test_a_play_is_said_once_when_it_stops_not_at_every_frame(open_page):
    """Play rewrites the sampling readout and the replay's step many times a second: a
    screen reader hears them when the run stops, not at every frame."""
    page = open_page("sampling")
    widget = live(page, ".nb-live-sampling")
    readout = widget.locator(".nb-live-readout")
    widget.get_by_role("button", name="Play").click()
    assert readout.get_attribute("aria-live") == "off"
    readout.evaluate(  # each change of the region, and whether it was live then
        """(r) => { window.heard = [];
                    new MutationObserver(() => window.heard.push([r.ariaLive, r.textContent]))
                      .observe(r, { childList: true, characterData: true, subtree: true }); }"""
    )
    page.wait_for_timeout(500)  # a few frames, written while the region is quiet
    widget.get_by_role("button", name="Pause").click()
    assert readout.get_attribute("aria-live") == "polite"
    page.wait_for_timeout(100)
    heard = page.evaluate("window.heard")
    assert {live for live, _ in heard[:-1]} == {"off"}  # no frame was said as it played
    assert heard[-1] == ["polite", readout.inner_text()]  # the last one is, once
    page = open_page("training")
    widget = live(page, ".nb-live-replay")
    spoken = widget.locator("output, .nb-live-readout")
    widget.get_by_role("button", name="Play").click()
    assert set(spoken.evaluate_all("(all) => all.map((e) => e.ariaLive)")) == {"off"}
    widget.get_by_role("button", name="Pause").click()
    assert set(spoken.evaluate_all("(all) => all.map((e) => e.ariaLive)")) == {"polite"}


def test_the_top_p_control_samples_as_pytorch_and_shows_what_it_cuts(open_page):
    """Top-p, set with the keyboard: the first step's bars are PyTorch's top-p
    distribution (model_src.model.top_p_logits), the tokens it cuts are marked as cut,
    the readout says how many it kept, and the whole run is the text PyTorch draws."""
    page = open_page("sampling", reduced_motion="reduce")
    widget = live(page, ".nb-live-sampling")
    slider = widget.get_by_label("Top-p")
    low, high = sampling.TOP_P  # handed to the page, typed nowhere else
    assert (float(slider.get_attribute("min")), float(slider.get_attribute("max"))) == (low, high)
    shown_p = widget.locator(f"output[for='{slider.get_attribute('id')}']")
    assert float(slider.input_value()) == high and shown_p.inner_text() == "off"
    slider.focus()
    for _ in range(2):
        slider.press("ArrowLeft")
    top_p = 0.9
    assert float(slider.input_value()) == top_p
    assert shown_p.inner_text() == "0.90"
    assert slider.get_attribute("aria-valuetext").startswith("0.90: keep the likeliest tokens")
    widget.get_by_role("button", name="Step").click()

    entry = compute.trained_model("char")
    with torch.no_grad():
        logits, _ = entry.model(torch.tensor([entry.encode("KING RICHARD:")]))
    probs = compute.next_token_probs(logits[0, -1], 0.8, None, top_p)
    token_of = {visible.token(entry.decode([i])): i for i in range(len(entry.meta["itos"]))}
    bars = widget.locator(".nb-live-bar")
    for n in range(bars.count()):
        bar = bars.nth(n)
        token = token_of[bar.locator(".nb-live-bar-token").inner_text()]
        shown = float(bar.evaluate("b => b.style.getPropertyValue('--nb-live-p')"))
        assert shown == pytest.approx(probs[token], abs=1e-4), (n, token)
        cut = bar.locator(".nb-live-bar-why").inner_text()
        assert cut == ("top-p cut" if probs[token] == 0 else ""), (n, token, cut)
    assert widget.locator(".nb-live-bar-cut").count() > 0  # the cut tokens are among the bars
    kept = int((probs > 0).sum())
    readout = widget.locator(".nb-live-readout").inner_text()
    assert f"Top-p 0.90 kept {kept} of {len(probs)} tokens" in readout, readout

    widget.get_by_role("button", name="Reset").click()
    widget.get_by_role("button", name="Play").click()
    built = sampling.sampling("char", "KING RICHARD:", 0.8, None, 0, 80, top_p=top_p)
    assert widget.locator(".nb-live-text").inner_text() == built["text"]
    assert built["text"] != sampling.sampling("char", "KING RICHARD:", 0.8, None, 0, 80)["text"]


def test_the_sampling_chapter_explains_the_widget_it_shows():
    """The chapter's cell that explains the char widget's table repeats its options: a
    changed directive must change the cell too (a cached notebook sees only its code)."""
    page = (REPO / "docs" / "chapters" / "sampling.md").read_text(encoding="utf-8")
    block = re.search(r"```\{live-sampling\} char\n((?::\w+: .*\n)+)", page).group(1)
    options = dict(re.findall(r":(\w+): (.*)", block))
    shown = {"prompt": options["prompt"], "temperature": float(options["temperature"])}
    shown["seed"] = int(options["seed"])
    cell = re.search(r"^WIDGET = (\{.*\})$", page, re.M).group(1)
    assert ast.literal_eval(cell) == shown


def test_the_char_widget_writes_dialogue_not_whitespace():
    """The page's live-sampling default, as the build computes it: mostly letters and
    spaces (play dialogue), never a run of blank lines or indentation."""
    page = (REPO / "docs" / "chapters" / "sampling.md").read_text(encoding="utf-8")
    block = re.search(r"```\{live-sampling\} char\n((?::\w+: .*\n)+)", page).group(1)
    options = dict(re.findall(r":(\w+): (.*)", block))
    built = sampling.sampling(
        "char", options["prompt"], float(options["temperature"]), None, int(options["seed"]), 80
    )
    written = built["text"][len(options["prompt"]) :]
    assert sum(c.isalpha() or c == " " for c in written) / len(written) >= 0.8, written
    assert not re.search(r"\s{3,}", written), written
    assert re.search(r"[a-z]{3,} [a-z]{3,}", written), written  # words, not letter soup


def test_widgets_fit_a_phone_in_the_dark(open_page):
    for chapter, selector in [
        ("attention", ".nb-live-attention"),
        ("training", ".nb-live-replay"),
        ("rl", ".nb-live-replay"),
    ]:
        page = open_page(chapter, viewport={"width": 390, "height": 844}, color_scheme="dark")
        page.evaluate("document.documentElement.dataset.theme = 'dark'")
        live(page, selector)
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        ink = page.locator(selector).first.evaluate("e => getComputedStyle(e).borderLeftColor")
        assert ink == "rgb(244, 162, 97)"  # the dark theme's accent


def test_the_sampling_tables_fit_a_phone_with_the_drawn_column_in_view(open_page):
    """Until the model loads, and without JavaScript, a live-sampling widget shows its
    static table. On a 390 px phone a step's likeliest tokens wrap between tokens, so the
    table fits and its drawn column, which the chapter's prose reads, stays in view."""
    page = open_page(
        "sampling",
        viewport={"width": 390, "height": 844},
        color_scheme="dark",
        java_script_enabled=False,
    )
    tables = page.locator(".nb-live-sampling .nb-live-static table")
    assert tables.count() == 2
    for n in range(tables.count()):
        fit = tables.nth(n).evaluate(
            """t => ({scroll: t.scrollWidth, client: t.clientWidth,
                      right: t.getBoundingClientRect().right,
                      drawn: Math.max(...[...t.querySelectorAll("tr > :last-child")]
                                          .map(c => c.getBoundingClientRect().right))})"""
        )
        assert fit["scroll"] <= fit["client"] and fit["drawn"] <= fit["right"] <= 390, fit
    assert page.evaluate("document.documentElement.scrollWidth") <= 390


# Each static table of the page: its widget, whether its columns overflow it, whether its
# edge's shadow says so, and the grounds and rules of its rows against the panel's
STATIC_TABLES = """() => [...document.querySelectorAll(".nb-live-static table")].map((t) => {
  const widget = t.closest(".nb-live");
  const style = getComputedStyle(widget);
  const cells = [...t.querySelectorAll("td, th")];
  return {
    widget: widget.id,
    overflows: t.scrollWidth > t.clientWidth,
    shadow: getComputedStyle(t).backgroundImage.includes("radial-gradient"),
    right: t.getBoundingClientRect().right <= widget.getBoundingClientRect().right,
    grounds: [...new Set([...t.querySelectorAll("tr")].map(
      (r) => getComputedStyle(r).backgroundColor))],
    rules: [...new Set(cells.filter((c) => c.closest("tbody")).map(
      (c) => getComputedStyle(c).borderBottomColor))],
    nowrap: cells.filter((c) => getComputedStyle(c).whiteSpace === "nowrap").length,
    line: style.getPropertyValue("--nb-live-line"),
  };
})"""


def test_static_tables_fit_a_phone_or_show_there_is_more_on_the_panels_ground(open_page):
    """Without JavaScript, at 390 px in the dark: a static table's cells wrap between words
    (no cell is held on one line, only a unit read along it), so the page never scrolls
    sideways and most tables fit; one whose words alone are wider scrolls inside the
    panel with a shadow at its edge saying so. Its rows lie on the panel's own ground,
    ruled in the panel's line colour (the theme's grey stripes and rules were another
    ground on the navy panel)."""
    for chapter in ("attention", "training", "rl", "tools", "finetuning", "sampling"):
        page = open_page(
            chapter,
            viewport={"width": 390, "height": 844},
            color_scheme="dark",
            java_script_enabled=False,
        )
        page.evaluate("document.documentElement.dataset.theme = 'dark'")
        # a table behind a disclosure (the tools widget's tool-off row) measured as shown
        page.evaluate(
            "document.querySelectorAll('.nb-live-reveal').forEach((d) => { d.open = true; })"
        )
        tables = page.evaluate(STATIC_TABLES)
        assert tables, chapter
        assert page.evaluate("document.documentElement.scrollWidth") <= 390, chapter
        for table in tables:
            assert table["right"] and table["nowrap"] == 0, table
            assert table["shadow"] or not table["overflows"], table
            assert table["grounds"] == ["rgba(0, 0, 0, 0)"], table
            probe = page.evaluate(
                "(c) => { const s = document.createElement('span'); s.style.color = c;"
                " document.body.append(s); const got = getComputedStyle(s).color;"
                " s.remove(); return got; }",
                table["line"].strip(),
            )
            assert table["rules"] == [probe], table


def test_without_javascript_a_predict_check_keeps_its_answer_until_asked(open_page):
    """Without JavaScript the tools chapter's question showed, under its choices, the
    build's answer (the tool-off completion) before the reader had answered. The answer
    waits behind a disclosure, complete once opened; with JavaScript the live check
    replaces it all."""
    page = open_page("tools", viewport={"width": 390, "height": 844}, java_script_enabled=False)
    widget = page.locator(".nb-live-predict").first
    options = json.loads(widget.get_attribute("data-live"))
    question = options["question"]
    built = predict.predict("calculator", question["ask"], options["prompt"], 1.0, 0.9, None)
    answer = widget.locator(".nb-predict-answer")
    assert built["answer"] in answer.text_content() and not answer.is_visible()
    assert widget.locator(".nb-predict-question").is_visible()
    reveal = widget.get_by_text(render.ANSWER_SUMMARY)
    reveal.focus()
    page.keyboard.press("Enter")  # a disclosure opens from the keyboard as with a click
    assert answer.is_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    checked = open_page("tools").locator(".nb-live-predict").first
    checked.scroll_into_view_if_needed()
    checked.get_by_role("button", name=question["check"]).wait_for()
    assert not checked.locator(".nb-live-static").is_visible()


def test_without_javascript_the_calculator_widget_keeps_the_tool_off_completion_until_asked(
    open_page,
):
    """The tools chapter's calculator widget, below the question of what the model writes
    with its calculator off, showed that completion in its static table: the question's
    answer before the reader tried. Without JavaScript the tool-on row shows; the tool-off
    one waits behind a disclosure, as the predict-check's answer does, and fits a phone
    once opened, light and dark. With JavaScript the live widget replaces it all."""
    for scheme in ("light", "dark"):
        page = open_page(
            "tools",
            viewport={"width": 390, "height": 844},
            color_scheme=scheme,
            java_script_enabled=False,
        )
        page.evaluate(f"document.documentElement.dataset.theme = '{scheme}'")
        widget = page.locator(".nb-live-tools").first
        prompt = json.loads(widget.get_attribute("data-live"))["prompt"]
        built = tools.tools("calculator", prompt)
        on, off = (widget.locator("tr").filter(has_text=f"tool {m}") for m in ("on", "off"))
        assert built["on"]["text"][len(prompt) :] in on.text_content() and on.is_visible()
        assert built["off"]["text"][len(prompt) :] in off.text_content()
        assert not off.is_visible()
        widget.get_by_text(tools.OFF_SUMMARY).click()
        assert off.is_visible()
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
    checked = live(open_page("tools"), ".nb-live-tools")
    assert not checked.locator(".nb-live-static").is_visible()


def test_bad_input_is_explained_in_the_widget(open_page):
    page = open_page("attention")
    widget = live(page, "#live-attention-sort-0")
    field, status = widget.locator("input[type=text]"), widget.locator(".nb-live-status")
    block = presets.gpt_config("sort").block_size
    for text, said in [
        ("CBAXAB", "“X” is not in the sort model's vocabulary. It knows only A, B, C."),
        ("", "Type a prompt"),
        (
            "A" * (block + 1),
            f"reads at most {block} tokens (its block_size); this prompt has {block + 1}",
        ),
    ]:
        field.fill(text)
        page.wait_for_function(
            "([s, said]) => s.textContent.includes(said)", arg=[status.element_handle(), said]
        )
        assert field.get_attribute("aria-invalid") == "true"
    field.fill("CBACAB")
    page.wait_for_function(
        "s => s.textContent.startsWith('Read with')", arg=status.element_handle()
    )
    assert field.get_attribute("aria-invalid") == "false"


# A widget's good input, then one it rejects (with what its status line says), then good
# again; the sampler draws its whole run with Play after the prompt.
REJECTED_INPUTS = [
    ("finetuning", ".nb-live-chat", "CABBAC", "ABD", "“D” is not a letter", None),
    ("tools", ".nb-live-tools", "123+045=", "hello", "are not in the calculator model's", None),
    ("attention", "#live-attention-sort-0", "CBACAB", "CBX", "“X” is not in the sort", None),
    (
        "sampling",
        ".nb-live-sampling[data-nanobook-model=sort]",
        "CBACAB",
        "CBX",
        "“X” is not in the sort",
        "Play",
    ),
]

# the readout once the widget has answered (not the "Replying…" or "Running…" before)
ANSWERED = """(r) => r.textContent !== "" && !r.textContent.endsWith("…")"""


@pytest.mark.parametrize(("chapter", "selector", "good", "bad", "said", "then"), REJECTED_INPUTS)
def test_a_rejected_input_never_sits_beside_the_last_inputs_result(
    open_page, chapter, selector, good, bad, said, then
):
    """The reviewer's case: after a turn was answered, "ABD" showed the problem above the
    last turn's tokens and reply (only dimmed, and read as current). While an input is
    rejected the last result is gone, for the eye and for a screen reader, and the
    problem is said; a good input brings the widget's output back."""
    page = open_page(chapter, reduced_motion="reduce")
    widget = live(page, selector)
    field, status = widget.locator("input[type=text]").first, widget.locator(".nb-live-status")
    readout = widget.locator(".nb-live-readout")
    result = widget.locator(".nb-live-body > :not(.nb-live-readout)")

    def ask(text: str) -> None:
        field.fill(text)
        field.press("Enter")
        if then and text == good:
            widget.get_by_role("button", name=then).click()

    ask(good)
    page.wait_for_function(ANSWERED, arg=readout.element_handle())
    answered = readout.inner_text()
    assert result.first.is_visible()
    page.evaluate(LISTEN_TO_LIVE_REGIONS)
    ask(bad)
    page.wait_for_function(
        "([s, said]) => s.textContent.includes(said)", arg=[status.element_handle(), said]
    )
    assert field.get_attribute("aria-invalid") == "true"
    described = field.get_attribute("aria-describedby").split()
    assert status.get_attribute("id") in described  # why, read with "invalid" in the field
    assert not any(part.is_visible() for part in result.all())
    assert readout.inner_text() == ""
    assert answered not in widget.inner_text()
    heard = widget.aria_snapshot()  # what a screen reader is given of the widget
    assert said in heard and answered not in heard
    assert any(
        live == "polite" and "nb-live-status" in region and said in text
        for live, region, _, text in page.evaluate("window.heard")
    )
    ask(good)
    page.wait_for_function(ANSWERED, arg=readout.element_handle())
    assert field.get_attribute("aria-invalid") == "false"
    assert status.get_attribute("id") not in field.get_attribute("aria-describedby").split()
    assert result.first.is_visible() and said not in status.inner_text()
    assert readout.inner_text() == answered


def test_a_rejected_prompt_leaves_no_sizes_or_values_beside_the_source(open_page):
    """The annotated source beside the attention widget said "for your input: B = 1,
    T = 5" and showed query 4's scores while the widget refused "CBX": they were the
    last prompt's. A rejected prompt takes them away; a good one brings them back."""
    page = open_page("attention")
    widget = live(page, "#live-attention-sort-0")
    field = widget.locator("input[type=text]")
    beside = page.locator(".annotated-source:has(.as-symbols[data-as-preset=sort])").first
    sizes, values = beside.locator(".as-live").first, beside.locator(".as-value")

    def shown() -> tuple[str, int]:
        return sizes.text_content(), sum(v.is_visible() for v in values.all())

    field.fill("CBACA")
    page.wait_for_function("(s) => s.textContent.includes('T = 5')", arg=sizes.element_handle())
    assert shown()[1] > 0
    field.fill("CBX")
    page.wait_for_function("(s) => s.textContent === ''", arg=sizes.element_handle())
    assert shown() == ("", 0)
    field.fill("CBACA")
    page.wait_for_function("(s) => s.textContent.includes('T = 5')", arg=sizes.element_handle())
    assert shown()[1] > 0


def test_the_temperature_slider_reaches_where_the_sort_model_errs(monkeypatch):
    """The chapter says: turn the temperature up to watch the sort model make mistakes.
    At the slider's top, most seeds do (at 2, the old top, about one in six did)."""
    # each call of the build's sampling loads the model from the cache: once serves them all
    monkeypatch.setattr(compute, "trained_model", functools.cache(compute.trained_model))
    prompt, hottest = "CBACAB", sampling.TEMPERATURES[1]
    wrong = sum(
        sampling.sampling("sort", prompt, hottest, None, seed, len(prompt))["text"][len(prompt) :]
        != "".join(sorted(prompt))
        for seed in range(100)
    )
    assert wrong >= 50, wrong


def test_the_sort_sampler_reads_lowercase_and_shows_cut_tokens_as_zero(open_page):
    page = open_page("sampling", reduced_motion="reduce")
    widget = live(page, ".nb-live-sampling[data-nanobook-model=sort]")
    prompt = widget.get_by_label("Prompt for the sort model")
    prompt.fill("cbacab")
    assert prompt.input_value() == "CBACAB"  # upper-cased, not refused
    assert prompt.get_attribute("aria-invalid") == "false"
    top_k = widget.get_by_label("Top-k")
    assert [o for o in top_k.locator("option").all_inner_texts() if o[0].isdigit()] == ["1", "2"]
    top_k.select_option("1")
    widget.get_by_role("button", name="Step").click()
    bars = widget.locator(".nb-live-bar")
    assert bars.count() == 3
    cut = widget.locator(".nb-live-bar:not(.nb-live-bar-drawn)")
    assert cut.locator(".nb-live-bar-p").all_inner_texts() == ["0%", "0%"]
    assert all(
        box["width"] == 0
        for box in cut.locator(".nb-live-bar-fill").evaluate_all(
            "fills => fills.map(f => f.getBoundingClientRect().toJSON())"
        )
    )
    # the slider's top, in the page: the text is PyTorch's for that temperature
    coldest, hottest = sampling.TEMPERATURES  # handed to the page, typed nowhere else
    slider = widget.get_by_label("Temperature")
    assert (float(slider.get_attribute("min")), float(slider.get_attribute("max"))) == (
        coldest,
        hottest,
    )
    top_k.select_option("")
    slider.evaluate(
        "(s, t) => { s.value = String(t); s.dispatchEvent(new Event('input')); }", hottest
    )
    widget.get_by_role("button", name="Play").click()
    built = sampling.sampling("sort", "CBACAB", hottest, None, 0, 6)
    assert widget.locator(".nb-live-text").inner_text() == built["text"]


def test_the_chosen_head_is_one_large_labelled_map(open_page):
    """The chosen head is drawn large, its cells' weights said by pointer and keyboard
    (PyTorch's), the other heads as thumbnails to choose from; on a phone, it all fits
    in well under two screens."""
    page = open_page("attention", viewport={"width": 1280, "height": 900})
    widget = live(page, "#live-attention-sort-0")
    config = presets.gpt_config("sort")
    entry = compute.trained_model("sort")
    layer, head = 1, 2
    heads = widget.locator(".nb-live-head-button")
    heads.nth(layer * config.n_head + head).focus()  # its head, large (a click would move
    page.keyboard.press("Enter")  # the pointer over it, choosing the query under it)
    large = widget.locator(".nb-live-focus-map")
    assert (large.get_attribute("data-layer"), large.get_attribute("data-head")) == ("1", "2")
    thumbnail = widget.locator(".nb-live-map").first.bounding_box()
    assert large.bounding_box()["width"] >= 3 * thumbnail["width"]
    assert widget.locator(".nb-live-legend").inner_text().split() == ["weight", "0", "1"]
    ids = torch.tensor([entry.encode("".join(widget.locator(".nb-live-tok").all_inner_texts()))])
    large.focus()
    for key in ("ArrowUp", "ArrowUp", "ArrowRight", "ArrowRight", "ArrowRight"):
        page.keyboard.press(key)
    said = widget.locator(".nb-live-cell").inner_text()
    query, key_at, weight = re.fullmatch(
        r"Query (\d+) “.” → key (\d+) “.”: weight ([\d.]+)", said
    ).groups()
    query, key_at = int(query), int(key_at)
    assert (query, key_at) == (ids.size(1) - 3, 3)
    row = pytorch_rows(entry.model, ids, layer, head, query)["softmax"]
    assert float(weight) == pytest.approx(row[key_at].item(), abs=0.0006)
    # Home and End: the row's first key and its last (the query itself), the page unmoved
    scrolled = page.evaluate("window.scrollY")
    for key, at in (("End", query), ("Home", 0)):
        page.keyboard.press(key)
        assert f"→ key {at} “" in widget.locator(".nb-live-cell").inner_text(), key
    assert page.evaluate("window.scrollY") == scrolled
    # the pointer over a cell says that cell
    box = large.bounding_box()
    page.mouse.move(box["x"] + box["width"] - 2, box["y"] + box["height"] - 2)
    last = ids.size(1) - 1
    assert widget.locator(".nb-live-cell").inner_text().startswith(f"Query {last} “")
    assert f"→ key {last} “" in widget.locator(".nb-live-cell").inner_text()

    phone = open_page("attention", viewport={"width": 390, "height": 844}, is_mobile=True)
    small = live(phone, "#live-attention-sort-0")
    assert small.bounding_box()["height"] <= 1.6 * 844
    assert phone.evaluate("document.documentElement.scrollWidth") <= 392


def said_regions(page) -> set[str]:
    """The live regions that changed since the last call while live (a screen reader says
    them), by class; clears the record."""
    page.wait_for_timeout(100)
    heard = page.evaluate("() => window.heard.splice(0)")
    return {region for live, region, _, _ in heard if live != "off"}


def test_one_key_press_on_the_attention_map_says_one_thing(open_page):
    """An arrow key on the large map says one thing: a move along the row the cell under
    the cursor (its line, live), a new row the map's value (the row's summary) and no
    live region; the summary and the listing's line follow silently, and a move along the
    row leaves the summary and the map's value as they were."""
    page = open_page("attention")
    widget = live(page, "#live-attention-sort-0")
    large = widget.locator(".nb-live-focus-map")
    large.focus()
    page.evaluate(LISTEN_TO_LIVE_REGIONS)
    readout = widget.locator(".nb-live-readout")
    for key in ("ArrowUp", "ArrowUp", "ArrowRight", "ArrowLeft", "End", "Home", "ArrowDown"):
        readout.evaluate("(r) => { window.summary = r.firstChild; }")
        value = large.get_attribute("aria-valuetext")
        page.keyboard.press(key)
        along = key in ("ArrowRight", "ArrowLeft", "End", "Home")
        assert said_regions(page) == ({"nb-live-cell"} if along else set()), key
        if along:  # the same row: not rewritten, the value unchanged (not said again)
            assert readout.evaluate("(r) => r.firstChild === window.summary"), key
            assert large.get_attribute("aria-valuetext") == value, key
        else:
            assert large.get_attribute("aria-valuetext") not in (value, None), key
    listing = page.locator(".as-live-values").first
    assert "query" in listing.inner_text()  # shown beside the source, not said


def test_a_setting_moved_leaves_an_unchanged_line_unsaid(open_page):
    """A setting moved redraws the sampler, but a line whose text stays the same is not
    rewritten: a screen reader heard "Press Step to draw one token…" and the
    out-of-training note again at each step of the temperature slider."""
    page = open_page("sampling")
    widget = live(page, "#live-sampling-sort-1")
    widget.get_by_label("Prompt").fill("CBAC")  # fewer letters than training's
    note = widget.locator(".nb-live-offdist")
    note.filter(has_text="Outside its training").wait_for()
    # typed, the note is said once the reader pauses (aria-live turns polite again): the
    # loop below listens after that, or a slow run hears the pause's line as the slider's
    note.evaluate(
        "(n) => new Promise((said) => { const check = () => n.getAttribute('aria-live')"
        " === 'polite' ? said() : setTimeout(check, 50); check(); })"
    )
    said = note.inner_text()
    widget.get_by_label("Temperature").focus()
    page.evaluate(LISTEN_TO_LIVE_REGIONS)
    for _ in range(3):
        page.keyboard.press("ArrowUp")
        assert not {"nb-live-readout", "nb-live-offdist"} & said_regions(page)
    assert note.inner_text() == said


def test_the_attention_map_is_a_slider_a_screen_reader_hands_the_arrow_keys_to(open_page):
    """A screen reader in browse mode keeps the arrow keys on an image: the large map is a
    vertical slider over its rows, its value the chosen query's row counted from the bottom
    (Up raises it, as on any vertical slider) and, in words, the row's summary as the
    readout shows it (the position's token, what it attends to most); the arrow keys and
    the positions' buttons both move it."""
    page = open_page("attention")
    widget = live(page, "#live-attention-sort-0")
    slider = widget.get_by_role("slider")
    assert slider.count() == 1
    assert slider.evaluate("(s) => s.classList.contains('nb-live-focus-map')")
    assert slider.get_attribute("aria-roledescription") == "attention map"
    label = re.match(
        r"Layer 0, head 0: (\d+) queries by \1 keys\. Up and Down",
        slider.get_attribute("aria-label"),
    )
    last = widget.locator(".nb-live-token").count() - 1
    assert label and int(label[1]) == last + 1
    readout = widget.locator(".nb-live-readout")
    tokens = widget.locator(".nb-live-tok").all_inner_texts()
    row = lambda t: f"Position {t} “{tokens[t]}”, layer 0 head 0, attends most to position "  # noqa: E731

    def value() -> tuple[int, int, int, str]:
        return (
            int(slider.get_attribute("aria-valuemin")),
            int(slider.get_attribute("aria-valuenow")),
            int(slider.get_attribute("aria-valuemax")),
            slider.get_attribute("aria-valuetext"),
        )

    assert slider.get_attribute("aria-orientation") == "vertical"
    low, now, high, text = value()
    assert (low, now, high) == (0, 0, last)  # the last query: the bottom row
    assert text == readout.inner_text()
    assert text.startswith(row(last))
    slider.focus()
    page.keyboard.press("ArrowUp")
    low, now, high, text = value()
    assert (low, now, high) == (0, 1, last)
    assert text == readout.inner_text() and text.startswith(row(last - 1))
    page.keyboard.press("ArrowRight")  # along the row: the same value
    assert value()[1:] == (1, last, text)
    widget.locator(".nb-live-token").first.focus()  # a position's button chooses the query
    low, now, high, text = value()
    assert now == last and text == readout.inner_text()
    assert text == f"{row(0)}0 “{tokens[0]}” 100%."
    # another head large: the label and the value say it
    widget.locator(".nb-live-head-button").nth(1).focus()
    page.keyboard.press("Enter")
    assert slider.get_attribute("aria-label").startswith("Layer 0, head 1: ")
    assert ", layer 0 head 1, " in slider.get_attribute("aria-valuetext")


def test_the_heads_are_one_tab_stop_and_enter_or_space_shows_one_large(open_page):
    """The small maps are buttons, one stop of the Tab key between them: Tab passes the
    grid without changing the large map, the arrows move between heads (Down to the same
    head a layer below) without choosing one, and Enter or Space shows the focused head
    large without scrolling the page."""
    page = open_page("attention", viewport={"width": 1280, "height": 900})
    widget = live(page, "#live-attention-sort-0")
    large = widget.locator(".nb-live-focus-map")
    shown = lambda: (large.get_attribute("data-layer"), large.get_attribute("data-head"))  # noqa: E731
    heads = widget.locator(".nb-live-layers button.nb-live-head-button")
    n_head = presets.gpt_config("sort").n_head
    assert heads.count() == presets.gpt_config("sort").n_layer * n_head
    assert heads.evaluate_all("bs => bs.filter(b => b.tabIndex === 0).length") == 1
    large.focus()
    page.keyboard.press("Tab")  # into the grid, and on past it
    assert heads.first.evaluate("b => b === document.activeElement")
    page.keyboard.press("Tab")
    assert not widget.locator(".nb-live-layers").evaluate("g => g.contains(document.activeElement)")
    assert shown() == ("0", "0")
    heads.first.focus()
    scrolled = page.evaluate("window.scrollY")
    for key in ("ArrowRight", "ArrowDown"):
        page.keyboard.press(key)
    assert heads.nth(n_head + 1).evaluate("b => b === document.activeElement")
    assert shown() == ("0", "0")  # focus alone chooses nothing
    page.keyboard.press("Enter")
    assert shown() == ("1", "1") and heads.nth(n_head + 1).get_attribute("aria-pressed") == "true"
    page.keyboard.press("ArrowRight")
    page.keyboard.press(" ")
    assert shown() == ("1", "2") and heads.nth(1 + n_head).get_attribute("aria-pressed") == "false"
    assert page.evaluate("window.scrollY") == scrolled
    # the Tab key comes back to the head last focused
    assert heads.nth(n_head + 2).get_attribute("tabindex") == "0"


def test_the_calculator_widget_answers_the_readers_sum_with_the_tool_visible(open_page):
    """The reader's own sum, with reduced motion (the whole completion at once): the call
    underlined, the forced answer the engine's, and with the tool off the model's own
    text, as model_src/engine.py writes it; the keyboard runs it (Enter)."""
    from model_src import arithmetic, engine
    from model_src.experiments import arithmetic_runs

    model = arithmetic_runs.get("calculator", arithmetic_runs.shown_seed("calculator"))["model"]
    page = open_page("tools", reduced_motion="reduce")
    widget = live(page, ".nb-live-tools")
    field, switch = widget.locator("input[type=text]"), widget.locator("input[type=checkbox]")
    for tool_on in (True, False):
        switch.set_checked(tool_on)
        field.fill("999+999=")
        field.press("Enter")
        done = engine.complete(
            model, arithmetic.TOKENIZER, "999+999=", tool=engine.calculate if tool_on else None
        )
        text = widget.locator(".nb-tool-text")
        page.wait_for_function(  # the text shown: what a screen reader alone hears left out
            """([t, want]) => [...t.childNodes].filter((n) => !n.classList?.contains("nb-live-sr"))
                                .map((n) => n.textContent).join("") === want""",
            arg=[text.element_handle(), done.text],
        )
        forced = "".join(ch for ch, f in zip(done.text, done.forced, strict=True) if f)
        shown = widget.locator(".nb-tool-text .nb-tool-forced").all_text_contents()
        assert "".join(shown) == forced
        assert forced == ("1998" if tool_on else "")
        # the colour's meaning in words for a screen reader, after each forced run, unseen
        assert widget.get_by_role("group", name="The completion").count() == 1
        said = text.locator(".nb-live-sr")
        assert said.count() == (1 if tool_on else 0)
        if tool_on:
            assert said.text_content() == " (forced by the engine)"
            assert "nb-tool-forced" in said.evaluate("(s) => s.previousSibling.className")
            assert said.bounding_box()["width"] <= 1
        caption = widget.locator(".nb-live-readout").text_content()
        assert ("called the calculator with “999+999”" in caption) == tool_on


def test_the_calculator_widget_fits_a_phone_in_the_dark(open_page):
    page = open_page("tools", viewport={"width": 390, "height": 844}, color_scheme="dark")
    page.evaluate("document.documentElement.dataset.theme = 'dark'")
    live(page, ".nb-live-tools")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390


def shown_ids(cells) -> list[int]:
    """The ids a row of the chat widget shows under its tokens ("id 3")."""
    texts = cells.locator(".nb-chat-id").all_inner_texts()
    return [int(text.removeprefix("id ")) for text in texts]


def test_the_chat_widget_lays_out_the_readers_turn_and_replies_as_pytorch(open_page):
    """The reader's own turn in lower case (read as upper), with reduced motion: its tokens,
    ids and loss mask as chat.render lays them out, the mask said to screen readers too;
    each run's reply as PyTorch writes it, greedy to <end>, marked against the right one;
    a letter the models do not know is refused with a message."""
    from model_src import chat

    page = open_page("finetuning", reduced_motion="reduce")
    widget = live(page, ".nb-live-chat")
    request, run_menu = widget.locator("select").nth(0), widget.locator("select").nth(1)
    letters = widget.locator("input[type=text]")
    request.select_option("#")
    letters.fill("abcacbbca")
    letters.press("Enter")
    ids, trained_flags = chat.render(chat.conversation("#", "ABCACBBCA"))
    asked = chat.prompt("#", "ABCACBBCA")
    conversation, reply = (widget.locator(".nb-chat-row").nth(i) for i in (0, 1))
    options = json.loads(widget.get_attribute("data-live"))
    for index, run in enumerate(options["runs"]):
        run_menu.select_option(str(index))
        page.wait_for_function(
            "([readout, name]) => readout.textContent.startsWith(`The ${name} model replies`)",
            arg=[widget.locator(".nb-live-readout").element_handle(), run["name"]],
        )
        assert letters.input_value() == "ABCACBBCA"
        cells = conversation.locator(".nb-chat-token")
        assert shown_ids(cells) == ids
        heard = cells.locator(".nb-live-sr").all_text_contents()
        assert heard == ["scored by the loss" if s else "not scored" for s in trained_flags]
        scored = [("nb-chat-scored" in c.get_attribute("class")) for c in cells.all()]
        assert scored == trained_flags
        model = compute.trained_model(run["script"]).model
        written, _ = chat_kind.chat_reply(model, asked)
        assert shown_ids(reply.locator(".nb-chat-token")) == written, run["name"]
        right = ids[len(asked) :]
        marks = reply.locator(".nb-chat-mark").all_inner_texts()
        assert marks == ["✓" if right[i : i + 1] == [t] else "✗" for i, t in enumerate(written)]
    letters.fill("abd")
    letters.press("Enter")
    assert "“D” is not a letter" in widget.locator(".nb-live-status").inner_text()
    assert letters.get_attribute("aria-invalid") == "true"


def test_the_chat_widget_fits_a_phone_in_the_dark(open_page):
    page = open_page("finetuning", viewport={"width": 390, "height": 844}, color_scheme="dark")
    page.evaluate("document.documentElement.dataset.theme = 'dark'")
    widget = live(page, ".nb-live-chat")
    widget.locator(".nb-live-readout", has_text="replies").wait_for()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390


# Issue 50: what a reader typed into the book's widgets, and what the line under the reply
# then says (tests/test_off_distribution.py checks every widget kind on a small project).
READERS_OFF_INPUTS = [
    ("attention", "#live-attention-sort-0", "AB", "this one has 2 letters"),
    ("tools", ".nb-live-tools", "1234+5678=", "“1234” has 4 digits"),
    ("finetuning", ".nb-live-chat", "CBA", "this one has 3 letters"),
]


@pytest.mark.parametrize(("chapter", "selector", "typed", "reason"), READERS_OFF_INPUTS)
def test_the_book_says_when_the_readers_input_was_never_in_training(
    open_page, chapter, selector, typed, reason
):
    page = open_page(chapter, reduced_motion="reduce")
    widget = live(page, selector)
    note = widget.locator(".nb-live-offdist")
    assert not note.is_visible()  # the page's own input was in training
    field = widget.locator("input[type=text]")
    field.fill(typed)
    field.press("Enter")
    note.wait_for(state="visible")
    assert note.inner_text().startswith("Outside its training") and reason in note.inner_text()
