import os
import sys

sys.path.insert(0, os.getcwd())  # the repository (the test runs the build from there)
from ext import cell_bookkeeping

os.environ["JUPYTER_PATH"] = os.path.join(os.path.dirname(cell_bookkeeping.__file__), "jupyter")
extensions = ["myst_nb", "ext.cell_bookkeeping"]
nb_execution_mode = "cache"
nb_execution_cache_path = os.environ["NANOBOOK_TEST_NOTEBOOKS"]
