"""The page's trainer (ext/live_models/static/nanobook_train.js) against model_src/train.py.

From the same weights and the same batches, steps taken in Debian's chromium are compared
with iterations of ``train.fit``'s own loop: the optimizer ``GPT.configure_optimizers``
builds, ``get_lr``'s schedule, ``clip_grad_norm_``, gradient accumulation. The page reads
every setting and the optimizer's groups from ``ext/live_models/training.py``, as a
page would be handed them; the settings a reader may change go through it too.

The page computes in float64 and keeps the weights and AdamW's moments in float32 between
steps, rounding them after each step; so does ``train.fit`` in the sort preset's
arithmetic (its ``dtype`` setting, float64: ``train.arithmetic``). Against it, from a
float32 model, the page gives every loss within 1e-10 over 20 steps and a run's records
too; one step, for any settings a reader may choose, gives every gradient and every
updated weight within 1e-5 relative, plus 1e-9 of its tensor's largest entry for the
entries that are zero but for rounding. Against float32 arithmetic (``dtype="float32"``)
the gradients agree to float32's rounding (1e-5 of each tensor's scale) and the losses of
20 steps in a row to 1e-4. Weights are not compared one by one there: AdamW divides each
gradient by its own size, so an entry whose exact gradient is 0 (a key bias: softmax
ignores a shift shared by a row's scores) is float32's rounding noise, ~1e-11, which
over eps = 1e-8 moves that weight by a thousandth of the learning rate.
"""

from __future__ import annotations

import copy
import functools
import shutil
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import torch
from pages import evaluate_in_json, page_without_uncaught_exceptions
from weights import assert_equal_but_key_biases

from ext.live_models import training
from ext.live_models.compute import weight_tensors
from model_src import prepare, presets, train
from model_src.model import GPT, GPTConfig

pytestmark = pytest.mark.browser

STATIC = Path(training.__file__).parent / "static"
PRESET = "sort"

# (train.py overrides, the step the schedule starts at): the book's settings inside the
# warmup and inside the cosine, then settings a reader could choose.
CASES = {
    "book, first step": ({}, 0),
    "book, cosine": ({}, 350),
    "1 layer, 2 heads of 16, no clipping, no warmup, 3x the rate": (
        {
            "n_layer": 1,
            "n_head": 2,
            "n_embd": 32,
            "grad_clip": 0.0,
            "warmup_iters": 0,
            "learning_rate": 3e-2,
        },
        7,
    ),
    "no biases, 4 heads, small batch, past the decay, strong decay": (
        {
            "n_layer": 2,
            "n_head": 4,
            "n_embd": 64,
            "bias": False,
            "batch_size": 8,
            "weight_decay": 0.5,
            "beta2": 0.95,
            "min_lr": 2e-3,
        },
        700,
    ),
    "accumulation of 3, tight clipping, constant rate": (
        {
            "gradient_accumulation_steps": 3,
            "grad_clip": 0.05,
            "decay_lr": False,
            "batch_size": 5,
            "beta1": 0.8,
        },
        0,
    ),
}


SCRIPTS = ("nanobook_live.js", "nanobook_train.js", "nanobook_train_worker.js")


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    """A folder with the runtime, the trainer, its worker and a bare page loading the two."""
    folder = tmp_path_factory.mktemp("training")
    for script in SCRIPTS:
        shutil.copy(STATIC / script, folder)
    (folder / "index.html").write_text(
        '<!doctype html><meta charset="utf-8"><title>training</title>'
        '<script src="nanobook_live.js"></script><script src="nanobook_train.js"></script>'
    )
    return folder


@pytest.fixture(scope="module")
def page(browser, site):
    """The page opened from disk (file://), where no worker script may start."""
    yield from page_without_uncaught_exceptions(browser, (site / "index.html").as_uri())


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


@pytest.fixture(scope="module")
def served_page(browser, site):
    """The page served over http, as a published book is."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(QuietHandler, directory=site))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    address = f"http://127.0.0.1:{server.server_port}/index.html"
    yield from page_without_uncaught_exceptions(browser, address)
    server.shutdown()
    thread.join()


def start_model(rules: dict, seed: int) -> GPT:
    """A model as train.py initialises it, shaped as the rules say."""
    torch.manual_seed(seed)
    return GPT(GPTConfig(**rules["config"]))


def sort_batches(settings: dict, steps: int, seed: int) -> list[list[tuple]]:
    """`steps` optimiser steps' worth of training batches, each a list of micro-batches."""
    data = presets.dataset(PRESET)
    generator = torch.Generator().manual_seed(seed)
    size, block = settings["batch_size"], settings["block_size"]
    return [
        [
            prepare.sample_batch(data.train, data.meta, size, block, generator)
            for _ in range(settings["gradient_accumulation_steps"])
        ]
        for _ in range(steps)
    ]


