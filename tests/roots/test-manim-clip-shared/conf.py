import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[3]))  # the repository: ext.* imports

extensions = ["ext.manim_clip"]
manim_clip_quality = "draft"
