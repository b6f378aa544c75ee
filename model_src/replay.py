"""Snapshots of a sort model while it learns: what the book's training replay shows.

    recorder = Recorder(config)               # before training
    train(config, observe=recorder)           # called at step 0 and after every step
    recorder.snapshots                        # one dict per recorded step

At about 30 evenly spaced steps (always step 0, before any update, and the last) it
keeps, for a few fixed held-out prompts, the attention maps of every head and the
model's next-letter choice at each position with its probability, plus the training
loss at that step and the held-out accuracy, of whole answers and of single letters.
Recording only reads the model (eval mode, no gradients, no random numbers drawn), so
the trained weights are exactly those of a run without it.
"""

import torch
import torch.nn.functional as F

from . import prepare
from .probe import attention_maps

SNAPSHOTS = 30  # intervals between step 0 and the last step
PROBES = 3  # held-out prompts shown in the replay
DECIMALS = 4  # stored precision: far finer than any plot shows, and small on disk


def recorded_steps(max_iters: int) -> list[int]:
    """Step 0, the last step and evenly spaced steps between (no duplicates)."""
    return sorted({round(i * max_iters / SNAPSHOTS) for i in range(SNAPSHOTS + 1)})


def held_out_rows() -> tuple[torch.Tensor, torch.Tensor, int]:
    """Every held-out row as inputs and targets, (N, 11) each, and where answers start.
    The probes are the first PROBES of them."""
    data = prepare.sort_data()
    rows = torch.from_numpy(data.val.reshape(-1, data.meta["seq_len"]).astype("int64"))
    return rows[:, :-1].contiguous(), rows[:, 1:].contiguous(), data.meta["prompt_len"]


def letters_right(logits: torch.Tensor, targets: torch.Tensor, prompt_len: int) -> torch.Tensor:
    """(N, letters) whether the likeliest letter is right at each answer position,
    given the right letters before it (the causal mask hides each position's future)."""
    return (logits.argmax(dim=-1) == targets)[:, prompt_len - 1 :]


def answers_right(logits: torch.Tensor, targets: torch.Tensor, prompt_len: int) -> torch.Tensor:
    """(N,) whether greedy decoding sorts each row: it writes a whole answer right exactly
    when every letter is right given the right ones before it, so one pass over the
    complete rows scores just that: tasks.sort_accuracy's six passes in one."""
    return letters_right(logits, targets, prompt_len).all(dim=1)


class Recorder:
    def __init__(self, config: dict):
        self.steps = set(recorded_steps(config["max_iters"]))
        self.x, self.y, self.prompt_len = held_out_rows()
        self.snapshots: list[dict] = []

    @torch.no_grad()
    def __call__(self, model, iter_num: int, loss: float | None) -> None:
        if iter_num not in self.steps:
            return
        was_training = model.training
        model.eval()
        logits, _ = model(self.x, self.y)  # with targets: logits at every position
        with attention_maps(model) as maps:  # the slower plain path, for the probes only
            model(self.x[:PROBES])
        model.train(was_training)
        best = F.softmax(logits[:PROBES], dim=-1).max(dim=-1)  # (P, T) each
        right = letters_right(logits, self.y, self.prompt_len)  # (N, letters)
        accuracy = answers_right(logits, self.y, self.prompt_len).float().mean().item()
        self.snapshots.append(
            {
                "step": iter_num,
                "loss": None if loss is None else round(loss, DECIMALS),
                "accuracy": round(accuracy, DECIMALS),  # whole answers right
                "letters": round(right.float().mean().item(), DECIMALS),  # answer letters right
                # attention[p][layer][head][query][key], keys 0..query only: the rest is masked
                "attention": _causal_rows(_rounded(torch.stack(maps, dim=1)[:PROBES])),
                "prediction": best.indices.tolist(),  # likeliest next letter
                "probability": _rounded(best.values),  # and its probability
            }
        )

    def record(self) -> dict:
        """Everything the replay needs, as plain JSON-ready data."""
        return {
            "probes": self.x[:PROBES].tolist(),
            "targets": self.y[:PROBES].tolist(),
            "snapshots": self.snapshots,
        }


def _rounded(t: torch.Tensor):
    # in float64, so 0.1234 prints as 0.1234 and not as its nearest float32
    return torch.round(t.double(), decimals=DECIMALS).tolist()


def _causal_rows(maps: list) -> list:
    """Drop the masked part of each (T, T) map in nested lists (P, L, nh, T, T)."""
    return [
        [[[row[: q + 1] for q, row in enumerate(head)] for head in layer] for layer in probe]
        for probe in maps
    ]
