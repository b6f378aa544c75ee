"""The live-attention and live-sampling directives in small Sphinx projects: specs,
the exported script, static fallbacks per builder, located warnings."""

from __future__ import annotations

import html
import re
import shutil
from pathlib import Path
from types import SimpleNamespace

import pytest
from pages import live_widgets, loaded_widget
from sphinx.util.console import strip_colors

from buildlib import keys
from ext.live_models import compute, distribution
from ext.live_models.kinds import attention as attention_kind
from ext.live_models.kinds import chat as chat_kind
from ext.live_models.kinds import predict, replay, sampling
from model_src import shakespeare, visible

REPO = Path(__file__).resolve().parent.parent
# Each project's html build, made once for the tests that only read it and its warnings
MODELS_HTML_BUILD = {"shared_result": "live-models-html"}
CHAT_HTML_BUILD = {"shared_result": "live-chat-html"}


@pytest.mark.sphinx("html", testroot="live-models", freshenv=True)
@pytest.mark.test_params(**MODELS_HTML_BUILD)
def test_html_widget_holds_the_script_address_and_the_static_rendering(app, warning, tmp_path):
    app.build()
    warnings = strip_colors(warning.getvalue())
    assert "index.rst" not in warnings and "myst.md" not in warnings, warnings
    page = (app.outdir / "index.html").read_text(encoding="utf-8")
    widgets = live_widgets(page)
    assert len(widgets) == 6
    src = widgets[0]["data-nanobook-src"]
    assert re.fullmatch(r"_live/sort-[0-9a-f]{16}\.js", src)
    shipped = app.outdir / src
    assert shipped.read_bytes() == compute.artifact("sort", tmp_path).read_bytes()
    assert widgets[1]["data-live"] == {
        "kind": "sampling",
        "prompt": "def",
        "temperature": 0.8,
        "topK": 20,
        "topP": None,
        "seed": 3,
        "steps": 30,
        "trained": distribution.char_limits(),  # the hint names the plays (test_off_distribution)
        # what the reader may type: the rule the build checks :prompt: with
        "promptRule": compute.prompt_rule(compute.trained_model("char")),
        "ranges": {"temperature": [0.1, 5.0], "topP": [0.05, 1.0], "seed": [0, 2**32 - 1]},
    }
    # the static rendering: the sort model's greedy answer and the seeded draws, from PyTorch
    attention = attention_kind.attention("sort", "CBACAB")
    assert "".join(attention["tokens"]) == "CBACABAABBC"
    assert "with the model's own answer “AABBC” appended" in page
    sampled = sampling.sampling("char", "def", 0.8, 20, 3, 30)
    words = " ".join(html.unescape(re.sub(r"<[^>]+>", "", page)).split())
    assert " ".join(visible.line(sampled["text"][3:]).split()) in words
    # the replay: its own script, and a table of a few recorded steps from the cache
    replay_src = widgets[2]["data-nanobook-src"]
    assert re.fullmatch(r"_live/sort-replay-[0-9a-f]{16}\.js", replay_src)
    shipped = (app.outdir / replay_src).read_bytes()
    assert shipped == compute.replay_artifact("sort", tmp_path).read_bytes()
    summary = replay.replay_summary("sort")
    assert summary["rows"][0]["step"] == 0 and summary["rows"][-1]["step"] == summary["max_iters"]
    assert f"training run of {summary['max_iters']} steps" in words
    # the caption tells the snapshots recorded from the few rows the table shows
    *earlier, last = [str(row["step"]) for row in summary["rows"]]
    shown = replay.NUMBER_WORDS[len(summary["rows"])]
    assert (
        f"recorded {summary['snapshots']} snapshots; the table shows {shown} of them, at "
        f"steps {', '.join(earlier)} and {last}. Each row gives" in words
    )
    # predict-check: the page's options hold the question but never its answer
    asks = ("strongest-key", "accuracy-step", "next-token")
    for widget, ask in zip(widgets[3:], asks, strict=True):
        options = widget["data-live"]
        assert options["question"]["ask"] == ask and "answer" not in options["question"]
    step = predict.predict("sort", "accuracy-step", "CBACAB", 1.0, 0.9, None)["answer"]
    snapshots = compute.trained_model("sort").replay["snapshots"]
    first = next(s["step"] for s in snapshots if s["accuracy"] >= 0.9)
    assert step == first and f"Answer, computed while the book was built: step {step}. " in words
    # the button says what the reader's answer is checked against: a record, or the model
    checks = [widget["data-live"] for widget in widgets[3:]]
    assert [options["question"]["check"] for options in checks] == [
        "Check with the model",
        "Check against the training record",
        "Check with the model",
    ]
    assert "90% of whole answers needs 98.3% of the letters right (0.9^(1/6))" in words
    # scripts only on pages with a widget: the runtime, the kit, then the kinds it shows
    scripts = re.findall(r'<script defer="defer" src="_static/(nanobook_\w+\.js)', page)
    kinds = [f"nanobook_{kind}.js" for kind in ("attention", "predict", "replay", "sampling")]
    assert scripts == ["nanobook_live.js", "nanobook_widgets.js", *kinds]
    assert "nanobook_live.js" not in (app.outdir / "errors.html").read_text(encoding="utf-8")
    assert all((app.outdir / "_static" / name).is_file() for name in scripts)


