"""``memory-calculator``: what a GPT of the reader's shape holds in memory and costs to train.

    ```{memory-calculator} char       the shape the page starts with: sort, char, gpt2, d20
    ```

The reader sets layers, width, heads, k/v heads, vocabulary, context, batch, precision,
optimizer, training tokens and throughput, and reads parameters, weights, gradients,
optimizer state, activations, the KV cache, FLOPs per token and training time. Every
figure is a formula of model_src/footprint.py, traced into a tree (formulas.py) and
evaluated by the page (static/nanobook_memory.js), which retypes none.
After reading, the build measures the book's two models with real tensors
(model_src/memory.py, kv_cache.CachedGPT, GPT.estimate_mfu) and warns at the directive's
line if a formula disagrees. That takes about ten CPU-seconds, so the page's settings are
kept in the store (``<cache>/memory``, ext/producers.py), keyed by the code they come
from; a disagreement is said on every build and never stored. Without scripts, the page
shows the table of every shape.
"""

from __future__ import annotations

import dataclasses
import decimal
import functools
import json
from pathlib import Path

from docutils import nodes
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective

from buildlib import keys, store

from .. import _core, producers
from . import formulas
from .render import opening_tag

logger = logging.getLogger(__name__)
KIND = "memory"
SCRIPT = "nanobook_memory.js"
NAME = "memory-calculator"

# The reader's inputs: (label, bounds), up to about the largest open models' shapes and
# runs. The page computes in doubles: figures above 2**53 (8 PiB, 9e15 FLOPs) round, far
# below the three significant digits it shows.
INPUTS = {
    "n_layer": ("layers", _core.Number(int, 1, 256, "12")),
    "n_embd": ("width C", _core.Number(int, 1, 32768, "768")),
    "n_head": ("heads", _core.Number(int, 1, 256, "12")),
    "n_kv_head": ("k/v heads", _core.Number(int, 1, 256, "4")),
    "vocab_size": ("vocabulary", _core.Number(int, 1, 2**20, "50304")),
    "context": ("context T", _core.Number(int, 1, 2**17, "1024")),
    "batch": ("batch B", _core.Number(int, 1, 4096, "12")),
    "tokens": ("training tokens", _core.Number(int, 1, 10**14, "300000000000")),
    "throughput": ("throughput, TFLOP/s", _core.Number(float, 1e-6, 1e5, "312")),
}
# n_embd splits into n_head heads and n_head into groups of k/v heads (modern.Attention)
DIVIDES = (("n_head", "n_embd"), ("n_kv_head", "n_head"))
OPTIMIZER_LABELS = {"adamw": "AdamW", "muon": "Muon (+ AdamW)", "sgd": "SGD with momentum"}
OUTPUTS = {  # name: (label, unit)
    "parameters": ("parameters", "count"),
    "weights": ("weights", "bytes"),
    "gradients": ("gradients", "bytes"),
    "optimizer": ("optimizer state", "bytes"),
    "activations": ("activations kept for backward", "bytes"),
    "training": ("training step, all four", "bytes"),
    "kv_cache": ("KV cache, generating", "bytes"),
    "flops_per_token": ("FLOPs per training token, 6N + 12LCT", "count"),
    "training_seconds": ("training time", "seconds"),
}
PER_OPTIMIZER = ("optimizer", "training")  # outputs with a formula for each optimizer


# The shapes the reader can start from, and where each comes from (shapes()).
SHAPE_LABELS = {
    "sort": "sort model",
    "char": "char model",
    "gpt2": "GPT-2 small",
    "d20": "nanochat d20 (Oct. 2025)",
}
# GPT-2 small's batch: nanoGPT's config/train_gpt2.py, 12 sequences per micro-step.
GPT2_BATCH = 12
CHINCHILLA_TOKENS_PER_PARAMETER = 20  # the shapes without a run here: compute-optimal
PARAMETER_INPUTS = ("n_layer", "n_embd", "n_head", "n_kv_head", "vocab_size", "context", "bias")


def peak_tflops() -> float:
    """The throughput the page starts at: the A100 bf16 peak GPT.estimate_mfu divides by."""
    import inspect

    from model_src.model import GPT

    return inspect.signature(GPT.estimate_mfu).parameters["peak_flops"].default / 1e12


