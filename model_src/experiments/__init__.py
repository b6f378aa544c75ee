"""The book's experiments, apart from the model and its training: which seeds they draw
(seeds.py) and how a claim about their runs is decided (verdicts.py)."""