def test_every_widget_kind_has_a_script_that_adds_it():
    """Each registered kind's script registers that kind with the kit."""
    from ext import live_models
    from ext.live_models.kinds import KINDS

    assert len(KINDS) == 7
    for kind, spec in KINDS.items():
        script = (live_models.STATIC / spec.page_script).read_text(encoding="utf-8")
        assert f'kit.add("{kind}", ' in script


@pytest.mark.sphinx("text", testroot="live-models", freshenv=True)
def test_text_builder_shows_tables(app):
    app.build()
    text = (app.outdir / "index.txt").read_text(encoding="utf-8")
    assert "position" in text and "predicts" in text and "layer 2" in text
    assert "likeliest next tokens" in text
    assert "Live" not in text.split("Live models", 1)[1][:5]  # no raw widget markup
    assert not list(app.outdir.glob("_live/*"))


@pytest.mark.sphinx("latex", testroot="live-models", freshenv=True)
def test_latex_builder_shows_tables(app):
    app.build()
    tex = next(app.outdir.glob("*.tex")).read_text(encoding="utf-8")
    assert "likeliest next tokens" in tex
    assert r"\begin{tabulary}" in tex or r"\begin{tabular" in tex


@pytest.mark.browser
@pytest.mark.sphinx("html", testroot="live-models", freshenv=True)
@pytest.mark.test_params(**MODELS_HTML_BUILD)
def test_a_widget_whose_settings_cannot_be_read_never_stops_the_others(app, browser, tmp_path):
    """Issue 31, item 5: settings the browser refuses (written by hand here, since the
    directive refuses them) leave that widget static; the sampling widget after it starts.
    So does a kind no script on the page adds, once the page has loaded."""
    app.build()
    index = shutil.copytree(app.outdir, tmp_path / "html") / "index.html"  # the build is shared
    text = index.read_text(encoding="utf-8")
    *_, last = re.finditer(r"<section [^>]*class=\"nb-live[^>]*data-live='([^']+)'", text)
    text = text[: last.start(1)] + html.escape('{"kind": "nosuch"}') + text[last.end(1) :]
    first = re.search(r"<section [^>]*class=\"nb-live[^>]*data-live='([^']+)'", text)
    bad = html.escape('{"kind": "attention", "prompt": "CBACAB", "temperature": Infinity}')
    index.write_text(text[: first.start(1)] + bad + text[first.end(1) :], encoding="utf-8")
    context = browser.new_context(reduced_motion="reduce")
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(index.as_uri())
    good = loaded_widget(page.locator(".nb-live-sampling").first)
    good.get_by_role("button", name="Play").click()
    sampled = sampling.sampling("char", "def", 0.8, 20, 3, 30)
    assert good.locator(".nb-live-text").inner_text() == sampled["text"]
    broken = page.locator(".nb-live").first
    assert "JSON" in broken.get_attribute("data-live-problem")
    assert broken.locator(".nb-live-static").is_visible()
    unknown = page.locator('.nb-live[data-live-problem*="nosuch"]')
    unknown.wait_for(state="attached", timeout=10_000)
    assert unknown.get_attribute("data-live-problem") == 'no live widget of kind "nosuch"'
    assert unknown.locator(".nb-live-static").is_visible()
    assert not errors, errors
    context.close()