def train_py(model: GPT, overrides: dict, batches: list[list[tuple]], start_iter: int) -> dict:
    """train.fit from start_iter over `batches`, on a copy of `model`: the gradients of the
    first step before clipping (what the micro-batches' backward() left in .grad), the
    trained copy and its weights, and the logged losses."""
    model = copy.deepcopy(model)
    served = iter([micro for step in batches for micro in step])
    accum = len(batches[0])
    calls = [0]

    def batch_of(split: str, generator):
        calls[0] += split == "train"
        return next(served, batches[0][0])  # after the steps, fit's evaluation reads these

    grads = {}
    for name, param in model.named_parameters():

        def keep(p, name=name):
            if calls[0] <= accum:  # the first step's micro-batches
                grads[name] = p.grad.detach().clone()

        param.register_post_accumulate_grad_hook(keep)
    settings = {**overrides, "max_iters": start_iter + len(batches), "eval_iters": 1}
    cfg = train.resolve_config(presets.config_file(PRESET), {**settings, "log_interval": 1})
    summary = train.fit(model, cfg, batch_of, start_iter=start_iter)
    losses = [record["loss"] for record in summary["log"]]
    return {
        "grads": grads,
        "model": model,
        "weights": dict(weight_tensors(model)),
        "losses": losses,
    }


RUN_STEPS = """([rules, weights, startIter, batches, probe]) => {
  const trainer = nanobook.training.trainer({config: rules.config, weights, rules, startIter});
  const grads = trainer.zeroGradients();
  for (const micro of batches[0]) trainer.gradients(micro, grads, 1 / batches[0].length);
  const steps = batches.map((micro) => trainer.step(micro));
  const plain = (o) => Object.fromEntries(Object.entries(o).map(([k, v]) => [k, Array.from(v)]));
  const model = trainer.model({name: "trained", vocab: ["A", "B", "C"], shown: ["A", "B", "C"]});
  const logits = Array.from(model.forward(probe).logits, (row) => Array.from(row));
  return {grads: plain(grads), weights: plain(trainer.params), steps, logits};
}"""


def run_in_page(page, rules: dict, model: GPT, start_iter: int, batches) -> dict:
    weights = {name: t.flatten().tolist() for name, t in weight_tensors(model)}
    plain = [[{"x": x.tolist(), "y": y.tolist()} for x, y in step] for step in batches]
    probe = batches[0][0][0][0].tolist()
    return evaluate_in_json(page, RUN_STEPS, [rules, weights, start_iter, plain, probe])


def worst(got: dict, expected: dict, floor: float) -> tuple[float, float, str]:
    """The largest |got - expected| / (|expected| + floor * max|expected tensor|) over all
    entries of all tensors, that difference relative to its tensor's largest entry, and
    the tensor's name."""
    assert set(got) == set(expected)
    result = (0.0, 0.0, "")
    for name, reference in expected.items():
        reference = reference.double()
        value = torch.tensor(got[name], dtype=torch.float64).reshape(reference.shape)
        scale = reference.abs().max().item()
        gap = (value - reference).abs()
        relative = (gap / (reference.abs() + floor * scale)).max().item()
        result = max(result, (relative, gap.max().item() / scale, name))
    return result


@pytest.mark.parametrize("case", CASES)
def test_one_step_equals_train_py(page, case):
    """Every gradient and every updated weight of one step, against train.fit in the
    preset's arithmetic (float64 over float32 weights)."""
    overrides, start_iter = CASES[case]
    rules = training.training_rules(PRESET, **overrides)
    model = start_model(rules, seed=len(case))
    batches = sort_batches(rules["settings"], steps=1, seed=start_iter)
    got = run_in_page(page, rules, model, start_iter, batches)
    expected = train_py(model, overrides, batches, start_iter)

    relative, _, name = worst(got["grads"], expected["grads"], floor=1e-4)
    assert relative <= 1e-5, f"{case}: gradient of {name} off by {relative:.1e} relative"
    relative, _, name = worst(got["weights"], expected["weights"], floor=1e-4)
    assert relative <= 1e-5, f"{case}: updated {name} off by {relative:.1e} relative"
    assert got["steps"][0]["loss"] == pytest.approx(expected["losses"][0], rel=1e-12)
    assert got["steps"][0]["lr"] == pytest.approx(train.get_lr(start_iter, rules["settings"]))
    clipped = got["steps"][0]["norm"] is not None
    assert clipped == bool(rules["settings"]["grad_clip"])


