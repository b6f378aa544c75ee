import os
from pathlib import Path

from helpers import ORANGE_DOT
from manim import Circle, GrowFromCenter, Scene


class Dot(Scene):
    def construct(self):
        size = float(Path(os.environ["NANOBOOK_CLIP_DATA"]).read_text())
        self.play(
            GrowFromCenter(Circle(radius=size, color=ORANGE_DOT, fill_opacity=1)), run_time=0.3
        )


class Other(Scene):
    def construct(self):
        self.wait(0.2)