def shapes() -> dict[str, dict]:
    """Each starting shape as the formulas' inputs (fp32): the book's two models with their
    own runs' batch and tokens; GPT-2 small and nanochat's d20 (counted as GPTs of their
    shape: wpe, tied embeddings) at Chinchilla's tokens per parameter."""
    from model_src import footprint, presets
    from model_src.model import GPTConfig
    from model_src.train import resolve_config

    made = {}
    for name in presets.PRESETS:
        config, run = presets.gpt_config(name), resolve_config(presets.config_file(name))
        tokens = run["max_iters"] * run["batch_size"] * config.block_size
        made[name] = _inputs(
            config.__dict__, run["batch_size"], tokens * run.get("gradient_accumulation_steps", 1)
        )
    gpt2 = GPTConfig()
    made["gpt2"] = _inputs(gpt2.__dict__, GPT2_BATCH, None)
    d20 = {**footprint.NANOCHAT_D20, "vocab_size": footprint.NANOCHAT_VOCAB["October 2025"]}
    made["d20"] = _inputs(d20, footprint.NANOCHAT_D20_BATCH, None)
    return {name: made[name] for name in SHAPE_LABELS}


def _inputs(config: dict, batch: int, tokens: int | None) -> dict:
    from model_src import footprint

    values = {
        "n_layer": config["n_layer"],
        "n_embd": config["n_embd"],
        "n_head": config["n_head"],
        "n_kv_head": config.get("n_kv_head") or config["n_head"],
        "vocab_size": config["vocab_size"],
        "context": config["block_size"],
        "batch": batch,
        "bias": int(config["bias"]),
        "precision": footprint.PRECISIONS["fp32"],
        "throughput": peak_tflops(),
    }
    if tokens is None:
        n = footprint.parameters(*(values[k] for k in PARAMETER_INPUTS))
        tokens = CHINCHILLA_TOKENS_PER_PARAMETER * n
    return {**values, "tokens": tokens}


# How the page writes each unit: (name, size) steps, the largest the value reaches.
UNITS = {
    "bytes": [("B", 1), ("KiB", 2**10), ("MiB", 2**20), ("GiB", 2**30), ("TiB", 2**40)],
    "count": [("", 1), ("million", 10**6), ("billion", 10**9), ("trillion", 10**12)],
    "seconds": [("s", 1), ("min", 60), ("h", 3600), ("days", 86400), ("years", 365.25 * 86400)],
}
SIGNIFICANT = 3  # digits of every figure but whole numbers below a unit's first step
CAPTION = "What one training step holds, generation's cache, and the run's cost"


class memory_widget(nodes.General, nodes.Element):
    """The calculator: attribute start (its shape); when written, its static table as
    children."""


class MemoryCalculatorDirective(_core.OneArgument, SphinxDirective):
    argument_example = "char"
    option_spec = _core.AnyOption(dict.fromkeys(("name", "class"), str))

    def run(self) -> list[nodes.Node]:
        specs = self.env.memory_widget_specs.setdefault(self.env.docname, [])
        start = self.argument
        classes = ["nb-live", f"nb-live-{KIND}", *self.options.get("class", "").split()]
        node = memory_widget(start=start, classes=classes)
        self.set_source_info(node)
        if not ("name" in self.options and _core.add_name(self, node, logger, NAME)):
            node["ids"].append(f"memory-calculator-{len(specs)}")
        problem = self._problem(start)
        if problem:
            said = f"{NAME} {start}: {problem}" if start else f"{NAME}: {problem}"
            _core.warn(logger, said, location=node, subtype=NAME, hint=problem.hint)
            node["error"] = str(problem)
        specs.append({"start": start, "line": self.lineno, "refused": problem is not None})
        return [node]

    def _problem(self, start: str) -> _core.Problem | None:
        """The first thing wrong with the directive: its argument, an option, the shape."""
        if problem := self.argument_problem():
            return problem
        if problems := _core.option_problems(self):
            return problems[0][1]
        if start not in SHAPE_LABELS:
            return _core.Problem(f"unknown shape {start!r}", f"one of {', '.join(SHAPE_LABELS)}")
        return None


def code_files(root: Path) -> list[Path]:
    """What the formulas, the shapes and their check are made of: this file and
    memory_check.py, all they import (but the standard library and installed packages),
    and the presets' config files, which train.resolve_config reads without importing."""
    from model_src import presets

    here = Path(__file__).resolve()
    files = {here, here.with_name("memory_check.py")}
    for path in list(files):
        files.update(_core.project_imports(path, root))
    files.update(presets.config_file(name).resolve() for name in presets.PRESETS)
    return sorted(files)


