"""How well does a trained model do its job? Scores beyond the loss."""

import torch

from . import prepare
from .model import GPT


@torch.no_grad()
def sort_accuracy(model: GPT, n: int | None = None) -> float:
    """Fraction of held-out sort prompts (the first n val rows; all by default) that the
    model completes exactly right, always taking its likeliest next letter."""
    data = prepare.sort_data()
    seq_len, prompt_len = data.meta["seq_len"], data.meta["prompt_len"]
    rows = torch.from_numpy(data.val.reshape(-1, seq_len)[:n].astype("int64"))
    device = next(model.parameters()).device
    idx = rows[:, :prompt_len].to(device)  # (N, prompt_len)
    was_training = model.training
    model.eval()
    for _ in range(seq_len - prompt_len):
        logits, _ = model(idx)  # (N, 1, vocab_size)
        idx = torch.cat((idx, logits[:, -1].argmax(dim=-1, keepdim=True)), dim=1)
    model.train(was_training)
    return (idx.cpu() == rows).all(dim=1).float().mean().item()
