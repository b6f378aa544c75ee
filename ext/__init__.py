"""The book's Sphinx extensions (manim-clip and manim-film, arch-diagram,
annotated-source, the live widgets, math images, reader notebooks, the site and theme
helpers) and its own build steps (book.py). What they share with the model code is in
buildlib."""
