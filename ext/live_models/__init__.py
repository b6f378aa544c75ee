"""``live-attention`` and ``live-sampling``: the book's trained models in the reader's browser.

    ```{live-attention} sort          (or char)
    :prompt: CBACAB                   the input the page starts with (and the static
                                      rendering shows); a sort prompt of 6 letters is
                                      read with the model's own greedy answer appended
    ```
    ```{live-sampling} char
    :prompt: def                      the text to continue
    :temperature: 0.8                 (default 1)
    :top-k: 20                        (default: none)
    :seed: 0                          the reader can change it in the widget
    :steps: 80                        tokens per run (default: 6 for sort, 80 for char)
    ```

The directives record a spec while pages are read. After reading (env-updated), each
model a page asks for is exported once into the cache as a web artifact (compute.py),
and each widget's computation on its default input is run, or taken from the cache;
the writers show it as a table everywhere and, in HTML, inside the widget that
nanobook_widgets.js makes live (the JavaScript API is on the authoring page). A bad
preset, option or prompt is a warning at the directive's line (type
``nanobook.live_models``), and the page says the widget is not available.
"""

from __future__ import annotations

from pathlib import Path

from sphinx.util import logging

from .. import _core
from . import render
from .directive import SUBTYPE, LiveAttentionDirective, LiveSamplingDirective, live_widget

__version__ = "0.1.0"

logger = logging.getLogger(__name__)
STATIC = Path(__file__).parent / "static"
SCRIPTS = ("nanobook_live.js", "nanobook_widgets.js")


def check_config(app, config) -> None:
    config.html_static_path.append(str(STATIC))


def init_env(app, env, docnames) -> None:
    if not hasattr(env, "live_model_specs"):
        env.live_model_specs = {}  # docname -> [LiveSpec]
        env.live_model_results = {}  # uid -> computation result, or {"error": ...}
        env.live_model_artifacts = {}  # preset -> the cached script


def purge_doc(app, env, docname: str) -> None:
    getattr(env, "live_model_specs", {}).pop(docname, None)


def merge_specs(app, env, docnames, other) -> None:
    for docname in docnames:
        if docname in other.live_model_specs:
            env.live_model_specs[docname] = other.live_model_specs[docname]


def compute_all(app, env) -> list[str]:
    """After reading: export the models pages ask for and compute the default inputs'
    results; returns the pages whose results changed (they are written again)."""
    specs = [
        spec for docname in sorted(env.live_model_specs) for spec in env.live_model_specs[docname]
    ]
    env.live_model_spec_by_uid = {spec.uid: spec for spec in specs}
    previous = env.live_model_results
    env.live_model_results = {}
    cache = _core.cache_root(app) / "live"
    if not specs:
        env.live_model_artifacts = {}
        return []
    from . import compute  # torch: only for books that have live widgets

    good = [spec for spec in specs if spec.error is None]
    env.live_model_artifacts = {
        preset: str(compute.artifact(preset, cache)) for preset in sorted({s.preset for s in good})
    }
    for spec in specs:
        env.live_model_results[spec.uid] = _compute(compute, cache, spec)
    return sorted(
        {
            spec.docname
            for spec in specs
            if previous.get(spec.uid) != env.live_model_results[spec.uid]
        }
    )


def _compute(compute, cache: Path, spec) -> dict:
    if spec.error is not None:
        return {"error": spec.error}
    problem = compute.check_prompt(compute.trained_model(spec.preset), spec.prompt)
    if problem:
        _core.warn(
            logger,
            f"live-{spec.kind} {spec.preset}: the :prompt: {spec.prompt!r} cannot be read: "
            f"{problem}",
            location=spec.location,
            subtype=SUBTYPE,
            hint="use only characters of the model's vocabulary, at most block_size of them",
        )
        return {"error": problem}
    if spec.kind == "attention":
        return compute.cached_result(
            cache, spec.preset, spec.request(), lambda: compute.attention(spec.preset, spec.prompt)
        )
    return compute.cached_result(
        cache,
        spec.preset,
        spec.request(),
        lambda: compute.sampling(
            spec.preset, spec.prompt, spec.temperature, spec.top_k, spec.seed, spec.steps
        ),
    )


def add_page_assets(app, pagename, templatename, context, doctree) -> None:
    """The runtime only on pages with a working widget (deferred: after the page's text)."""
    results = app.env.live_model_results
    nodes = doctree.findall(live_widget) if doctree is not None else []
    if not any("error" not in results.get(node["uid"], {"error": True}) for node in nodes):
        return
    for script in SCRIPTS:
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
    app.connect("config-inited", check_config)
    app.connect("env-before-read-docs", init_env)
    app.connect("env-purge-doc", purge_doc)
    app.connect("env-merge-info", merge_specs)
    app.connect("env-updated", compute_all)
    app.connect("doctree-resolved", render.add_fallbacks)
    app.connect("html-page-context", add_page_assets)
    return {"version": __version__, "parallel_read_safe": True, "parallel_write_safe": True}
