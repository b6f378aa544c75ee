"""Hostile input, as a probe types it (issue 49): every option of every directive the book
registers, and each directive's argument, given empty, zero, negative, tiny, huge, NaN,
infinite and non-numeric values and the names a JavaScript object already has, in one
tiny book. The build completes, every page is written to its end, and each value is a
located warning with a hint, or taken as the authoring page says.

Model code runs in the test's process here (processes.call_apart stubbed): what is tested
is what the build does with the values, not the isolation test_failures.py covers.
"""

from __future__ import annotations

import decimal
import html
import importlib
import json
import math
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch
from pages import loaded_widget, widget_settings
from sphinx.application import Sphinx
from sphinx.util.console import strip_colors

from buildlib import keys, processes
from ext import _core
from ext.live_models.kinds import predict

REPO = Path(__file__).resolve().parent.parent
ROOTS = Path(__file__).parent / "roots"

HOSTILE = {
    "empty": "",
    "zero": "0",
    "negative": "-1",
    "tiny": "1e-300",
    "huge": "9" * 400,
    "huge float": "1e400",
    "NaN": "nan",
    "infinite": "inf",
    "not a number": "many",
    "a name too long for a file": "a" * 400,
    "a prototype's name": "__proto__",
    "an object's property": "constructor",
}

SCENE = (
    "from manim import Create, Scene, Square\n\n\n"
    "class Box(Scene):\n    def construct(self):\n"
    "        self.play(Create(Square()), run_time=0.3)\n"
)
# Each directive's valid use (argument, options, body), which each case changes in one
# option or in its argument; a directive the book adds needs one here.
VALID = {
    "manim-clip": ("Box", {"file": "box.py"}, ""),
    "manim-film": ("", {}, ""),
    "arch-diagram": ("model_src.model:MLP", {"config": "sort"}, ""),
    "annotated-source": (
        "model.py",
        {"object": "MLP.forward"},
        "@ x = self.gelu(x)\nThe activation.",
    ),
    "live-attention": ("sort", {}, ""),
    "live-sampling": ("sort", {}, ""),
    "live-tools": ("calculator", {"prompt": "136+044="}, ""),
    "live-chat": ("mixture", {"prompt": "↑CABBAC"}, ""),
    "training-replay": ("sort", {}, ""),
    "predict-check": ("sort", {"ask": "temperature-share"}, ""),
    "live-training": ("sort", {}, ""),
    "memory-calculator": ("char", {}, ""),
}
# An option that only counts for one kind of question is swept with that question.
ASKED_WITH = {
    ("predict-check", "threshold"): "accuracy-step",
    ("predict-check", "layer"): "strongest-key",
}
# An option whose value holds values: each hostile one is swept inside it too.
HOLDS = {("arch-diagram", "config"): "sort,n_embd={}", ("arch-diagram", "input"): "1x{}"}
END = "The page was written to its end."


@dataclass
class Case:
    directive: str
    option: str  # "" for the argument
    value: str
    converter: object = None  # the option's converter, from the directive's option_spec

    @property
    def refused(self) -> bool:
        """Whether the option's converter is a number whose bounds refuse the value."""
        if not isinstance(self.converter, _core.Number):
            return False
        try:
            self.converter(self.value)
        except ValueError:
            return True
        return False


def _extension_modules() -> list[str]:
    """The modules of ext/ whose setup adds a directive, found in their source."""
    modules = []
    for path in sorted((REPO / "ext").rglob("*.py")):
        if "add_directive(" in path.read_text(encoding="utf-8"):
            parts = path.relative_to(REPO).with_suffix("").parts
            modules.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return modules


def _registered_directives(make_app, srcdir: Path, monkeypatch) -> dict[str, type]:
    """Every directive ext/ registers, as Sphinx is told of it."""
    registered: dict[str, type] = {}
    add = Sphinx.add_directive

    def noting(self, name, cls, override=False):
        if cls.__module__.startswith("ext."):  # not Sphinx's or MyST's own
            registered[name] = cls
        return add(self, name, cls, override)

    with monkeypatch.context() as patch:
        patch.setattr(Sphinx, "add_directive", noting)
        make_app("html", srcdir=srcdir, freshenv=True).cleanup()  # docutils' registry too
    return registered


