import os
import sys

sys.path.insert(0, os.getcwd())  # the repository (the test runs the build from there)
sys.path.insert(0, os.path.dirname(__file__))

extensions = ["myst_nb", "ext.lean_theme", "styles_while_reading"]
html_theme = "sphinx_book_theme"
nb_execution_mode = "off"
exclude_patterns = ["_build"]
