"""Three-digit addition, with and without a calculator: the Tools chapter's task.

    123+045=<123+045>168.      with the tool: the model writes the call, the engine the sum
    123+045=168.               without: the model writes the sum itself

    from model_src import arithmetic
    x, y = arithmetic.row(123, 45, tool=True)     # one training row, its targets masked

Both models are the book's GPT in the sort model's shape (3 layers, 3 heads, 48
channels), trained with train.py's loop on the same random problems. Only the answers
differ. The loss never sees the prompt (two random numbers: nothing to learn there) nor,
with the tool, the sum the engine writes (targets -1): the model is taught to write the
call and to stop, never to add. The runs themselves (settings, seeds, the store) are
experiments/arithmetic_runs.py's.
"""

import torch

from . import engine, presets
from .engine import CALL_CLOSE, CALL_OPEN, ERROR, STOP
from .model import GPT, GPTConfig

DIGITS = 3  # each operand: 000 to 999, always written with three digits
TOKENIZER = engine.Tokenizer(
    "0123456789"
    + engine.OPERATORS
    + "="
    + CALL_OPEN
    + CALL_CLOSE
    + STOP
    + "".join(sorted(set(ERROR)))
)
# longest row: "999+999=" "<999+999>" "1998" "." = 22 tokens; two to spare for a long call
BLOCK_SIZE = 24
HELD_OUT = 300  # problems never trained on: what every accuracy is measured on


def gpt_config() -> GPTConfig:
    """The sort model's shape, with this task's vocabulary and context."""
    return presets.gpt_config("sort", block_size=BLOCK_SIZE, vocab_size=len(TOKENIZER.vocab))


def prompt(a: int, b: int) -> str:
    return f"{a:0{DIGITS}d}+{b:0{DIGITS}d}="


def answer(a: int, b: int, tool: bool) -> str:
    """What follows the prompt: the call (the engine appends the sum) or the sum."""
    call = f"{CALL_OPEN}{a:0{DIGITS}d}+{b:0{DIGITS}d}{CALL_CLOSE}" if tool else ""
    return f"{call}{a + b}{STOP}"


def held_out() -> torch.Tensor:
    """The HELD_OUT (a, b) pairs every accuracy is measured on: (HELD_OUT, 2)."""
    generator = torch.Generator().manual_seed(0)
    pairs = torch.randperm(10 ** (2 * DIGITS), generator=generator)[:HELD_OUT]
    return torch.stack((pairs // 10**DIGITS, pairs % 10**DIGITS), dim=1)


def row(a: int, b: int, tool: bool) -> tuple[list[int], list[int]]:
    """One training row: inputs x and targets y (BLOCK_SIZE each). Targets are -1 on the
    prompt, on the sum the engine writes (tool) and after the end."""
    text = prompt(a, b) + answer(a, b, tool)
    ids = TOKENIZER.encode(text) + [TOKENIZER.stoi[STOP]] * (BLOCK_SIZE + 1 - len(text))
    scored = [False] * (len(prompt(a, b)) - 1) + [True] * (len(text) - len(prompt(a, b)))
    if tool:
        forced = text.index(CALL_CLOSE) + 1  # the sum's first character
        for i in range(forced, forced + len(str(a + b))):
            scored[i - 1] = False  # the target at i - 1 is the token at i
    scored += [False] * (BLOCK_SIZE - len(scored))
    return ids[:-1], [t if s else -1 for t, s in zip(ids[1:], scored, strict=True)]


def batches(tool: bool, batch_size: int):
    """fit's batches(split, generator): random training problems (never a held-out one),
    or held-out ones for "val"."""
    test = held_out()
    test_keys = test[:, 0] * 10**DIGITS + test[:, 1]

    def draw(split: str, generator: torch.Generator):
        if split == "val":
            pairs = test[torch.randint(HELD_OUT, (batch_size,), generator=generator)]
        else:
            keys = torch.randint(10 ** (2 * DIGITS), (batch_size,), generator=generator)
            keys = keys[~torch.isin(keys, test_keys)]  # rarely drops one: 300 in a million
            pairs = torch.stack((keys // 10**DIGITS, keys % 10**DIGITS), dim=1)
        rows = [row(int(a), int(b), tool) for a, b in pairs]
        return torch.tensor([x for x, _ in rows]), torch.tensor([y for _, y in rows])

    return draw


def evaluate(model: GPT, tool: bool) -> list[str]:
    """The model's greedy completion of every held-out problem, the tool on or off."""
    prompts = [prompt(int(a), int(b)) for a, b in held_out()]
    done = engine.complete_all(model, TOKENIZER, prompts, engine.calculate if tool else None)
    return [seq.text for seq in done]


def result(text: str) -> str:
    """The sum a completion gives: what stands before its STOP, after the call if any."""
    body = text.split("=", 1)[1]
    body = body.rsplit(CALL_CLOSE, 1)[-1]
    return body.split(STOP, 1)[0] if STOP in body else ""