def _cases(name: str, directive: type) -> list[Case]:
    """The argument's cases (a directive that takes one), then every option's: the
    hostile values (alone, and inside the option's value when it holds several), and for
    a number its bounds."""
    cases = []
    if directive.required_arguments:
        # "": MyST's own error (a required argument missing), not the directive's
        cases += [Case(name, "", value) for value in HOSTILE.values() if value]
    for option in directive.option_spec:
        converter = directive.option_spec.get(option)
        values = list(HOSTILE.values())
        if (name, option) in HOLDS:
            values += [HOLDS[name, option].format(value) for value in HOSTILE.values()]
        if isinstance(converter, _core.Number):
            values += [str(converter.low), str(converter.high)]
        cases += [Case(name, option, value, converter) for value in values]
    return cases


def _fence(case: Case) -> str:
    argument, options, body = VALID[case.directive]
    options = dict(options)
    if (case.directive, case.option) in ASKED_WITH:
        options["ask"] = ASKED_WITH[case.directive, case.option]
    if case.option:
        options[case.option] = case.value
    else:
        argument = case.value
    lines = [f"```{{{case.directive}}} {argument}".rstrip()]
    lines += [f":{key}: {value}".rstrip() for key, value in options.items()]
    if body:
        lines += ["", body]
    return "\n".join([*lines, "```", "", ""])


def _write_book(srcdir: Path, directives: dict[str, type]) -> dict[tuple[str, int], Case]:
    """A page per directive, a case per fence; returns the cases by (page, line)."""
    cases = {}
    for name, directive in sorted(directives.items()):
        text = f"# {name}\n\n"
        for case in _cases(name, directive):
            cases[name, text.count("\n") + 1] = case
            text += _fence(case)
        (srcdir / f"{name}.md").write_text(text + END + "\n", encoding="utf-8")
    toctree = "\n".join(sorted(directives))
    (srcdir / "index.md").write_text(f"# Hostile\n\n```{{toctree}}\n{toctree}\n```\n")
    return cases


def _in_this_process(function: str, kwargs: dict, **limits) -> processes.Apart:
    """call_apart without the process: the function's JSON answer, as the worker gives it."""
    module, _, name = function.partition(":")
    value = getattr(importlib.import_module(module), name)(**kwargs)
    return processes.Apart(value=json.loads(json.dumps(value)))


WARNING = re.compile(r"^(?P<path>\S+?)\.md:(?P<line>\d+): WARNING: (?P<text>.*(?:\n  .*)*)", re.M)