EXPECTED_WARNINGS = {  # line in errors.rst -> what it says, and the hint
    4: ("unknown preset 'huge'", "sort, char"),
    6: ("unknown option(s) :temprature:", ":temperature:"),
    9: (":top-k: 'many' is not a whole number", ":top-k: 20"),
    12: ("'CBAXAB' cannot be read: characters outside the vocabulary: 'X'", "vocabulary"),
    15: ("more than block_size 11", "block_size"),
    18: (":steps: '9999' is not a whole number from 1 to 500", ":steps: 40"),
    21: ("the char model keeps no training replay", "only sort models"),
    23: (":ask: 'guess' is not a question kind", "strongest-key, next-token, accuracy-step"),
    26: (":threshold: '2' is not a number from 0.01 to 1.0", ":threshold: 0.9"),
    30: ("the sort model has layers 0 to 2", ":layer:"),
    34: (":temperature: 'inf' is not a number from 0.1 to 5.0", ":temperature: 0.8"),
    37: (":seed: '4294967296' is not a whole number from 0 to 4294967295", ":seed: 7"),
    40: ("the :prompt: 'C' is one token: a strongest-key question needs", "two tokens"),
    44: (":run: 'ppo' is not a run", "one of training, rl"),
}


@pytest.mark.sphinx("html", testroot="live-models", freshenv=True)
@pytest.mark.test_params(**MODELS_HTML_BUILD)
def test_every_problem_is_a_located_warning_with_a_hint(app, warning):
    app.build()
    warnings = strip_colors(warning.getvalue())
    found = dict(re.findall(r"errors\.rst:(\d+): WARNING: (.*\n  hint: .*)", warnings))
    assert sorted(map(int, found)) == sorted(EXPECTED_WARNINGS), warnings
    for line, (reason, hint) in EXPECTED_WARNINGS.items():
        text = found[str(line)]
        assert reason in text and hint in text.partition("hint:")[2], (line, text)
        directive = re.match(r"(live-attention|live-sampling|training-replay|predict-check) ", text)
        assert directive and text.endswith(f"[nanobook.{directive[1]}]")
    page = (app.outdir / "errors.html").read_text(encoding="utf-8")
    assert page.count("not available") == len(EXPECTED_WARNINGS)
    assert "data-nanobook-src" not in page


def test_the_temperature_question_needs_the_odds_not_the_screen():
    """The sampling chapter's question: the likeliest token's share at a temperature, among
    its shares at 1, at sqrt(tau) and at 1/tau; the two leaders' shares at 1 (all the
    reader needs) are in the question, the answer and its reason are not."""
    import math

    tau = 0.5
    question = predict.predict("char", "temperature-share", "My lord, the kin", tau, 0.9, None)
    shares = [float(value[:-1]) for value, _ in question["choices"]]
    assert len(shares) == 4 and shares == sorted(shares)
    assert question["answer"] == question["choices"][-1][0]  # sharper than at sqrt(tau)
    first, second = (float(p) / 100 for p in re.findall(r"([\d.]+)%", question["text"])[:2])
    odds = (first / second) ** (1 / tau)  # the reader's arithmetic, from the question alone
    assert question["answer"] not in question["text"]
    gap = float(re.search(r"by ([\d.]+), so", question["why"])[1])
    assert math.exp(gap) == pytest.approx(first / second, rel=0.01)
    assert math.exp(gap / tau) == pytest.approx(odds, rel=0.02)  # what the reason says
    said = float(re.search(r"to ([\d.]+)\.$", question["why"])[1])
    assert said == pytest.approx(odds, rel=0.02)


