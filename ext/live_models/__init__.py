"""``live-attention``, ``live-sampling``, ``live-tools``, ``live-chat``, ``training-replay``,
``predict-check`` and ``live-training``: the book's trained models in the reader's browser.

    ```{live-attention} sort          (or char)
    :prompt: CBACAB                   the input the page starts with (and the static
                                      rendering shows); a sort prompt of 6 letters is
                                      read with the model's own greedy answer appended
    ```
    ```{live-tools} calculator        the Tools chapter's model (experiments/arithmetic_runs.py)
    :prompt: 136+044=                 the sum the page starts with; the reader types another
    ```
    ```{live-chat} mixture            a fine-tuning run of experiments/finetune_runs.py (its slug)
    :prompt: ↑CABBAC                  the user's turn: a request token, then letters
    :compare: hash                    more runs the reader can switch to (default: none)
    ```
    ```{live-sampling} char
    :prompt: def                      the text to continue
    :temperature: 0.8                 (default 1)
    :top-k: 20                        (default: none)
    :top-p: 0.9                       (default: none; 0.05 to 1, and 1 keeps every token)
    :seed: 0                          the reader can change it in the widget
    :steps: 80                        tokens per run (default: 6 for sort, 80 for char)
    ```
    ```{live-training} sort           the reader trains the model in the page (a Web Worker)
    :steps: 600                       each option sets a control's default (the book run's
    :clip: off                        value if left out): :seed:, :learning-rate:, :warmup:,
    ```                               :steps:, :batch-size:, :clip:, :weight-decay:,
                                      :layers:, :width:
    ```{live-training} sort           with :run: rl, the RL chapter's run (rl_runs.py):
    :run: rl                          :method:, :reward:, :group:, :learning-rate:,
    ```                               :steps:, :seed:

The directives record a spec while pages are read. After reading (env-updated), each
model a page asks for is exported once into the cache as a web artifact (compute.py),
and each widget's computation on its default input is run, or taken from the cache;
the writers show it as a table everywhere and, in HTML, inside the widget that its
kind's script makes live (``static/nanobook_<kind>.js``, on the shared helpers of
nanobook_widgets.js; the JavaScript API is on the authoring page). A bad
preset, option or prompt is a warning at the directive's line (type
``nanobook.<the directive's name>``), and the page says the widget is not available.
"""

from __future__ import annotations

from pathlib import Path

from sphinx.util import logging

from .. import _core
from . import memory_widget, render
from .directive import (
    TOOL_MODELS,
    LiveAttentionDirective,
    LiveChatDirective,
    LiveSamplingDirective,
    LiveToolsDirective,
    LiveTrainingDirective,
    PredictCheckDirective,
    TrainingReplayDirective,
    live_widget,
)

__version__ = "0.1.0"

logger = logging.getLogger(__name__)
STATIC = Path(__file__).parent / "static"
SCRIPTS = ("nanobook_live.js", "nanobook_widgets.js")  # the runtime, the widgets' kit
# After SCRIPTS, the script of each widget kind the page shows (it registers with the kit).
KIND_SCRIPTS = {
    "attention": "nanobook_attention.js",
    "sampling": "nanobook_sampling.js",
    "replay": "nanobook_replay.js",
    "predict": "nanobook_predict.js",
    "tools": "nanobook_tools.js",
    "chat": "nanobook_chat.js",
    "training": "nanobook_training.js",  # the trainer itself loads when the reader trains
}
TOOL_SCRIPT = KIND_SCRIPTS["tools"]  # also the engine a predict-check on a tool model runs
# live-training with :run: rl: RL in the page, on the training widget's parts (after them)
RL_TRAINING_SCRIPT = "nanobook_training_rl.js"


def check_config(app, config) -> None:
    config.html_static_path.append(str(STATIC))


def init_env(app, env, docnames) -> None:
    if not hasattr(env, "live_model_results"):
        env.live_model_results = {}  # uid -> computation result, or {"error": ...}
        env.live_model_artifacts = {}  # preset -> the cached script