def test_the_cases_clip_and_do_not(page):
    """The cases exercise clipping: the tight clip's norm is above its limit."""
    overrides, start_iter = CASES["accumulation of 3, tight clipping, constant rate"]
    rules = training.training_rules(PRESET, **overrides)
    batches = sort_batches(rules["settings"], steps=1, seed=0)
    got = run_in_page(page, rules, start_model(rules, seed=0), start_iter, batches)
    assert got["steps"][0]["norm"] > 10 * rules["settings"]["grad_clip"]


def test_gradients_equal_float32_pytorch(page):
    """The book's step against train.fit in float32 arithmetic: the gradients agree to
    float32's rounding, relative to each tensor's scale."""
    rules = training.training_rules(PRESET)
    model = start_model(rules, seed=1)
    batches = sort_batches(rules["settings"], steps=1, seed=1)
    got = run_in_page(page, rules, model, 0, batches)
    expected = train_py(model, {"dtype": "float32"}, batches, 0)
    relative, _, name = worst(got["grads"], expected["grads"], floor=1)
    assert relative <= 1e-5, f"gradient of {name} off by {relative:.1e} of its tensor's scale"


def test_twenty_steps_follow_pytorch(page):
    """20 steps in a row with the book's settings: every loss within 1e-10 of train.fit's
    (within 1e-4 in float32 arithmetic), the same float32 weights, and the trained model
    the page hands on reads as PyTorch's trained model does."""
    rules = training.training_rules(PRESET)
    model = start_model(rules, seed=2)
    batches = sort_batches(rules["settings"], steps=20, seed=2)
    got = run_in_page(page, rules, model, 0, batches)
    losses = [step["loss"] for step in got["steps"]]
    as_float32 = train_py(model, {"dtype": "float32"}, batches, 0)["losses"]
    assert max(abs(a - b) for a, b in zip(losses, as_float32, strict=True)) <= 1e-4
    books = train_py(model, {}, batches, 0)
    assert max(abs(a - b) for a, b in zip(losses, books["losses"], strict=True)) <= 1e-10
    assert_equal_but_key_biases(got["weights"], books["weights"])  # rounded alike
    assert losses[-1] < losses[0] - 0.2  # it learned something

    probe = batches[0][0][0][:1]
    with torch.no_grad():  # with targets: every position's logits, here in float64
        logits, _ = copy.deepcopy(books["model"]).double()(probe, targets=probe)
    gap = (torch.tensor(got["logits"], dtype=torch.float64) - logits[0]).abs().max().item()
    assert gap <= 1e-8


def test_rules_are_train_pys():
    """The exported rules: train.py's resolved settings, and groups holding every parameter
    once, as configure_optimizers groups them, for every depth."""
    overrides = {"n_layer": 2, "weight_decay": 0.3}
    rules = training.training_rules(PRESET, **overrides)
    settings = train.resolve_config(presets.config_file(PRESET), overrides)
    assert rules["settings"] == {key: settings[key] for key in training.SETTINGS}
    model = start_model(rules, seed=0)
    optimizer = model.configure_optimizers(0.3, settings["learning_rate"], (0.9, 0.99), "cpu")
    names = {id(p): name for name, p in model.named_parameters()}
    for exported, group in zip(rules["groups"], optimizer.param_groups, strict=True):
        held = {training.layer_pattern(names[id(p)]) for p in group["params"]}
        assert set(exported["params"]) == held
        decay = settings["weight_decay"] if exported["weight_decay"] == "setting" else 0.0
        assert decay == group["weight_decay"]
    assert rules["optimizer"] == {"name": "AdamW", "eps": 1e-8, "amsgrad": False, "maximize": False}


