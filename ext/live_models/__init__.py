"""The book's trained models in the reader's browser: the live widget kinds (one module
each in ``kinds/``, whose docstrings show their directives: ``live-attention``,
``live-sampling``, ``live-tools``, ``live-chat``, ``training-replay``, ``predict-check``,
``live-training``) and the memory calculator (memory_widget.py).

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
from . import kinds, memory_widget, render
from .directive import live_widget

__version__ = "0.1.0"

logger = logging.getLogger(__name__)
STATIC = Path(__file__).parent / "static"
SCRIPTS = ("nanobook_live.js", "nanobook_widgets.js")  # the runtime, the widgets' kit
# After SCRIPTS, the script of each widget kind the page shows (it registers with the kit).
KIND_SCRIPTS = {kind: spec.page_script for kind, spec in kinds.KINDS.items()}


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
    cache = _core.cache_root(app) / "live"
    for spec in specs:
        env.live_model_results[spec.uid] = _compute(cache, spec)
    working = {
        name
        for spec in specs
        if "error" not in env.live_model_results[spec.uid]
        for name in spec.scripts
    }
    for name in sorted(working):
        try:
            env.live_model_artifacts[name] = str(kinds.export(name, cache))
        except OSError as error:  # a full or read-only cache: its widgets stay static
            for spec in specs:
                if name in spec.scripts and "error" not in env.live_model_results[spec.uid]:
                    env.live_model_results[spec.uid] = _unstored(spec, error)
    changed = {s.docname for s in specs if previous.get(s.uid) != env.live_model_results[s.uid]}
    return sorted(changed)


def _compute(cache: Path, spec) -> dict:
    """The spec's result (its kind's computation, cached), or {"error": ...} once its
    problem is warned at the directive's line."""
    if spec.error is not None:
        return {"error": spec.error}
    from . import compute  # torch: only for books that have live widgets

    problem = spec.problem(cache)
    if problem is None:
        try:
            return spec.shown(compute.cached_result(cache, spec))
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
    specs = app.env.live_model_spec_by_uid
    shown = {script for node in working for script in specs[node["uid"]].page_scripts()}
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
    for spec_class in kinds.KINDS.values():
        app.add_directive(spec_class.name, kinds.directive(spec_class))
    app.add_directive(memory_widget.NAME, memory_widget.MemoryCalculatorDirective)
    memory_widget.connect(app)  # memory-calculator: formulas, not a trained model
    app.connect("config-inited", check_config)
    _core.per_page_state(app, "live_model_specs")  # docname -> [LiveSpec]
    app.connect("env-before-read-docs", init_env)
    app.connect("env-updated", compute_all)
    app.connect("doctree-resolved", render.add_fallbacks)
    app.connect("html-page-context", add_page_assets)
    # env_version 2: each kind's spec is its own class (kinds/); pages read before hold
    # the one class of every kind
    return {
        "version": __version__,
        "env_version": 2,
        "parallel_read_safe": True,
        "parallel_write_safe": True,
    }
