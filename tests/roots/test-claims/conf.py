import os

import ext  # the test runs the build from the repository

REPO = os.path.dirname(os.path.dirname(ext.__file__))
os.environ["JUPYTER_PATH"] = os.path.join(REPO, "ext", "jupyter")  # the book's kernel
os.environ["PYTHONPATH"] = REPO  # for its extension, buildlib.claim_values
extensions = ["myst_nb", "ext.claims", "ext.reader_notebooks"]
nanobook_run_box_pages = ["holds", "fails"]  # the "Run this chapter" box
nb_execution_mode = "cache"
nb_execution_cache_path = os.environ["NANOBOOK_TEST_NOTEBOOKS"]
nb_execution_raise_on_error = False