def test_the_trainer_refuses_what_it_cannot_follow(page):
    rules = training.training_rules(PRESET)
    refusals = page.evaluate(
        """(rules) => {
             const attempt = (changed) => {
               try {
                 nanobook.training.trainer({config: rules.config, weights: {}, ...changed});
                 return null;
               } catch (error) { return error.message; }
             };
             const {learning_rate, ...missing} = rules.settings;
             return [
               attempt({rules, settings: missing}),
               attempt({rules, settings: {...rules.settings, dropout: 0.1}}),
               attempt({rules: {...rules, optimizer: {...rules.optimizer, name: "SGD"}}}),
             ];
           }""",
        rules,
    )
    assert "learning_rate" in refusals[0]
    assert "dropout" in refusals[1]
    assert "SGD" in refusals[2]


def test_batches_are_train_pys(page):
    """The page's generator is torch.Generator's and its sort batches prepare.sample_batch's,
    drawn from the rows training.training_data exports."""
    data = training.training_data(PRESET)
    dataset = presets.dataset(PRESET)
    for seed, size in [(1337, 32), (0, 5), (2**33 + 7, 64)]:
        generator = torch.Generator().manual_seed(seed)
        expected = [
            prepare.sample_batch(dataset.train, dataset.meta, size, data["seq_len"] - 1, generator)
            for _ in range(3)
        ]
        got = evaluate_in_json(
            page,
            """([data, seed, size]) => {
                 const {_mersenneTwister, _sortBatch} = nanobook.training;
                 const next = _mersenneTwister(seed);
                 return [0, 1, 2].map(() => _sortBatch(data.train, data, size, next));
               }""",
            [data, seed, size],
        )
        assert got == [{"x": x.tolist(), "y": y.tolist()} for x, y in expected]


RUN_SESSION = """([rules, weights, data]) => {
  const session = nanobook.training.session({config: rules.config, weights, rules, data});
  const records = [];
  while (!session.done) records.push(session.advance());
  return records;
}"""


def test_a_run_retraces_train_fit(page):
    """A run of 30 steps with evaluations every 10, batches drawn as train.fit draws them
    from its own seeded generator: every record (rate, loss, evaluation losses) is fit's,
    within 1e-10 in the preset's arithmetic and 1e-4 in float32's."""
    overrides = {"max_iters": 30, "eval_interval": 10, "eval_iters": 3}
    rules = training.training_rules(PRESET, **overrides)
    model = start_model(rules, seed=3)
    weights = {name: t.flatten().tolist() for name, t in weight_tensors(model)}
    data = training.training_data(PRESET)
    records = evaluate_in_json(page, RUN_SESSION, [rules, weights, data])
    for dtype, tolerance in (("float64", 1e-10), ("float32", 1e-4)):
        changes = {**overrides, "log_interval": 1, "dtype": dtype}
        cfg = train.resolve_config(presets.config_file(PRESET), changes)
        trained = copy.deepcopy(model)
        log = train.fit(trained, cfg, train.memory_batches(presets.dataset(PRESET), cfg))["log"]
        assert [r["iter"] for r in records] == [r["iter"] for r in log]
        for got, expected in zip(records, log, strict=True):
            assert got["lr"] == pytest.approx(expected["lr"], rel=1e-14)
            for key in ("loss", "train_loss", "val_loss"):
                assert (key in got) == (key in expected)
                if key in got:
                    assert abs(got[key] - expected[key]) <= tolerance, (dtype, got["iter"], key)


DRIVE = """async (options) => {
  const records = [];
  const states = [];
  const weights = [];
  let wake = () => {};
  const until = (ready) => new Promise((resolve) => {
    const check = () => (ready() ? resolve() : (wake = check));
    check();
  });
  const run = nanobook.training.start(options, (message) => {
    if (message.type === "record") records.push(message.record);
    if (message.type === "state") states.push(message.state);
    if (message.type === "error") states.push(`error: ${message.message}`);
    if (message.type === "weights") weights.push(message.iter);
    wake();
  });
  await until(() => records.length >= 2);
  run.pause();
  await until(() => states.includes("paused"));
  const atPause = records.length;
  run.step();
  const { iter } = await run.weights(); // answered after the step's record
  const stepped = records.length - atPause;
  run.resume();
  await until(() => states.includes("done") || states.some((s) => s.startsWith("error")));
  const plain = (o) => Object.fromEntries(Object.entries(o).map(([k, v]) => [k, Array.from(v)]));
  const final = plain((await run.weights()).weights);
  const session = nanobook.training.session(options);
  const direct = [];
  while (!session.done) direct.push(session.advance());
  const directWeights = plain(session.trainer.params);
  return {mode: run.mode(), records, direct, states, stepped, pausedAt: iter,
          lastBeforeStep: records[atPause - 1].iter, final, directWeights};
}"""


