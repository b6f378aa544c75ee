"""The build's library: what the model code (model_src), the noxfile, the bench and the
book's Sphinx extensions (ext/) share, with no Sphinx import.

- ``store``: the content-addressed artifact store every product of the build lives in
  (trained models, clips, the film, diagrams, live exports), and the keys built on code.
- ``processes``: the build's core budget, worker processes, running apart under limits.
- ``files``: writing a file atomically (no reader sees half of it).
- ``book_build``: the one sphinx-build command line and environment of the book.
"""