def traced() -> dict:
    """Every output's formula, traced from model_src/footprint.py: the optimizer's and the
    step's total once per optimizer."""
    from model_src import footprint as fp

    L, C, nh, kv, V, T, B, bias, p, D, tflops = formulas.symbols(
        "n_layer n_embd n_head n_kv_head vocab_size context batch bias precision tokens throughput"
    )
    n = fp.parameters(L, C, nh, kv, V, T, bias)
    matrices, tensors = fp.block_matrices(L, C, nh, kv), fp.tensors(L, bias)
    activations = fp.activation_bytes(L, C, nh, kv, V, B, T, p)
    flops = fp.flops_per_token(n, L, C, T)
    trees = {
        "parameters": n,
        "weights": n * p,
        "gradients": n * p,
        "activations": activations,
        "kv_cache": fp.kv_cache_bytes(L, C, nh, kv, B, T, p),
        "flops_per_token": flops,
        "training_seconds": fp.training_seconds(flops, D, tflops * 10**12),
    }
    trees = {name: formulas.as_tree(value) for name, value in trees.items()}
    for name in fp.OPTIMIZERS:
        state = fp.optimizer_bytes(name, n, matrices, tensors, L, p)
        trees[f"optimizer:{name}"] = formulas.as_tree(state)
        trees[f"training:{name}"] = formulas.as_tree(2 * n * p + state + activations)
    return trees


def settings(start: str, trees: dict, starts: dict) -> dict:
    """What the page is handed: inputs with bounds, choices, shapes, rules, formulas."""
    from model_src import footprint

    return {
        "kind": KIND,
        "start": start,
        "inputs": [
            {
                "name": name,
                "label": label,
                "min": number.low,
                "max": number.high,
                "whole": number.kind is int,
            }
            for name, (label, number) in INPUTS.items()
        ],
        "divides": DIVIDES,
        "precisions": footprint.PRECISIONS,
        "optimizers": OPTIMIZER_LABELS,
        "shapes": starts,
        "shapeLabels": SHAPE_LABELS,
        "outputs": [
            {"name": n, "label": label, "unit": unit, "perOptimizer": n in PER_OPTIMIZER}
            for n, (label, unit) in OUTPUTS.items()
        ],
        "formulas": trees,
        "units": UNITS,
        "significant": SIGNIFICANT,
        "caption": CAPTION,
    }


@dataclasses.dataclass
class Checked:
    """What a calculator is made of: the page's settings, and where the formulas disagree
    with the measured models (none in a stored one: a value with problems is not kept)."""

    settings: dict
    disagreements: list[str]


SETTINGS = "settings.json"  # an entry's file: the page's settings as JSON
DISAGREEMENT_HINT = "a formula in model_src/footprint.py is off: fix it or what it counts"
MODEL_CODE_HINT = (
    "tests/test_memory_calculator.py runs the same code: see where it fails "
    "(model_src/footprint.py, memory.py, a preset's config)"
)


class Calculators(producers.Producer):
    """Each starting shape's settings, from the store or traced and checked now: about ten
    CPU-seconds, made again only when the code they come from changes."""

    name, subtype, thing = "memory", NAME, "the memory calculator's settings"

    def asked(self, env) -> list[producers.Asked]:
        """The pages' calculators but those the directive refused (it said why, while
        reading): the spec is the shape they start from."""
        return [
            producers.Asked(docname, spec["line"], spec["start"])
            for docname in sorted(env.memory_widget_specs)
            for spec in env.memory_widget_specs[docname]
            if not spec["refused"]
        ]

    def key(self, app, start: str) -> str:
        """The shape and the code its settings come from, with the versions of the
        installed packages it imports (torch measures the models)."""
        try:
            files = code_files(_core.project_root(app))  # imports the presets
        except _core.MODEL_CODE_ERRORS as error:
            raise model_code_problem(error) from error
        return keys.digest(start, *keys.code_inputs(*files, search=[keys.CODE_HOME]))

    def make(self, app, start: str) -> Checked:
        try:
            trees, starts, disagreements = checked()
        except _core.MODEL_CODE_ERRORS as error:  # model code run in this process: say where
            raise model_code_problem(error) from error
        return Checked(settings(start, trees, starts), disagreements)

    def problems(self, value: Checked) -> list[_core.Problem]:
        return [_core.Problem(found, DISAGREEMENT_HINT) for found in value.disagreements]

    def write(self, value: Checked, folder: Path) -> None:
        (folder / SETTINGS).write_text(json.dumps(value.settings), encoding="utf-8")
        store.write_meta(folder, {"files": {"settings": SETTINGS}})

    def read(self, entry: Path, meta: dict) -> Checked:
        return Checked(json.loads((entry / SETTINGS).read_text(encoding="utf-8")), [])


CALCULATORS = Calculators()


def model_code_problem(error: BaseException) -> _core.Problem:
    """Model code that failed (and leaves the page without settings: "not available")."""
    return _core.Problem(
        f"its formulas or their check failed: {type(error).__name__}: {error}", MODEL_CODE_HINT
    )


