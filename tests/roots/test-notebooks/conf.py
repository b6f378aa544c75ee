import os
import sys
from pathlib import Path

sys.path.insert(0, os.getcwd())  # the repository (the test runs the build from there)
from ext import notebooks

os.environ["JUPYTER_PATH"] = os.path.join(os.path.dirname(notebooks.__file__), "jupyter")
extensions = ["myst_nb"]
exclude_patterns = ["_build", "jupyter_execute", "unstored-notebooks"]
nb_execution_mode = "cache"
# a store: each page's executed notebook an entry
CACHE = Path(os.environ["NANOBOOK_TEST_NOTEBOOKS"])


def _entry(docname):
    return CACHE / docname


def _execute_early(app, env, added, changed, removed):
    notebooks.execute_missing(app, set(added) | set(changed), _entry)
    return []


def _use_entry(app, docname, source):
    notebooks.cache_for_reading(app, docname, _entry(docname))


def setup(app):
    app.connect("env-get-outdated", _execute_early)
    app.connect("source-read", _use_entry)