def test_every_option_of_every_directive_takes_hostile_values(make_app, tmp_path, monkeypatch):
    """Issue 49: an empty :file: on a clip, a 400-digit :seed: and a file name too long
    for the file system each ended the build. Now every case's page is written to its
    end; every warning is at a case's line, with a hint and the directive's type; a
    number outside its option's bounds (and any hostile argument) is one that names it,
    and a number at a bound is taken."""
    srcdir = tmp_path / "book"
    srcdir.mkdir()
    (srcdir / "conf.py").write_text(
        f"import sys\nsys.path[:0] = [{str(REPO)!r}]\n"
        f'extensions = ["myst_parser", *{_extension_modules()!r}]\n'
        f"annotated_source_root = {str(ROOTS / 'test-annotated-source/model_src')!r}\n"
        'manim_clip_quality = "draft"\n'
    )
    (srcdir / "index.md").write_text("# Hostile\n")
    (srcdir / "box.py").write_text(SCENE)
    directives = _registered_directives(make_app, srcdir, monkeypatch)
    assert sorted(directives) == sorted(VALID), "a directive needs its valid use in VALID"
    cases = _write_book(srcdir, directives)
    monkeypatch.setenv("NANOBOOK_CLIP_QUALITY", "draft")
    monkeypatch.setattr(processes, "call_apart", _in_this_process)

    app = make_app("html", srcdir=srcdir, freshenv=True)
    app.build()  # an input that crashes the build fails the test here

    for name in directives:
        assert END in (app.outdir / f"{name}.html").read_text(encoding="utf-8"), name
    said: dict[tuple[str, int], list[str]] = {}
    warnings = strip_colors(app.warning.getvalue())
    assert warnings.count("WARNING:") == len(WARNING.findall(warnings)), "one is not located"
    for warning in WARNING.finditer(warnings):
        where = (Path(warning["path"]).name, int(warning["line"]))
        assert where in cases, f"a warning where no case is: {warning[0]}"
        assert "\n  hint: " in warning["text"], f"a warning without a hint: {warning[0]}"
        assert warning["text"].endswith(f"[nanobook.{cases[where].directive}]"), warning[0]
        said.setdefault(where, []).append(warning["text"])
    for where, case in cases.items():
        about = [t for t in said.get(where, []) if f":{case.option}: {case.value!r} is not" in t]
        if case.refused or not case.option:  # a number out of bounds, a hostile name
            assert said.get(where), f"{case} said nothing at {where}"
        if case.refused:
            assert about, f"{case}: no warning names :{case.option}: ({said[where]})"
        elif isinstance(case.converter, _core.Number):  # a bound: taken as it is
            assert not about, f"{case} was refused: {about}"


# --- names a JavaScript object already has ------------------------------------------------

OBJECT_NAMES = ("constructor", "__proto__", "toString", "hasOwnProperty")


@pytest.mark.browser
def test_in_the_browser_a_name_an_object_already_has_is_unknown_like_any_other(
    make_app, tmp_path, browser
):
    """Issue 49: widget lookups were plain objects, where "constructor" passes an `in`
    check. A widget kind, a question kind and a model named like an object's property are
    refused as unknown; the page's real widget still starts."""
    srcdir = tmp_path / "book"
    srcdir.mkdir()
    (srcdir / "conf.py").write_text(
        f"import sys\nsys.path[:0] = [{str(REPO)!r}]\n"
        'extensions = ["myst_parser", "ext.live_models"]\n'
    )
    (srcdir / "index.md").write_text(
        "# Live\n\n```{live-attention} sort\n```\n\n"
        "```{predict-check} sort\n:ask: next-token\n```\n"
    )
    app = make_app("html", srcdir=srcdir, freshenv=True)
    app.build()
    index = app.outdir / "index.html"
    text = index.read_text(encoding="utf-8")
    settings = widget_settings(text)
    question = next(options for options in settings if options["kind"] == "predict")
    hostile = [{"kind": name} for name in OBJECT_NAMES] + [
        {**question, "question": {**question["question"], "ask": name}} for name in OBJECT_NAMES
    ]
    sections = "".join(
        f'<section class="nb-live" data-live="{html.escape(json.dumps(options))}">'
        '<div class="nb-live-static"><p>static</p></div></section>'
        for options in hostile
    )
    first = text.index("<section")
    index.write_text(text[:first] + sections + text[first:], encoding="utf-8")

    context = browser.new_context(reduced_motion="reduce")
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(index.as_uri())
    loaded_widget(page.locator(".nb-live-attention").first)
    refused = page.locator(".nb-live[data-live-problem]")
    refused.nth(len(hostile) - 1).wait_for(state="attached", timeout=10_000)
    said = sorted(refused.evaluate_all("roots => roots.map((r) => r.dataset.liveProblem)"))
    assert said == sorted(
        [f"no live widget of kind {json.dumps(name)}" for name in OBJECT_NAMES]
        + [f"no question of kind {json.dumps(name)}" for name in OBJECT_NAMES]
    )
    loaded = page.evaluate(
        """names => Promise.all(names.map((name) =>
             nanobook.model(name).then(() => "loaded", (error) => error.message)))""",
        list(OBJECT_NAMES),
    )
    assert loaded == [f"no script for the {name} model on this page" for name in OBJECT_NAMES]
    assert not errors, errors
    context.close()


