import os
from pathlib import Path

from helpers import ORANGE_DOT
from manim import Circle, FadeOut, GrowFromCenter, Scene


class Dot(Scene):
    """Says its beats and its poster frame as a BookScene does (the worker's contract)."""

    def construct(self):
        size = float(Path(os.environ["NANOBOOK_CLIP_DATA"]).read_text())
        dot = Circle(radius=size, color=ORANGE_DOT, fill_opacity=1)
        self.beats = [(0.0, "A dot grows <from> nothing"), (0.3, "then it fades away")]
        self.play(GrowFromCenter(dot), run_time=0.3)
        self.poster_time = self.renderer.time  # the grown dot, not the empty last frame
        self.play(FadeOut(dot), run_time=0.3)


class Other(Scene):
    def construct(self):
        self.wait(0.2)
