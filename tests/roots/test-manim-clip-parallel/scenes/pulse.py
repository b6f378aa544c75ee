from manim import Dot, FadeIn, Scene


class Pulse(Scene):
    def construct(self):
        self.play(FadeIn(Dot(radius=0.5, color="#4ade80")), run_time=0.3)
