import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[3]))  # the repository: ext.* imports

extensions = ["myst_parser", "ext.manim_clip"]
manim_clip_quality = "draft"
manim_clip_timeout = 10  # the Sleeps scene; generous for a busy CI machine
