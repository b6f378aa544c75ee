"""Models that go wrong in the ways the directive must report."""

from torch import nn


class Exploding(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.proj = nn.Linear(config.n_embd, config.n_embd)

    def forward(self, idx):
        raise RuntimeError("this model refuses to run")


def not_a_model(config):
    return "a string"


class Quitting(nn.Module):
    """Model code that ends the process its forward pass runs in."""

    def __init__(self, config):
        super().__init__()
        self.proj = nn.Linear(config.n_embd, config.n_embd)

    def forward(self, idx):
        raise SystemExit(0)


class Sleepy(nn.Module):
    """Model code that never finishes (the root's conf.py allows it 10 seconds)."""

    def __init__(self, config):
        super().__init__()
        self.proj = nn.Linear(config.n_embd, config.n_embd)

    def forward(self, idx):
        import time

        time.sleep(600)
