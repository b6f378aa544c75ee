"""The book's trained models in the reader's browser: the live widget kinds (one module
each in ``kinds/``, whose docstrings show their directives: ``live-attention``,
``live-sampling``, ``live-tools``, ``live-chat``, ``training-replay``, ``predict-check``,
``live-training``) and the memory calculator (memory_widget.py).

The directives record a spec while pages are read. After reading (env-updated), each
widget's computation on its default input is taken from the cache or run, and each
model a working widget loads is exported once into the cache as a web artifact
(compute.py): the lifecycle of every producer (widgets.py, ext/producers.py);
the writers show it as a table everywhere and, in HTML, inside the widget that its
kind's script makes live (``static/nanobook_<kind>.js``, on the shared helpers of
nanobook_widgets.js; the JavaScript API is on the authoring page). A bad
preset, option or prompt is a warning at the directive's line (type
``nanobook.<the directive's name>``), and the page says the widget is not available.
"""

from __future__ import annotations

import functools
from pathlib import Path

from .. import _core, producers
from . import kinds, memory_widget, render, widgets
from .directive import live_widget

__version__ = "0.1.0"

STATIC = Path(__file__).parent / "static"
SCRIPTS = ("nanobook_live.js", "nanobook_widgets.js")  # the runtime, the widgets' kit
# After SCRIPTS, the script of each widget kind the page shows (it registers with the kit).
KIND_SCRIPTS = {kind: spec.page_script for kind, spec in kinds.KINDS.items()}


def check_config(app, config) -> None:
    config.html_static_path.append(str(STATIC))


def add_page_assets(app, pagename, templatename, context, doctree) -> None:
    """The runtime, the kit and the scripts of the kinds shown, only on pages with a working
    widget (deferred: after the page's text, in this order, so the kit comes first)."""
    nodes = doctree.findall(live_widget) if doctree is not None else []
    working = [node["uid"] for node in nodes if widgets.shown_of(app.env, node["uid"])]
    if not working:
        return
    specs = [widgets.spec_of(app.env, uid) for uid in working]
    shown = {script for spec in specs for script in spec.page_scripts()}
    for script in (*SCRIPTS, *sorted(shown)):
        app.add_js_file(script, loading_method="defer")
    app.add_css_file("nanobook_live.css")


def setup(app):
    _core.setup_core(app)
    app.setup_extension("ext.published")  # and what no page shows any more, pruned
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
    app.connect("env-updated", functools.partial(producers.produce, widgets.WIDGETS))
    app.connect("doctree-resolved", render.add_fallbacks)
    app.connect("html-page-context", add_page_assets)
    # env_version 3: the results are the producers' (widgets.py); pages read before keep
    # them in attributes of their own
    return {
        "version": __version__,
        "env_version": 3,
        "parallel_read_safe": True,
        "parallel_write_safe": True,
    }
