import os
import sys
from pathlib import Path

sys.path.insert(0, os.getcwd())  # the repository (the test runs the build from there)
from ext import notebooks, reader_notebooks

os.environ["JUPYTER_PATH"] = os.path.join(os.path.dirname(reader_notebooks.__file__), "jupyter")
extensions = ["myst_nb", "ext.reader_notebooks"]
exclude_patterns = ["_build"]
html_baseurl = "https://example.org/book/"
nb_execution_mode = "cache"  # as the book's: the outputs glue() made stay in the cache
nb_execution_cache_path = os.path.join(os.path.dirname(__file__), "_build", "jupyter")
nanobook_run_box_pages = ["quotes", "fine"]


def _offer(app, pagename, templatename, context, doctree):
    saved = Path(app.outdir).parent / "jupyter_execute" / f"{pagename}.ipynb"
    if doctree is not None and saved.is_file():
        executed = notebooks.with_outputs(saved, nb_execution_cache_path)
        reader_notebooks.offer(app, pagename, executed, context)


def setup(app):
    app.connect("html-page-context", _offer, priority=reader_notebooks.PRIORITY)