def test_the_temperature_question_keeps_three_figures_trailing_zeros_included():
    """Shares and odds side by side read alike: '83.0%' beside '12.9%', odds '15.0', not
    '83%' and '15'; no bare point ('148', not '148.'); an exponent of two digits at least,
    as nanobook_predict.js writes it too."""
    assert [predict.share_text(p) for p in (0.83, 0.129, 1.0, 0.05)] == [
        "83.0%",
        "12.9%",
        "100%",
        "5.00%",
    ]
    assert [predict.exp_text(x) for x in (0, 2.708, 5, 7.0, 9.21)] == [
        "1.00",
        "15.0",
        "148",
        "1.10e+03",
        "1.00e+04",
    ]
    assert predict.exp_text(720) == "4.92e+312"  # beyond a float, from the logarithm


def test_the_strongest_key_question_is_never_a_near_tie(monkeypatch):
    """The attention chapter's question asks where the strongest key leads the runner-up
    by the most, from the position that writes the first answer letter on: its answer
    leads by CLEAR_LEAD at least. Heads that spread their weight evenly give no question
    but a ValueError (a located warning on the page)."""
    from contextlib import contextmanager

    import torch

    from model_src import probe

    question = predict.predict("sort", "strongest-key", "CBCABC", 1.0, 0.9, 0)
    row = attention_kind.attention("sort", "CBCABC")["attention"][0][question["head"]][
        question["query"]
    ]
    first, second = sorted(row[: question["query"] + 1], reverse=True)[:2]
    assert question["answer"] == row.index(first) and first - second >= predict.CLEAR_LEAD
    assert question["query"] >= len("CBCABC") - 1
    # asked about layer 0, the question says whose most decided head it is, layer 0's, and
    # names it as the attention chapter does
    said = f"the most decided head in layer 0 is layer 0, head {question['head']}."
    assert said in question["text"]
    anywhere = predict.predict("sort", "strongest-key", "CBCABC", 1.0, 0.9, None)
    said = f"the most decided head of the model is layer {anywhere['layer']}, head "
    assert said + f"{anywhere['head']}." in anywhere["text"]

    @contextmanager
    def even_maps(model):  # every head of every layer: an even spread over 0 ... t
        T = model.config.block_size
        even = torch.tril(torch.ones(T, T)) / torch.arange(1, T + 1)[:, None]
        yield [even.expand(1, model.config.n_head, T, T)] * model.config.n_layer

    monkeypatch.setattr(probe, "attention_maps", even_maps)
    with pytest.raises(ValueError, match="no head decides clearly"):
        predict.predict("sort", "strongest-key", "CBCABC", 1.0, 0.9, None)


def test_the_static_rendering_prints_a_separator_the_char_model_draws():
    """The separator between plays prints as the book prints it, in the text and in the
    table, never as a character that shows nothing."""
    sep = shakespeare.SEPARATOR
    spec = SimpleNamespace(
        preset="char", prompt="Amen!", temperature=1.0, top_k=None, top_p=None, seed=0
    )
    steps = [{"drawn": ch, "candidates": [[ch, 0.5], ["A", 0.25]]} for ch in f"\n{sep}W"]
    text = "".join(node.astext() for node in sampling.sampling_fallback(spec, {"steps": steps}))
    assert f"↵{visible.token(sep)}W" in text and sep not in text


