"""Conversations for the sort model: special tokens, and a conversation as ids and a mask.

    ids, trained = render([("user", "↑CABBAC"), ("assistant", "AABBCC")])
    x, y = example(ids, trained)     # y is -1 wherever the loss must not look

The sort model reads three letters, A, B and C (ids 0, 1, 2). A conversation needs
more: markers that say whose turn begins, a token that ends the assistant's reply (so
a sampling loop knows when to stop), and a request saying what to do with the letters.
Each is a new token, appended after the letters, so the trained model's ids keep
their meaning:

    <user> ↑ C A B B A C <assistant> A A B B C C <end>
    └──────── the prompt ───────────┘└── the reply ─────┘   the loss sees only the reply

`grow` gives a trained GPT the rows these tokens (and the longer context) need.
"""

from collections import Counter
from dataclasses import replace

import torch

from .model import GPT

LETTERS = "ABC"  # the sort model's vocabulary, ids 0, 1, 2
SPECIAL = ("<user>", "<assistant>", "<end>")  # turn markers and the stop token
# A request is one token; its answer is a function of the letters that follow it.
TASKS = {
    "↑": lambda letters: "".join(sorted(letters)),  # sort: the base model's skill
    "#": lambda letters: min(LETTERS, key=lambda c: (-Counter(letters)[c], c)),  # most common
}
VOCAB = (*LETTERS, *SPECIAL, *TASKS)  # id -> token
STOI = {token: i for i, token in enumerate(VOCAB)}
END = STOI["<end>"]


def tokens(role: str, text: str) -> list[str]:
    """One turn's tokens: the role's marker, one token per character, and for the
    assistant the stop token that ends its reply."""
    return [f"<{role}>", *text, *(["<end>"] if role == "assistant" else [])]


def render(turns: list[tuple[str, str]]) -> tuple[list[int], list[bool]]:
    """A conversation as ids, and for each id whether the loss trains the model to write
    it: the assistant's words and its <end>, never the user's (a user's words are not
    the model's to predict) and never a marker (the renderer, not the model, puts them)."""
    ids, trained = [], []
    for role, text in turns:
        turn = tokens(role, text)
        ids += [STOI[t] for t in turn]
        trained += [role == "assistant" and t != f"<{role}>" for t in turn]
    return ids, trained


def example(ids: list[int], trained: list[bool], masked: bool = True):
    """Input and target of one conversation, (T - 1,) each: the target is the next id,
    or -1 (not scored) where that id is not the model's to write. masked=False scores
    every next id, the user's included: the control."""
    x, y = torch.tensor(ids[:-1]), torch.tensor(ids[1:])
    if masked:
        y[~torch.tensor(trained[1:])] = -1
    return x, y


def conversation(request: str, letters: str) -> list[tuple[str, str]]:
    """A request with its correct reply, e.g. ("↑", "CAB") -> user "↑CAB", assistant "ABC"."""
    return [("user", request + letters), ("assistant", TASKS[request](letters))]


def prompt(request: str, letters: str) -> list[int]:
    """The ids a model is given to answer a request: the user's turn and the marker
    that hands it the next turn."""
    ids, _ = render([("user", request + letters)])
    return [*ids, STOI["<assistant>"]]


def grow(model: GPT, vocab_size: int, block_size: int) -> GPT:
    """A copy of a trained GPT with new rows: in wte (and so in the tied lm_head) for new
    tokens, in wpe for new positions. Every trained weight is copied; the new rows start
    as GPT's initialisation makes them, small and random: a token the model has never
    read and almost never writes."""
    grown = GPT(replace(model.config, vocab_size=vocab_size, block_size=block_size))
    new = grown.state_dict()  # shares storage with grown's parameters
    with torch.no_grad():
        for name, old in model.state_dict().items():
            if not name.endswith(".attn.bias"):  # the causal mask is built for the new size
                new[name][: old.size(0)] = old  # all of it, or the first rows of a table
    return grown


@torch.no_grad()
def reply(model: GPT, prompts: torch.Tensor, max_new_tokens: int) -> torch.Tensor:
    """Greedy replies to a batch of prompts (B, T) of one length: the likeliest next
    token, max_new_tokens times (a reply that stops early just goes on after <end>)."""
    idx = prompts
    for _ in range(max_new_tokens):
        logits, _ = model(idx)  # (B, 1, vocab)
        idx = torch.cat((idx, logits[:, -1].argmax(-1, keepdim=True)), dim=1)
    return idx[:, prompts.size(1) :]