def compute_all(app, env) -> list[str]:
    """After reading: compute each widget's default input and export the scripts the
    working ones load; returns the pages whose results changed (they are written again)."""
    specs = [
        spec for docname in sorted(env.live_model_specs) for spec in env.live_model_specs[docname]
    ]
    env.live_model_spec_by_uid = {spec.uid: spec for spec in specs}
    previous = env.live_model_results
    env.live_model_results = {}
    env.live_model_artifacts = {}
    if not specs:
        return []
    from . import compute  # torch: only for books that have live widgets

    cache = _core.cache_root(app) / "live"
    for spec in specs:
        env.live_model_results[spec.uid] = _compute(compute, cache, spec)
    working = {
        name
        for spec in specs
        if "error" not in env.live_model_results[spec.uid]
        for name in spec.scripts
    }
    for name in sorted(working):
        try:
            env.live_model_artifacts[name] = str(_export(name, cache))
        except OSError as error:  # a full or read-only cache: its widgets stay static
            for spec in specs:
                if name in spec.scripts and "error" not in env.live_model_results[spec.uid]:
                    env.live_model_results[spec.uid] = _unstored(spec, error)
    changed = {s.docname for s in specs if previous.get(s.uid) != env.live_model_results[s.uid]}
    return sorted(changed)


def _problem(compute, cache: Path, spec) -> tuple[str, str] | None:
    """Why the spec's model or input cannot be used, with a hint; None when it can."""
    if spec.kind == "chat":
        return compute.chat_problem(spec.runs, spec.prompt)
    if spec.kind == "training" and spec.run == "rl":
        from . import rl_training

        return rl_training.problem(spec.preset, spec.settings)
    if spec.kind == "training":
        from . import training_widget

        return training_widget.problem(spec.preset, spec.settings)
    if spec.script.endswith("-rl-replay"):
        if spec.preset != "sort":
            return (
                f"there is no RL run of the {spec.preset} model",
                "only sort has one (rl_runs.py)",
            )
        return None
    if compute.stored_result(cache, spec.preset, spec.request()) is not None:
        return None  # checked when it was made: no model is loaded to check it again
    entry = compute.trained_model(spec.preset)
    if spec.script.endswith("-replay") and entry.replay is None:
        return (
            f"the {spec.preset} model keeps no training replay",
            "only sort models record one while they train (model_src/replay.py)",
        )
    if spec.kind == "replay" or spec.ask in ("accuracy-step", "rl-pass-k"):
        return None
    problem = compute.check_prompt(entry, spec.prompt)
    if problem:
        return (
            f"the :prompt: {spec.prompt!r} cannot be read: {problem}",
            "use only characters of the model's vocabulary, at most block_size of them",
        )
    if spec.ask == "strongest-key" and len(entry.encode(spec.prompt)) < 2:
        return (
            f"the :prompt: {spec.prompt!r} is one token: a strongest-key question needs a "
            "query with an earlier position to attend to",
            "give a :prompt: of at least two tokens",
        )
    return None


def _trained_problem(spec) -> tuple[str, str] | None:
    """Why what the widget's model was trained on (the page's check of the reader's input)
    cannot be read, with a hint; None when it can. Read here, not while the page is
    written, so that a problem is a warning at the directive's line."""
    from . import distribution, render

    try:
        if spec.kind in render.FREE_INPUT:
            distribution.limits(spec.preset)
        if spec.kind == "chat":
            for run in spec.runs:
                distribution.chat_limits(run)
    except ValueError as error:  # the training rows contradict what distribution.py reads
        return (
            f"what its model was trained on cannot be read: {error}",
            "distribution.py reads it from the rows prepare.py, arithmetic.py and "
            "finetune.py make: fix the rows or the reading",
        )
    return None


def _computation(compute, spec):
    if spec.kind == "attention":
        return lambda: compute.attention(spec.preset, spec.prompt)
    if spec.kind == "sampling":
        return lambda: compute.sampling(
            spec.preset,
            spec.prompt,
            spec.temperature,
            spec.top_k,
            spec.seed,
            spec.steps,
            top_p=spec.top_p,
        )
    if spec.kind == "replay" and spec.run == "rl":
        return lambda: compute.rl_replay_summary(spec.preset)
    if spec.kind == "replay":
        return lambda: compute.replay_summary(spec.preset)
    if spec.kind == "tools":
        return lambda: compute.tools(spec.preset, spec.prompt)
    if spec.kind == "chat":
        return lambda: compute.chat_replies(spec.runs, spec.prompt)
    if spec.kind == "training" and spec.run == "rl":
        from . import rl_training

        return lambda: rl_training.summary(spec.preset)
    if spec.kind == "training":
        from . import training_widget

        return lambda: training_widget.summary(spec.preset)
    return lambda: compute.predict(
        spec.preset, spec.ask, spec.prompt, spec.temperature, spec.threshold, spec.layer
    )


