import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parents[2]), str(HERE)]  # the repository (ext, model_src), and here

extensions = ["ext.arch_diagram"]
nanobook_presets = "fake_presets"
nanobook_project_root = str(HERE.parents[2])
nanobook_model_timeout = 10  # the Sleepy model (a busy machine needs 2 s for the others)
