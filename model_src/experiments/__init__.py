"""The book's experiments, apart from the model and its training: the runs each chapter
compares, declared once and trained, kept and read back by one runner (runner.py), the
seeds they draw (seeds.py) and how a claim about their runs is decided (verdicts.py)."""