def test_the_layer_norm_eps_the_page_gets_is_the_one_the_model_uses():
    """The eps handed to the page is heard from the model as it runs: with it, F.layer_norm
    gives what the model's LayerNorm gives; one LayerNorm with an eps of its own is heard
    too, and refused, since the page's forward pass takes one."""
    import torch
    import torch.nn.functional as F

    from model_src import presets
    from model_src.model import GPT

    model = GPT(presets.gpt_config("sort"))
    eps = compute.layer_norm_eps(model)
    norm = model.transformer.ln_f
    x = torch.randn(2, 3, model.config.n_embd)
    assert torch.equal(norm(x), F.layer_norm(x, norm.weight.shape, norm.weight, norm.bias, eps=eps))
    norm.forward = lambda x: F.layer_norm(x, norm.weight.shape, norm.weight, norm.bias, 2 * eps)
    with pytest.raises(ValueError, match="LayerNorms use eps"):
        compute.layer_norm_eps(model)


def test_the_key_of_every_export_follows_the_functions_the_exporter_imports(tmp_path, monkeypatch):
    """Issue 30: the exports are keyed on compute.py and all it imports, so editing
    model_src/visible.py (how the fallbacks and the script print tokens) remakes them."""
    for package in ("ext", "model_src", "buildlib"):
        ignore = shutil.ignore_patterns("__pycache__", "static")
        shutil.copytree(REPO / package, tmp_path / package, ignore=ignore)
    monkeypatch.setattr(keys, "CODE_HOME", tmp_path)  # imports found in the copy
    monkeypatch.setattr(compute, "__file__", str(tmp_path / "ext" / "live_models" / "compute.py"))
    monkeypatch.setattr(compute, "model_weights", lambda preset: "w")
    parts = keys.producer_code(compute.__file__)
    assert any(part.startswith("model_src/visible.py=") for part in parts)
    before = compute.model_key("tiny")
    printing = tmp_path / "model_src" / "visible.py"
    separator = '"\\x03": "∎"'
    assert separator in printing.read_text()
    printing.write_text(printing.read_text().replace(separator, '"\\x03": "■"'))
    keys.producer_code.cache_clear()  # once per build process: a build reads code once
    assert compute.model_key("tiny") != before
    printing.write_text(printing.read_text() + "\n# a comment changes no key\n")
    keys.producer_code.cache_clear()
    after_comment = compute.model_key("tiny")
    printing.write_text(printing.read_text().replace("# a comment changes no key\n", ""))
    keys.producer_code.cache_clear()
    assert compute.model_key("tiny") == after_comment


# --- live-chat: the fine-tuning chapter's runs ------------------------------------------


def static_rows(page: str) -> list[list[list[str]]]:
    """Every table of the page's static renderings, as rows of cell texts."""
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(page, "html.parser")
    return [
        [[cell.get_text(strip=True) for cell in row.find_all(["td", "th"])] for row in table("tr")]
        for table in soup.select(".nb-live-static table")
    ]


@pytest.mark.sphinx("html", testroot="live-chat", freshenv=True)
@pytest.mark.test_params(**CHAT_HTML_BUILD)
def test_the_chat_widget_ships_each_run_and_a_static_conversation(app, warning, tmp_path):
    """Every run's script is shipped and named in the options with its label; without
    JavaScript the page shows the turn as chat.render lays it out (ids and mask) and each
    run's greedy reply, computed by PyTorch."""
    from model_src import chat

    app.build()
    assert "index.rst" not in strip_colors(warning.getvalue())
    page = (app.outdir / "index.html").read_text(encoding="utf-8")
    (chat_widget,) = [w for w in live_widgets(page) if "nb-live-chat" in w["class"]]
    options = chat_widget["data-live"]
    assert [run["script"] for run in options["runs"]] == ["finetune-hash", "finetune-mixture"]
    assert [run["name"] for run in options["runs"]] == ["#", "mixture"]
    for run in options["runs"]:
        assert re.fullmatch(rf"_live/{run['script']}-[0-9a-f]{{16}}\.js", run["src"])
        shipped = (app.outdir / run["src"]).read_bytes()
        assert shipped == compute.artifact(run["script"], tmp_path).read_bytes()
    assert options["requests"] == [[token, chat_kind.REQUEST_NAMES[token]] for token in chat.TASKS]
    assert len(chat_kind.REQUEST_NAMES) == len(chat.TASKS)
    assert "nanobook_chat.js" in page

    conversation, replies = static_rows(page)
    ids, trained = chat.render(chat.conversation("↑", "CABBAC"))
    assert conversation[1:] == [
        [str(t), chat.VOCAB[i], str(i), "scored" if scored else "not scored"]
        for t, (i, scored) in enumerate(zip(ids, trained, strict=True))
    ]
    asked = chat.prompt("↑", "CABBAC")
    right = " ".join(chat.VOCAB[i] for i in ids[len(asked) :])
    for row, run in zip(replies[1:], ("hash", "mixture"), strict=True):
        model = compute.trained_model(f"finetune-{run}").model
        reply = " ".join(chat.VOCAB[i] for i in chat_kind.chat_reply(model, asked)[0])
        assert row[1:] == [reply, "yes" if reply == right else "no"]
    assert [row[2] for row in replies[1:]] == ["no", "yes"]  # the # run forgot how to sort


