from manim import Scene, Square


class Green(Scene):
    def construct(self):
        self.add(Square(side_length=4, color="#4ade80", fill_opacity=1))
        self.wait(0.3)
