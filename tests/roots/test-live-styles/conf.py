import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(REPO))  # ext/ and model_src/

extensions = ["myst_parser", "ext.live_models"]
nanobook_project_root = str(REPO)