def shown_settings(env, node: memory_widget) -> dict | None:
    """What the calculator ``node`` is handed, shown even when a formula disagrees; None
    when it is not available (refused while reading, or its model code failed)."""
    if node.get("error"):
        return None
    made = producers.made(env, CALCULATORS, node["start"])
    return made.value.settings if made is not None and made.value is not None else None


def checked() -> tuple[dict, dict, list[str]]:
    """The traced formulas, the starting shapes, and where the formulas disagree with the
    measured models: model code, run in the build's process."""
    from . import memory_check

    trees = traced()
    return trees, shapes(), memory_check.disagreements(trees)


def add_fallbacks(app, doctree, docname) -> None:
    """Each calculator's static rendering: every shape's figures at its own settings."""
    for node in doctree.findall(memory_widget):
        data = shown_settings(app.env, node)
        if data is None:
            node += nodes.paragraph(text="The memory calculator is not available here.")
            continue
        node += fallback_table(data)


def shown(value: float, unit: str) -> str:
    """A figure as the page writes it (nanobook_memory.js, shown): in the largest of its
    unit's steps it reaches; whole below the first step, else to SIGNIFICANT digits."""
    name, size = next(step for step in reversed(UNITS[unit]) if value >= step[1] or step[1] == 1)
    scaled = value / size
    text = f"{int(scaled):,}" if size == 1 and scaled == int(scaled) else significant(scaled)
    return f"{text} {name}" if name else text


def significant(value: float) -> str:
    """``value`` to SIGNIFICANT digits as the page's Intl.NumberFormat writes it: 1,020
    for 1023.7 (the digits past them are zeros, not kept), ties away from zero on the
    float's exact value, trailing zeros dropped."""
    if not value:
        return "0"
    exact = decimal.Decimal(value)
    place = exact.adjusted() - SIGNIFICANT + 1  # the power of ten of the last digit kept
    rounded = exact.quantize(decimal.Decimal(1).scaleb(place), rounding=decimal.ROUND_HALF_UP)
    text = f"{rounded:,.{max(0, -place)}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def fallback_table(data: dict) -> nodes.Node:
    from .render import table

    shapes = data["shapes"]
    header = ["", *(data["shapeLabels"][name] for name in shapes)]
    rows = []
    for output in data["outputs"]:
        name = output["name"]
        key = f"{name}:adamw" if name in PER_OPTIMIZER else name
        cells = [
            shown(formulas.evaluate(data["formulas"][key], shape), output["unit"])
            for shape in shapes.values()
        ]
        rows.append([output["label"], *cells])
    peak = shapes["char"]["throughput"]
    caption = nodes.paragraph(
        text="Each shape in fp32 with AdamW, at its own batch and context, for the tokens its "
        f"run trained on (the book's two models) or {CHINCHILLA_TOKENS_PER_PARAMETER} tokens "
        f"per parameter (the others), at {peak:g} TFLOP/s sustained. nanochat's d20 shape is "
        "counted as a GPT: a learned position table and tied embeddings, which nanochat has "
        "not. With scripts, the page lets you change every setting.",
        classes=["nb-live-caption"],
    )
    return nodes.container("", caption, table(header, rows), classes=["nb-live-static"])


def visit_html(self, node) -> None:
    # named, as every live widget is, so that a screen reader lists it among the regions
    label = "Memory and cost calculator"
    settings = shown_settings(self.builder.env, node)
    self.body.append(opening_tag(self, node, settings, **{"aria-label": label}))


def depart_html(self, node) -> None:
    self.body.append("</section>\n")


def pass_through(self, node) -> None:
    """Other builders write the static table (the node's children) as they are."""


def add_page_assets(app, pagename, templatename, context, doctree) -> None:
    if doctree is None or not any(
        shown_settings(app.env, node) for node in doctree.findall(memory_widget)
    ):
        return
    from . import SCRIPTS

    for script in (*SCRIPTS, SCRIPT):  # Sphinx adds each once, whoever asks first
        app.add_js_file(script, loading_method="defer")
    app.add_css_file("nanobook_live.css")
    app.add_css_file("nanobook_memory.css")


def connect(app) -> None:
    """The node, its page state and its steps (ext/live_models/__init__.py adds the
    directive, with the others)."""
    app.add_node(
        memory_widget,
        html=(visit_html, depart_html),
        latex=(pass_through, pass_through),
        text=(pass_through, pass_through),
        man=(pass_through, pass_through),
        texinfo=(pass_through, pass_through),
    )
    _core.per_page_state(app, "memory_widget_specs")
    app.connect("env-updated", functools.partial(producers.produce, CALCULATORS))
    app.connect("doctree-resolved", add_fallbacks)
    app.connect("html-page-context", add_page_assets)
