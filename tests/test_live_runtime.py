"""The browser runtime (ext/live_models/static/nanobook_live.js) against PyTorch.

The exported artifacts of both presets are loaded in Debian's chromium from a page
opened as a file (file://, where fetches and module scripts are refused), and the
runtime's forward pass, attention maps, greedy and seeded generation are compared
with model_src on random inputs.
"""

from __future__ import annotations

import functools
import math
import random
import shutil
from pathlib import Path

import pytest
import torch
from pages import evaluate_in_json, page_without_uncaught_exceptions

from ext.live_models import compute
from ext.live_models.kinds import chat as chat_kind
from ext.live_models.kinds import sampling
from model_src import probe, trained

pytestmark = pytest.mark.browser

STATIC = Path(compute.__file__).parent / "static"
PRESETS = ("sort", "char")
INPUTS = 50


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("live")
    return {name: compute.artifact(name, folder) for name in PRESETS}


def open_runtime(artifacts, browser, site: Path, policy: str = "") -> tuple:
    """A bare page opened from disk, holding the runtime and the two models' addresses,
    under a Content-Security-Policy if given; its context and the errors it reported."""
    shutil.copy(STATIC / "nanobook_live.js", site)
    holders = "".join(
        f'<div data-nanobook-model="{name}" data-nanobook-src="{path.as_uri()}"></div>'
        for name, path in artifacts.items()
    )
    head = f'<meta http-equiv="Content-Security-Policy" content="{policy}">' if policy else ""
    (site / "index.html").write_text(
        f'<!doctype html><meta charset="utf-8">{head}<title>live</title>{holders}'
        '<script src="nanobook_live.js"></script>'
    )
    context = browser.new_context()
    page = context.new_page()
    errors: list[str] = []
    if not policy:  # under a policy, the browser reports what it refused as an error
        page.on("console", lambda m: m.type == "error" and errors.append(m.text))
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto((site / "index.html").as_uri())
    return context, page, errors


@pytest.fixture(scope="module")
def runtime_page(artifacts, browser, tmp_path_factory):
    context, page, errors = open_runtime(artifacts, browser, tmp_path_factory.mktemp("page"))
    yield page
    assert not errors, errors
    context.close()


@pytest.fixture(scope="module")
def strict_page(artifacts, browser, tmp_path_factory):
    """The same page under a policy that lets scripts from the site run but forbids
    compiling WebAssembly (no 'wasm-unsafe-eval')."""
    site = tmp_path_factory.mktemp("strict")
    context, page, errors = open_runtime(artifacts, browser, site, "script-src 'self'")
    yield page
    assert not errors, errors
    context.close()


@functools.cache
def book_model(name: str):
    """The book's trained model of preset `name`, in eval mode, read once: each
    trained.get loads it from the cache."""
    return trained.get(name).model.eval()


def random_inputs(name: str, count: int) -> list[list[int]]:
    config = book_model(name).config
    rng = random.Random(f"live-{name}")
    lengths = [config.block_size, 1] + [rng.randint(1, config.block_size) for _ in range(count - 2)]
    return [[rng.randrange(config.vocab_size) for _ in range(n)] for n in lengths]


RUN_FORWARD = """async ([name, inputs]) => {
  const model = await nanobook.model(name);
  return inputs.map(ids => {
    const {logits, attention} = model.forward(ids);
    return {logits: logits.map(r => Array.from(r)),
            attention: attention.map(l => l.map(h => h.map(r => Array.from(r))))};
  });
}"""


