import os
import sys

sys.path.insert(0, os.getcwd())  # the repository (the test runs the build from there)
from ext import computed_marks

REPO = os.path.dirname(os.path.dirname(computed_marks.__file__))
os.environ["JUPYTER_PATH"] = os.path.join(REPO, "ext", "jupyter")  # the book's kernel
extensions = ["myst_nb", "ext.computed_marks"]
nb_execution_mode = "cache"
nb_execution_cache_path = os.environ["NANOBOOK_TEST_NOTEBOOKS"]
# the book's theme and its stylesheet, where the mark is drawn
html_theme = "sphinx_book_theme"
html_static_path = [os.path.join(REPO, "docs", "_static")]
html_css_files = ["nanobook.css"]
