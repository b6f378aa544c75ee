from manim import Scene, Square


class Orange(Scene):
    def construct(self):
        self.add(Square(side_length=4, color="#da7756", fill_opacity=1))
        self.wait(0.3)
