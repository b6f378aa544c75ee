from manim import Circle, FadeIn, Scene


class Fine(Scene):
    def construct(self):
        self.play(FadeIn(Circle()), run_time=0.3)


class AlsoFine(Scene):
    def construct(self):
        self.wait(0.2)