@pytest.mark.parametrize("root", ["live-models", "live-chat"])
def test_a_rebuild_whose_results_are_stored_loads_no_model(root, make_app, rootdir, tmp_path):
    """Keys come from what the models' entries recorded and a stored result was checked
    when it was made: a rebuild that changes nothing loads no model and says nothing."""
    srcdir = tmp_path / root
    shutil.copytree(rootdir / f"test-{root}", srcdir)
    (srcdir / "errors.rst").write_text("Errors\n======\n\nNone: each is said on every build.\n")
    make_app("html", srcdir=srcdir, freshenv=True).build()
    loaded = []
    with pytest.MonkeyPatch.context() as patch:
        for loader in ("trained_model", "chat_model", "tool_model"):
            patch.setattr(compute, loader, lambda *args, name=loader: loaded.append(name))
        again = make_app("html", srcdir=srcdir)
        again.build()
    assert not loaded
    assert "nanobook" not in strip_colors(again._warning.getvalue())


@pytest.mark.sphinx("text", testroot="live-chat", freshenv=True)
def test_the_chat_widget_is_a_table_in_text(app):
    app.build()
    text = (app.outdir / "index.txt").read_text(encoding="utf-8")
    assert "<assistant>" in text and "not scored" in text and "its reply" in text
    assert "mixture (fine-tuned on # and ↑)" in text


CHAT_WARNINGS = {  # line in errors.rst -> what it says, and the hint
    4: ("unknown run(s) 'lora'", "chat, chat-unmasked, hash"),
    7: ("unknown run(s) 'sort'", "mixture, lora-r8"),
    11: ("a run named twice", "name each once"),
    15: ("'CAB' cannot be read: it must start with a request, ↑ or #", "e.g. :prompt: ↑ABC"),
    18: ("7 letters, but ↑ with its reply fits at most 6", "then letters (ABC)"),
    21: ("letters other than A, B, C: 'D'", "a request (↑ or #)"),
    24: ("unknown option(s) :runs:", ":prompt:, :compare:"),
    28: (":prompt: is empty", "give the input"),
}


@pytest.mark.sphinx("html", testroot="live-chat", freshenv=True)
@pytest.mark.test_params(**CHAT_HTML_BUILD)
def test_every_chat_problem_is_a_located_warning_with_a_hint(app, warning):
    app.build()
    warnings = strip_colors(warning.getvalue())
    found = dict(re.findall(r"errors\.rst:(\d+): WARNING: (.*\n  hint: .*)", warnings))
    assert sorted(map(int, found)) == sorted(CHAT_WARNINGS), warnings
    for line, (reason, hint) in CHAT_WARNINGS.items():
        text = found[str(line)]
        assert text.startswith("live-chat ") and reason in text, (line, text)
        assert hint in text.partition("hint:")[2] and text.endswith("[nanobook.live-chat]")
    page = (app.outdir / "errors.html").read_text(encoding="utf-8")
    assert page.count("not available") == len(CHAT_WARNINGS)
    assert "data-nanobook-src" not in page