def drive(page) -> dict:
    overrides = {"max_iters": 8, "eval_interval": 4, "eval_iters": 2, "batch_size": 8}
    rules = training.training_rules(PRESET, **overrides)
    weights = {name: t.flatten().tolist() for name, t in weight_tensors(start_model(rules, 4))}
    options = {
        "config": rules["config"],
        "weights": weights,
        "rules": rules,
        "data": training.training_data(PRESET),
    }
    result = evaluate_in_json(page, DRIVE, options)
    assert result["states"] == ["running", "paused", "running", "done"]
    assert result["stepped"] == 1  # paused, one step, one record
    assert result["pausedAt"] == result["lastBeforeStep"] + 1
    assert [r["iter"] for r in result["records"]] == list(range(1, 9))
    # paused, stepped and resumed, the run is the one an uninterrupted session makes
    assert result["records"] == result["direct"]
    assert result["final"] == result["directWeights"]
    return result


def test_the_run_trains_in_a_worker_when_served(served_page):
    assert drive(served_page)["mode"] == "worker"


def test_the_run_trains_on_the_page_from_disk(page):
    """From file:// no worker script may start: the same run, one step per task."""
    assert drive(page)["mode"] == "page"


HELD_OUT = """([config, weights, rules, settings, data]) => {
  const params = Object.fromEntries(
    Object.entries(weights).map(([name, values]) => [name, Float64Array.from(values)]),
  );
  const accuracy = nanobook.training.heldOutAccuracy(params, config, data);
  const session = nanobook.training.session({config, weights, rules, settings, data});
  return {accuracy, record: session.advance()};
}"""


@pytest.mark.parametrize("share", [0.0, 0.55, 1.0])
def test_held_out_accuracy_and_maps_are_the_books(page, share):
    """The page's held-out accuracy for given weights (the book's trained sort model,
    moved a share of the way back to its start) is tasks.sort_accuracy's for the same
    weights in float64, and within one problem of it in float32; a step's record carries
    it with the maps of the replay's probe, as probe.attention_maps reads them."""
    from ext.live_models import compute
    from model_src import probe, replay, tasks

    book = compute.trained_model(PRESET)
    rules = training.training_rules(PRESET, seed=book.config["seed"])
    start = start_model(rules, seed=rules["settings"]["seed"])
    model = copy.deepcopy(book.model).double()
    with torch.no_grad():
        for param, first in zip(model.parameters(), start.parameters(), strict=True):
            param.lerp_(first.double(), share)
    model = model.float().double()  # float32 weights, as the page keeps them after a step
    data = training.training_data(PRESET)
    assert data["held_out"]["probe"] == replay.held_out_rows()[0][0].tolist()
    # a session of one step that evaluates and logs it, from the same weights
    settings = {**rules["settings"], "max_iters": 1, "eval_iters": 1, "learning_rate": 0.0}
    settings["min_lr"] = 0.0
    weights = {name: t.flatten().tolist() for name, t in weight_tensors(model)}
    config = {**rules["config"], "layer_norm_eps": rules["layer_norm_eps"]}  # a model's, whole
    got = evaluate_in_json(page, HELD_OUT, [config, weights, rules, settings, data])
    problems = len(data["val"]) // data["seq_len"]

    def solved(accuracy: float) -> int:  # tasks.sort_accuracy is a float32 mean
        return round(accuracy * problems)

    expected = solved(tasks.sort_accuracy(model))
    assert solved(got["accuracy"]) == expected
    in_float32 = tasks.sort_accuracy(copy.deepcopy(model).float())
    assert abs(solved(got["accuracy"]) - solved(in_float32)) <= 1
    # no rate, no move (decay scales a weight by 1 - lr·decay): the record scores the same model
    assert solved(got["record"]["accuracy"]) == expected
    rows = torch.tensor([data["held_out"]["probe"]])
    with torch.no_grad(), probe.attention_maps(model.eval()) as maps:
        model(rows)
    for layer, heads in enumerate(got["record"]["attention"]):
        for head, queries in enumerate(heads):
            for query, keys in enumerate(queries):
                expected_row = maps[layer][0, head, query, : query + 1].tolist()
                assert keys == pytest.approx(expected_row, abs=1e-9)
