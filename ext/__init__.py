"""The book's Sphinx extensions: manim-clip, arch-diagram and annotated-source."""
