import os
from pathlib import Path

import ext  # the test runs the build from the repository
from ext import notebooks

REPO = os.path.dirname(os.path.dirname(ext.__file__))
os.environ["JUPYTER_PATH"] = os.path.join(REPO, "ext", "jupyter")  # the book's kernel
os.environ["PYTHONPATH"] = REPO  # for its extension, buildlib.claim_values
extensions = ["myst_nb", "ext.claims"]
exclude_patterns = ["_build", "_jupyter", "jupyter_execute", "unstored-notebooks"]
nb_execution_mode = "cache"
nb_execution_raise_on_error = False
# a store: each page's executed notebook an entry
CACHE = Path(os.environ["NANOBOOK_TEST_NOTEBOOKS"])


# As the book: each notebook executed before reading, and again while its page is read
# when it failed (ext/notebooks.py).
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
