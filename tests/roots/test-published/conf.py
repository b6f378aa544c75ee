import os
import sys

sys.path.insert(0, os.getcwd())  # the repository (the test runs the build from there)
sys.path.insert(0, os.path.dirname(__file__))

extensions = ["shows_file"]
exclude_patterns = ["_build", "files"]
