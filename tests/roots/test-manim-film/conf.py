import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[3]))  # the repository: ext.* imports

project = "Film test"
extensions = ["myst_parser", "ext.manim_clip"]
numfig = True
manim_clip_quality = "draft"