def _compute(compute, cache: Path, spec) -> dict:
    if spec.error is not None:
        return {"error": spec.error}
    problem = _problem(compute, cache, spec) or _trained_problem(spec)
    if problem is None:
        try:
            result = compute.cached_result(
                cache, spec.preset, spec.request(), _computation(compute, spec)
            )
            trains = spec.kind == "training" and spec.run == "training"
            return _with_phases(result) if trains else result
        except OSError as error:
            return _unstored(spec, error)
        except _core.Problem as error:  # a phase's line is no longer in train.py
            problem = (str(error), error.hint)
        except ValueError as error:  # a question the model's record cannot answer
            problem = (str(error), "choose another :threshold:, :layer: or :prompt:")
    message, hint = problem
    _core.warn(
        logger,
        f"{spec.directive}: {message}",
        location=spec.location,
        subtype=spec.name,
        hint=hint,
    )
    return {"error": message}


def _with_phases(result: dict) -> dict:
    """A training widget's result with the lines of each phase of the step, found in
    the code as it is now (never cached: a line moves without changing what trains)."""
    from . import training_widget

    return {**result, "phases": training_widget.phase_lines()}


def _unstored(spec, error: OSError) -> dict:
    message = f"{spec.directive}: the result could not be stored in the cache: {error}"
    hint = _core.STORAGE_HINT
    _core.warn(logger, message, location=spec.location, subtype=spec.name, hint=hint)
    return {"error": message}


def add_page_assets(app, pagename, templatename, context, doctree) -> None:
    """The runtime, the kit and the scripts of the kinds shown, only on pages with a working
    widget (deferred: after the page's text, in this order, so the kit comes first)."""
    results = app.env.live_model_results
    nodes = doctree.findall(live_widget) if doctree is not None else []
    working = [n for n in nodes if "error" not in results.get(n["uid"], {"error": True})]
    if not working:
        return
    shown = {KIND_SCRIPTS[node["kind"]] for node in working}
    specs = app.env.live_model_spec_by_uid
    if any(specs[node["uid"]].script.endswith("-rl-training") for node in working):
        shown.add(RL_TRAINING_SCRIPT)
    if any(node["preset"] in TOOL_MODELS for node in working):
        shown.add(TOOL_SCRIPT)
    for script in (*SCRIPTS, *sorted(shown)):
        app.add_js_file(script, loading_method="defer")
    app.add_css_file("nanobook_live.css")


def setup(app):
    _core.setup_core(app)
    app.add_node(
        live_widget,
        html=(render.visit_html, render.depart_html),
        latex=(render.skip, None),
        text=(render.skip, None),
        man=(render.skip, None),
        texinfo=(render.skip, None),
    )
    app.add_directive("live-attention", LiveAttentionDirective)
    app.add_directive("live-sampling", LiveSamplingDirective)
    app.add_directive("live-tools", LiveToolsDirective)
    app.add_directive("live-chat", LiveChatDirective)
    app.add_directive("training-replay", TrainingReplayDirective)
    app.add_directive("predict-check", PredictCheckDirective)
    app.add_directive("live-training", LiveTrainingDirective)
    app.add_directive(memory_widget.NAME, memory_widget.MemoryCalculatorDirective)
    memory_widget.connect(app)  # memory-calculator: formulas, not a trained model
    app.connect("config-inited", check_config)
    _core.per_page_state(app, "live_model_specs")  # docname -> [LiveSpec]
    app.connect("env-before-read-docs", init_env)
    app.connect("env-updated", compute_all)
    app.connect("doctree-resolved", render.add_fallbacks)
    app.connect("html-page-context", add_page_assets)
    # env_version 1: a calculator's page is read again when any code it runs changes
    # (memory_widget.code_files); pages read before followed a shorter list
    return {
        "version": __version__,
        "env_version": 1,
        "parallel_read_safe": True,
        "parallel_write_safe": True,
    }


def _export(name: str, cache) -> Path:
    """The script a widget loads (compute.export), or a run to train again
    (``sort-training``, training_widget.py; ``sort-rl-training``, rl_training.py)."""
    if name.endswith("-rl-training"):
        from . import rl_training

        return rl_training.artifact(name.removesuffix("-rl-training"), cache)
    if name.endswith("-training"):
        from . import training_widget

        return training_widget.artifact(name.removesuffix("-training"), cache)
    from . import compute

    return compute.export(name, cache)
