import os
import sys

sys.path.insert(0, os.getcwd())  # the repository (the test runs the build from there)
from ext import cell_images

os.environ["JUPYTER_PATH"] = os.path.join(os.path.dirname(cell_images.__file__), "jupyter")
extensions = ["myst_nb", "ext.cell_images"]
exclude_patterns = ["_build", "jupyter_execute"]
nb_execution_mode = "cache"
nb_execution_cache_path = os.environ["NANOBOOK_TEST_NOTEBOOKS"]