@pytest.mark.parametrize("name", PRESETS)
def test_forward_equals_pytorch(runtime_page, name):
    model = book_model(name)
    inputs = random_inputs(name, INPUTS)
    results = evaluate_in_json(runtime_page, RUN_FORWARD, [name, inputs])
    worst_logits = worst_attention = 0.0
    for ids, result in zip(inputs, results, strict=True):
        idx = torch.tensor([ids])
        with torch.no_grad(), probe.attention_maps(model) as maps:
            logits, _ = model(idx, targets=idx)  # targets: logits at every position
        js_logits = torch.tensor(result["logits"], dtype=torch.float64)
        worst_logits = max(worst_logits, (js_logits - logits[0].double()).abs().max().item())
        for layer, js_layer in zip(maps, result["attention"], strict=True):
            js_maps = torch.tensor(js_layer, dtype=torch.float64)  # (nh, T, T)
            worst_attention = max(worst_attention, (js_maps - layer[0].double()).abs().max().item())
    assert worst_logits <= 1e-4, f"{name}: logits differ by up to {worst_logits:.2e}"
    assert worst_attention <= 1e-5, f"{name}: attention differs by up to {worst_attention:.2e}"


@pytest.mark.parametrize("name", PRESETS)
def test_greedy_generation_equals_pytorch(runtime_page, name):
    model = book_model(name)
    steps = 8 if name == "char" else 5
    prompts = [ids[: max(1, len(ids) // 2)] for ids in random_inputs(name, INPUTS)]
    generated = runtime_page.evaluate(
        """async ([name, prompts, steps]) => {
             const model = await nanobook.model(name);
             return prompts.map(ids => model.generate(ids, {steps, topK: 1}).ids);
           }""",
        [name, prompts, steps],
    )
    for prompt, js_ids in zip(prompts, generated, strict=True):
        with torch.no_grad():
            expected = model.generate(torch.tensor([prompt]), steps, top_k=1)[0].tolist()
        assert js_ids == expected, f"{name}: greedy from {prompt} differs"


def test_seeded_sampling_is_what_the_build_shows(runtime_page):
    """The static fallback's draws (compute.sampling) are the browser's for that seed."""
    prompt, steps = "The model ", 40
    for temperature, top_k, seed in [(0.8, 20, 7), (1.3, None, 123456789)]:
        built = sampling.sampling("char", prompt, temperature, top_k, seed, steps)
        text = runtime_page.evaluate(
            """async ([prompt, steps, temperature, topK, seed]) => {
                 const m = await nanobook.model("char");
                 const options = {steps, temperature, topK, seed};
                 return m.decode(m.generate(m.encode(prompt), options).ids);
               }""",
            [prompt, steps, temperature, top_k, seed],
        )
        assert text == built["text"]


def test_the_normal_distribution_is_accurate(runtime_page):
    """GELU's Φ and its slope's φ, from the runtime's table, against the math module's
    erf and exp: on a grid that crosses the table's points, its midpoints and its ends."""
    xs = [i / 128 + 1e-9 * (i % 3) for i in range(-1200, 1201)]
    values = runtime_page.evaluate("xs => xs.map(nanobook._normal)", xs)
    worst_cdf = worst_density = 0.0
    for x, value in zip(xs, values, strict=True):
        worst_cdf = max(worst_cdf, abs(value["cdf"] - 0.5 * (1 + math.erf(x / math.sqrt(2)))))
        density = math.exp(-x * x / 2) / math.sqrt(2 * math.pi)
        worst_density = max(worst_density, abs(value["density"] - density))
    assert worst_cdf < 1e-15, worst_cdf
    assert worst_density < 1e-15, worst_density


# (rows, terms, columns, a's step from one row to the next, from one term to the next,
# init's from one row to the next): a forward pass (a = x, from the bias), an input's
# gradient (a = dy, from zeros) and a weight's (a = dy read down its columns, adding to
# out), with odd rows and columns.
PRODUCT_SHAPES = (
    (22, 8, 24, 8, 1, 0),
    (3, 3000, 5, 3000, 1, 0),  # more than the kernel's first memory: it grows
    (7, 13, 9, 13, 1, 0),
    (5, 22, 3, 1, 5, 3),
    (1, 1, 1, 1, 1, 1),
)
PRODUCTS_CODE = """([R, J, I, aRow, aStep, initRow]) => {
  let seed = 7;
  const draw = () => ((seed = (seed * 16807) % 2147483647) / 2147483647) - 0.5;
  const a = Float64Array.from({ length: (R - 1) * aRow + (J - 1) * aStep + 1 }, draw);
  const q = Float32Array.from({ length: J * I }, draw);
  const start = Float64Array.from({ length: initRow ? R * I : I }, draw);
  const run = (engine) => {
    const memory = nanobook._kernelMemory(engine);
    memory.start();
    const [aAt, qAt, startAt] = [memory.put(a), memory.put(q), memory.put(start)];
    const out = initRow ? startAt : memory.reserve(R * I);
    memory.products(out, startAt, initRow, aAt, aRow, aStep, qAt, R, J, I);
    return [...memory.take(out, R * I)];
  };
  return { a: [...a], q: [...q], start: [...start], engine: nanobook._kernel.engine,
           kernel: run("WebAssembly"), plain: run("JavaScript") };
}"""


@pytest.mark.parametrize("shape", PRODUCT_SHAPES, ids=lambda s: "x".join(map(str, s[:3])))
def test_products_run_in_webassembly_as_in_plain_javascript(runtime_page, shape):
    """The linear layers' products run in the WebAssembly kernel, which gives the plain
    JavaScript engine's sums bit for bit, and float64 PyTorch's to its rounding."""
    got = runtime_page.evaluate(PRODUCTS_CODE, list(shape))
    assert got["engine"] == "WebAssembly"
    assert got["kernel"] == got["plain"]
    rows, terms, columns, row_step, term_step, _ = shape
    a = torch.tensor(got["a"], dtype=torch.float64)
    picked = a[torch.arange(rows)[:, None] * row_step + torch.arange(terms)[None, :] * term_step]
    q = torch.tensor(got["q"], dtype=torch.float64).view(terms, columns)
    start = torch.tensor(got["start"], dtype=torch.float64).view(-1, columns)
    expected = start + picked @ q
    kernel = torch.tensor(got["kernel"], dtype=torch.float64).view(rows, columns)
    assert torch.allclose(kernel, expected, rtol=0, atol=1e-13)


def test_a_page_that_forbids_webassembly_gets_the_same_numbers(runtime_page, strict_page):
    """Where the page's policy forbids compiling WebAssembly, the runtime computes in
    plain JavaScript, and its forward pass gives the WebAssembly page's logits and
    attention bit for bit."""
    assert runtime_page.evaluate("nanobook._kernel.engine") == "WebAssembly"
    assert strict_page.evaluate("nanobook._kernel.engine") == "JavaScript"
    for name in PRESETS:
        inputs = random_inputs(name, 5)
        strict = evaluate_in_json(strict_page, RUN_FORWARD, [name, inputs])
        assert strict == evaluate_in_json(runtime_page, RUN_FORWARD, [name, inputs])


def test_trace_keeps_scores_masks_and_shapes(runtime_page):
    trace = runtime_page.evaluate(
        """async () => {
             const m = await nanobook.model("sort");
             const {trace} = m.forward(m.encode("CBACAB"), {trace: true});
             const head = trace.layers[1].heads[2];
             return {scores: Array.from(head.scores[3]), masked: Array.from(head.masked[3]),
                     softmax: Array.from(head.softmax[3]), shapes: trace.shapes};
           }"""
    )
    assert trace["masked"][:4] == trace["scores"][:4]
    assert all(v is None or v == -math.inf for v in trace["masked"][4:])  # -Infinity
    assert trace["softmax"][4:] == [0, 0] and abs(sum(trace["softmax"]) - 1) < 1e-12
    assert trace["shapes"]["attn.att"] == [1, 3, 6, 6]
    assert trace["shapes"]["logits"] == [1, 6, 3]


def test_artifacts_are_small_and_content_addressed(artifacts, tmp_path):
    assert artifacts["sort"].stat().st_size <= 400_000
    assert artifacts["char"].stat().st_size <= 2_000_000
    again = compute.artifact("sort", tmp_path)
    assert again.name == artifacts["sort"].name
    assert again.read_bytes() == artifacts["sort"].read_bytes()


@pytest.fixture(scope="module")
def bare_runtime(browser, tmp_path_factory):
    """The runtime alone, on a page opened from disk: no model loaded."""
    site = tmp_path_factory.mktemp("bare")
    shutil.copy(STATIC / "nanobook_live.js", site)
    (site / "index.html").write_text(
        '<!doctype html><meta charset="utf-8"><title>runtime</title>'
        '<script src="nanobook_live.js"></script>'
    )
    context = browser.new_context()
    page = context.new_page()
    page.goto((site / "index.html").as_uri())
    yield page
    context.close()


def test_top_k_and_top_p_probabilities_equal_pytorch(bare_runtime):
    """The runtime's next-token probabilities with temperature, top-k and top-p against
    compute.next_token_probs, which uses model.top_p_logits."""
    generator = torch.Generator().manual_seed(0)
    cases = [(0.8, None, 0.9), (1.0, None, 0.5), (1.3, 20, 0.95), (0.5, None, 0.0), (1.0, 5, 1.0)]
    for temperature, top_k, top_p in cases:
        logits = torch.randn(96, generator=generator) * 3
        expected = compute.next_token_probs(logits, temperature, top_k, top_p)
        got = bare_runtime.evaluate(
            """([logits, temperature, topK, topP]) => Array.from(nanobook.Model.prototype
                 .probabilities.call(null, logits, {temperature, topK, topP}))""",
            [logits.tolist(), temperature, top_k, top_p],
        )
        assert max(abs(a - b) for a, b in zip(got, expected, strict=True)) < 1e-9
        kept = expected > 0
        assert expected[kept].sum() == pytest.approx(1)
        # the kept tokens are the fewest likeliest whose probability reaches top_p
        full = compute.next_token_probs(logits, temperature, top_k)
        ranked = sorted(full, reverse=True)
        assert sum(ranked[: kept.sum() - 1]) < top_p or kept.sum() == 1


# --- the calculator model and its engine (nanobook_tools.js) -----------------------------


def page_with_scripts(browser, site, script: str, holders: str):
    """A page from disk with the runtime, the widgets' helpers, ``script`` and the model
    holders; yields it, then checks that no script threw."""
    for name in ("nanobook_live.js", "nanobook_widgets.js", script):
        shutil.copy(STATIC / name, site)
    (site / "index.html").write_text(
        f'<!doctype html><meta charset="utf-8"><title>{script}</title>{holders}'
        '<script src="nanobook_live.js"></script><script src="nanobook_widgets.js"></script>'
        f'<script src="{script}"></script>'
    )
    yield from page_without_uncaught_exceptions(browser, (site / "index.html").as_uri())


@pytest.fixture(scope="module")
def tools_page(browser, tmp_path_factory):
    """The runtime, the widgets' helpers and the engine, with the calculator model."""
    site = tmp_path_factory.mktemp("tools")
    artifact = compute.artifact("calculator", site)
    holder = f'<div data-nanobook-model="calculator" data-nanobook-src="{artifact.as_uri()}"></div>'
    yield from page_with_scripts(browser, site, "nanobook_tools.js", holder)


# Typed prompts: good ones and bad ones (empty, unknown characters, one too many).
TYPED = {
    "sort": ["CBACAB", "", "cbacab", "CBAXAB", "AB é", "B"],
    "char": ["KING RICHARD:", "", "ROMEO:\nO", "naïve café", "😀", "x"],
    "calculator": ["136+044=", "", "1+1=x", "9"],
}

PROBLEM_WITH = """([rule, name, prompts]) =>
  prompts.map((text) => nanobook.widgets.problemWith(rule, name, text))"""


@pytest.mark.parametrize("name", TYPED)
def test_the_page_and_the_build_refuse_the_same_prompts(tools_page, name):
    """The page's check (problemWith, nanobook_widgets.js) applies the rule the build hands
    it (compute.prompt_rule): it refuses what compute.check_prompt refuses, and only that."""
    rule = compute.prompt_rule(compute.trained_model(name))
    letter = next(c for c in rule["characters"] if len(c) == 1 and c.isalnum())
    longest = letter * rule["longest"]
    prompts = [*TYPED[name], longest, longest + letter]
    said = tools_page.evaluate(PROBLEM_WITH, [rule, name, prompts])
    build = [compute.check_prompt(rule, prompt) for prompt in prompts]
    answers = list(zip(prompts, said, build, strict=True))
    assert [p is None for p in said] == [b is None for b in build], answers
    assert None in build and any(build), build  # good and bad prompts both


def test_the_browser_calculator_is_the_engines(tools_page):
    """Every expression, well-formed or not, gets the same result and the same reason."""
    from model_src import engine

    rng = random.Random("calculator")
    alphabet = "0123456789+-=<>.ER"
    expressions = [
        "",
        "+",
        "-7",
        "123+045",
        "7-10",
        "999999+1",
        "-999999-1",
        "1234567",
        "0000009+1",
        "1++2",
        "12+",
        "(1+2)",
        "1 + 2",
        "٣+1",
        "__import__('os')",
    ]
    expressions += [
        "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 12))) for _ in range(300)
    ]
    expressions += [
        f"{rng.randint(0, 10**7)}{rng.choice('+-')}{rng.randint(0, 10**7)}" for _ in range(200)
    ]
    got = tools_page.evaluate(
        """async (expressions) => {
             const model = await nanobook.model("calculator");
             return expressions.map(e => { const r = nanobook.tools.calculate(e, model.tool);
                                           return [r.result, r.error]; });
           }""",
        expressions,
    )
    assert got == [list(engine.calculate(e)) for e in expressions]


def test_the_browser_engine_completes_as_pytorch(tools_page):
    """Greedy completions, tool on and off: the same tokens, the same forced ones, the same
    calls, on held-out problems and on prompts the model never saw the like of."""
    from model_src import arithmetic, engine
    from model_src.experiments import arithmetic_runs

    model = arithmetic_runs.get("calculator", arithmetic_runs.shown_seed("calculator"))["model"]
    prompts = [arithmetic.prompt(a, b) for a, b in arithmetic.held_out()[:12].tolist()]
    prompts += ["999+999=", "000+000=", "1234+5678=", "5=", "12-345=", "<1+2>", "="]
    expected = [
        [done.ids, done.forced, [[c.expression, c.result, c.error] for c in done.calls]]
        for tool in (engine.calculate, None)
        for done in (engine.complete(model, arithmetic.TOKENIZER, p, tool=tool) for p in prompts)
    ]
    got = tools_page.evaluate(
        """async (prompts) => {
             const model = await nanobook.model("calculator");
             return [true, false].flatMap(tool => prompts.map(p => {
               const done = nanobook.tools.complete(model, p, {tool});
               const calls = done.calls.map(c => [c.expression, c.result, c.error]);
               return [done.ids, done.forced, calls];
             }));
           }""",
        prompts,
    )
    assert got == expected
    assert any(calls for _, _, calls in expected)  # the tool was used


# --- the fine-tuned chat models and their conversation rules (nanobook_chat.js) ----------

CHAT_RUNS = ("mixture", "hash", "lora-r8")  # both skills; # alone; # through merged adapters


@pytest.fixture(scope="module")
def chat_page(browser, tmp_path_factory):
    """The runtime, the widgets' helpers and the chat rules, with three runs' models."""
    from ext.live_models.names import chat_script

    site = tmp_path_factory.mktemp("chat")
    holders = "".join(
        f'<div data-nanobook-model="{chat_script(run)}" '
        f'data-nanobook-src="{compute.artifact(chat_script(run), site).as_uri()}"></div>'
        for run in CHAT_RUNS
    )
    yield from page_with_scripts(browser, site, "nanobook_chat.js", holders)


def chat_turns(count: int) -> list[str]:
    """User turns of every kind: held-out ones of both tasks, the shortest and the longest
    each request takes, and turns no run was trained on (a letter repeated)."""
    from model_src import chat, finetune

    turns = [request + text for request in chat.TASKS for text in finetune.letters(request, "val")]
    rng = random.Random("chat")
    picked = rng.sample(turns, count)
    longest = {request: max(map(len, compute.right_replies(request))) for request in chat.TASKS}
    for request, most in longest.items():
        picked += [request + "A", request + "C" * most, request + "B" * (most - 1) + "A"]
    return picked


def test_the_browser_chat_models_reply_as_pytorch(chat_page):
    """Greedy replies up to <end>: the same tokens and, at every step, the same logits
    (within 1e-4), for every run, on each request, asked of models that learned it and
    of the one that forgot it."""
    from ext.live_models.names import chat_script
    from model_src import chat

    turns = chat_turns(10)
    asked = [chat.prompt(turn[:1], turn[1:]) for turn in turns]
    for run in CHAT_RUNS:
        script = chat_script(run)
        model = compute.trained_model(script).model
        got = chat_page.evaluate(
            """async ([script, prompts]) => {
                 const model = await nanobook.model(script);
                 return prompts.map(ids => nanobook.chat.reply(model, ids));
               }""",
            [script, asked],
        )
        worst = 0.0
        for ids, reply in zip(asked, got, strict=True):
            expected, logits = chat_kind.chat_reply(model, ids)
            assert reply["ids"] == expected, (run, chat.VOCAB, ids)
            difference = torch.tensor(reply["logits"]) - torch.tensor(logits, dtype=torch.float64)
            worst = max(worst, difference.abs().max().item())
        assert worst <= 1e-4, f"{run}: logits differ by up to {worst:.2e}"
        if run == "hash":  # the run that forgot ↑: its wrong replies are compared too
            right = right_replies(turns)
            assert any(reply["ids"] != r for reply, r in zip(got, right, strict=True))


def right_replies(turns: list[str]) -> list[list[int]]:
    """The reply tokens of each turn's conversation, as chat.render lays them out."""
    from model_src import chat

    replies = []
    for turn in turns:
        ids, _ = chat.render(chat.conversation(turn[:1], turn[1:]))
        replies.append(ids[len(chat.prompt(turn[:1], turn[1:])) :])
    return replies


def test_the_browser_lays_out_conversations_as_chat_render(chat_page):
    """The mask, the prompt and the right reply from the exported rules: chat.render,
    chat.prompt and chat.TASKS on shuffled turns, and the same turns refused as the
    build refuses a :prompt: (too many letters, a strange letter, no request)."""
    from model_src import chat

    rng = random.Random("render")
    turns = chat_turns(200)
    turns = [turn[:1] + "".join(rng.sample(turn[1:], len(turn) - 1)) for turn in turns]
    refused = ["↑", "↑CAD", "↑ABCABCA", "#" + "AB" * 6, "CAB", "↑abc", "#A B"]
    got = chat_page.evaluate(
        """async ([turns, refused]) => {
             const model = await nanobook.model("finetune-mixture");
             const chat = nanobook.chat;
             const split = (turn) => [turn[0], turn.slice(1)];
             return {
               rendered: turns.map(turn => {
                 const [request, letters] = split(turn);
                 const right = chat.rightReply(model, request, letters);
                 return [chat.render(model, [["user", turn], ["assistant", right]]),
                         chat.prompt(model, request, letters), right,
                         chat.problem(model, request, letters)];
               }),
               refused: refused.map(turn => chat.problem(model, ...split(turn))),
               free: chat.render(model, [["user", "#AB"], ["assistant", "C"], ["user", "↑BA"]]),
             };
           }""",
        [turns, refused],
    )
    for turn, (rendered, asked, right, problem) in zip(turns, got["rendered"], strict=True):
        request, letters = turn[:1], turn[1:]
        ids, trained_flags = chat.render(chat.conversation(request, letters))
        assert rendered == {"ids": ids, "trained": trained_flags}, turn
        assert asked == chat.prompt(request, letters) and right == chat.TASKS[request](letters)
        assert problem is None and chat_kind.chat_prompt_problem(turn) is None
    for turn, problem in zip(refused, got["refused"], strict=True):
        assert problem and chat_kind.chat_prompt_problem(turn), turn
    ids, trained_flags = chat.render([("user", "#AB"), ("assistant", "C"), ("user", "↑BA")])
    assert got["free"] == {"ids": ids, "trained": trained_flags}
