"""Two sets of weights trained in the sort preset's arithmetic (float64 steps rounded to
float32 weights: train.arithmetic) compared, as the tests of the trainers do."""

import torch


def assert_equal_but_key_biases(weights: dict, expected: dict[str, torch.Tensor]) -> None:
    """Every weight the very same float32 as `expected`'s, but for the key biases: their
    exact gradient is 0 (softmax ignores a shift shared by a row's scores), so AdamW,
    which divides a gradient by its own size, steps them by rounding noise."""
    for name, weight in expected.items():
        same = torch.as_tensor(weights[name]).reshape(weight.shape) == weight
        if name.endswith("attn.c_attn.bias"):  # queries, keys, values: the keys' third aside
            same = same.view(3, -1)[[0, 2]]
        assert same.all(), name