# --- one place for numbers ------------------------------------------------------------


@pytest.mark.parametrize("value", HOSTILE.values(), ids=HOSTILE.keys())
def test_a_number_option_refuses_what_is_outside_its_bounds_with_a_hint(value):
    """Issue 49: a 400-digit :seed: passed the parser and then math.isfinite() raised
    OverflowError. Whole numbers are compared as they are; anything else is a refusal."""
    seed = _core.Number(int, 0, 2**32 - 1, "7")
    temperature = _core.Number(float, 0.01, 100.0, "0.2")
    for number in (seed, temperature):
        taken = _taken(number, value)
        if taken is None:
            problem = number.refusal("seed", value)
            assert problem.message.startswith(f":seed: {value!r} is not a") and problem.hint
        else:
            assert number.low <= taken <= number.high and math.isfinite(taken)
    assert _taken(seed, value) in (None, 0) and _taken(temperature, value) is None


def _taken(number: _core.Number, value: str):
    try:
        return number(value)
    except ValueError:
        return None


def test_a_refused_option_is_a_bad_value_the_directive_says_with_the_number_s_hint():
    spec = _core.AnyOption({"layer": _core.Number(int, 0, 5, "0", "the first layer is 0")})
    bad = spec["layer"]("9" * 400)
    assert isinstance(bad, _core.BadValue)
    assert bad.problem.message == f":layer: {'9' * 400!r} is not a whole number from 0 to 5"
    assert bad.problem.hint == "e.g. :layer: 0; the first layer is 0"
    assert spec["layer"](" 3 ") == 3


# --- the temperature question at the lowest temperature --------------------------------


def test_the_temperature_question_works_at_the_lowest_temperature_a_page_may_give():
    """Issue 49: at :temperature: 0.01 a logit gap above 7.1 made math.exp overflow
    (the char model's default prompt has 7.21): the odds are written for any gap."""
    logits = torch.tensor([7.21, 0.0, -3.0], dtype=torch.float64)
    question = predict.temperature_question(["a", "b", "c"], "x", logits, 0.01)
    assert question["answer"] == "100.0%"
    assert question["why"].endswith("from 1.35e+03 to 1.34e+313.")
    for x in (0.4, 7.21, 700.0, 709.9, 721.0, 800.0, 5000.0, 72100.0):
        exact = decimal.Decimal(x).exp()  # any exponent, to 28 digits
        assert decimal.Decimal(predict.exp_text(x)) == decimal.Decimal(f"{exact:.3g}"), x


# --- keys and build leftovers -----------------------------------------------------------


def test_a_key_does_not_change_with_metadata_a_pip_install_leaves_in_the_checkout(
    tmp_path, monkeypatch
):
    """Issue 49: `pip install .` left docs/scenes/nanobook.egg-info, naming model_src as
    its package, and every trained model's key changed: the checkout's modules counted as
    an installed distribution's version. Only what is installed counts by version."""
    project = tmp_path / "checkout"
    (project / "pkg").mkdir(parents=True)
    (project / "pkg/__init__.py").write_text("")
    (project / "pkg/helper.py").write_text("def thing():\n    return 1\n")
    (project / "pkg/user.py").write_text("from pkg.helper import thing\n\nthing()\n")
    monkeypatch.syspath_prepend(str(project))

    def key() -> list[str]:
        importlib.invalidate_caches()
        for cached in (keys._distributions, keys._package_version, keys._resolved):
            cached.cache_clear()
        return keys.code_inputs(project / "pkg/user.py", search=[project])

    clean = key()
    leftover = project / "pkg.egg-info"
    leftover.mkdir()
    (leftover / "PKG-INFO").write_text("Metadata-Version: 2.1\nName: pkg\nVersion: 0.1.0\n")
    (leftover / "top_level.txt").write_text("pkg\n")
    assert key() == clean
    shutil.rmtree(leftover)
    assert key() == clean
