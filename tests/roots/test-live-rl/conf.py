from pathlib import Path

import model_src  # the repository's (tests/conftest.py puts it on the path)

REPO = Path(model_src.__file__).resolve().parents[1]

extensions = ["myst_parser", "ext.live_models"]
