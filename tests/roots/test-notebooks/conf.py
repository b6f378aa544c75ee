import os
import sys

sys.path.insert(0, os.getcwd())  # the repository (the test runs the build from there)
from ext import notebooks

os.environ["JUPYTER_PATH"] = os.path.join(os.path.dirname(notebooks.__file__), "jupyter")
extensions = ["myst_nb"]
nb_execution_mode = "cache"
nb_execution_cache_path = os.environ["NOTEBOOKS_TEST_CACHE"]


def _execute_early(app, env, added, changed, removed):
    notebooks.execute_missing(
        app, set(added) | set(changed), lambda docname: nb_execution_cache_path
    )
    return []


def setup(app):
    app.connect("env-get-outdated", _execute_early)
