"""A sampling loop that runs tools: the model writes a call, the loop writes the answer.

    from model_src import arithmetic, engine
    done = engine.complete(model, arithmetic.TOKENIZER, "123+045=")   # tool=calculate
    done.text     # "123+045=<123+045>168."
    done.forced   # True where the loop, not the model, wrote the token (here "168")
    done.calls    # [Call(expression="123+045", result="168", error=None)]

A call is text between CALL_OPEN and CALL_CLOSE, written by the model token by token
like any other text. When the model writes CALL_CLOSE the loop reads the call, runs the
tool on it and queues the tool's answer: on the next steps those tokens are forced into
the context instead of sampled, the model reads them as if it had written them, and
then goes on. Nothing the model writes is ever executed: `calculate` parses the
expression itself, and every call it cannot answer (malformed, too long, overflowing)
gets ERROR as its answer, which the model reads like any other result. The loop never
raises on what the model writes.

The keys and values of every position, forced ones included, stay in a KV cache
(kv_cache.py): after the prompt's prefill, each step runs the model on one new token per
sequence, sampled or forced, so a batch of sequences shares one cache.
"""

import re
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch.nn import functional as F

from . import kv_cache
from .model import GPT

# The call syntax: the tokens the loop watches for, and the one that ends an answer.
CALL_OPEN, CALL_CLOSE, STOP = "<", ">", "."
ERROR = "ERR"  # what the model reads when a call cannot be answered
# The calculator's rules: whole numbers of at most MAX_DIGITS digits (0 to 9 only) joined
# by + and -; a result outside ±MAX_RESULT is an overflow (a fixed-width register, like a
# real calculator's). The browser's calculator reads these same values.
SIGNS = {"+": 1, "-": -1}
OPERATORS = "".join(SIGNS)
MAX_DIGITS = 6
MAX_RESULT = 10**MAX_DIGITS - 1
_TERM = re.compile(rf"([{re.escape(OPERATORS)}])([0-9]{{1,{MAX_DIGITS}}})")


@dataclass
class Call:
    expression: str  # the text the model wrote between CALL_OPEN and CALL_CLOSE
    result: str  # what the loop forced into the context
    error: str | None  # why the call failed (the model only sees ERROR), or None


def calculate(expression: str) -> tuple[str, str | None]:
    """The calculator: (result text, None), or (ERROR, the reason). Never raises.

    "123+045" -> ("168", None); "7-10" -> ("-3", None); "12+" -> (ERROR, "...")."""
    if not expression:
        return ERROR, "empty call"
    unsigned = expression[0] not in OPERATORS  # then the first number counts as added
    text = "+" + expression if unsigned else expression
    total, end = 0, 0
    for term in _TERM.finditer(text):
        if term.start() != end:
            break  # something between two terms that is not a term
        total, end = total + SIGNS[term.group(1)] * int(term.group(2)), term.end()
    if end != len(text):
        return ERROR, f"cannot read the call from character {max(end - unsigned, 0)} on"
    if abs(total) > MAX_RESULT:
        return ERROR, f"overflow: |{total}| > {MAX_RESULT}"
    return str(total), None


@dataclass
class Tokenizer:
    """Characters to token ids and back (arithmetic.TOKENIZER is the book's)."""

    vocab: str

    def __post_init__(self):
        self.stoi = {ch: i for i, ch in enumerate(self.vocab)}

    def encode(self, text: str) -> list[int]:
        unknown = sorted(set(text) - set(self.stoi))
        if unknown:
            raise ValueError(f"characters outside the vocabulary {self.vocab!r}: {unknown}")
        return [self.stoi[ch] for ch in text]

    def decode(self, ids) -> str:
        return "".join(self.vocab[int(i)] for i in ids)


@dataclass
class Completion:
    """One sequence in the loop: its tokens so far and what the loop did."""

    ids: list[int]
    forced: list[bool]  # per token: written by the loop (a tool's answer), not sampled
    calls: list[Call] = field(default_factory=list)
    text: str = ""
    opened: int | None = None  # index of the open call's first token, while one is written
    queue: list[int] = field(default_factory=list)  # a tool's answer, still to be forced
    finished: bool = False  # the model wrote STOP


def pick(logits: torch.Tensor, temperature: float, generator) -> int:
    """The next token from the last logits (vocab,): the likeliest at temperature 0,
    else a draw from softmax(logits / temperature)."""
    if temperature == 0:
        return int(logits.argmax())
    probs = F.softmax(logits / temperature, dim=-1)
    return int(torch.multinomial(probs, 1, generator=generator))


def run(tool: Callable, tokenizer: Tokenizer, expression: str) -> Call:
    """The tool's answer to one call; a tool that raises, or answers with characters the
    model cannot read, is answered with ERROR like a malformed call."""
    try:
        result, error = tool(expression)
        tokenizer.encode(result)
    except Exception as failure:  # whatever a tool does, the loop goes on
        result, error = ERROR, f"the tool failed: {type(failure).__name__}: {failure}"
    return Call(expression, result, error)


def advance(seq: Completion, logits, tokenizer: Tokenizer, tool, temperature, generator) -> int:
    """One step of one sequence: the next forced token if a tool's answer is queued, else
    a sampled one; a sampled CALL_CLOSE runs the tool. Returns the token the model reads."""
    stop = tokenizer.stoi[STOP]
    if seq.finished:
        return stop  # a finished row still takes a place in the batch; nothing is kept
    forced = bool(seq.queue)
    token = seq.queue.pop(0) if forced else pick(logits, temperature, generator)
    seq.ids.append(token)
    seq.forced.append(forced)
    if token == stop and not forced:
        seq.finished = True
    elif forced or tool is None:
        pass  # a forced token is never a call; with the tool off, calls are just text
    elif token == tokenizer.stoi[CALL_OPEN] and seq.opened is None:
        seq.opened = len(seq.ids)
    elif token == tokenizer.stoi[CALL_CLOSE] and seq.opened is not None:
        call = run(tool, tokenizer, tokenizer.decode(seq.ids[seq.opened : -1]))
        seq.calls.append(call)
        seq.queue, seq.opened = tokenizer.encode(call.result), None
    return token


@torch.no_grad()
def complete_all(
    model: GPT,
    tokenizer: Tokenizer,
    prompts: list[str],
    tool: Callable[[str], tuple[str, str | None]] | None = calculate,
    temperature: float = 0.0,
    generator: torch.Generator | None = None,
    use_cache: bool = True,
) -> list[Completion]:
    """Continue each prompt (all of one length) until the model writes STOP or the context
    is full, answering every call with `tool` (None: the tool is switched off, so calls
    go unanswered). Every sequence gains one token per step, sampled or forced, so the
    batch shares one KV cache, and a forced token costs a step like a sampled one."""
    seqs = [Completion(ids=tokenizer.encode(p), forced=[False] * len(p)) for p in prompts]
    if len({len(seq.ids) for seq in seqs}) != 1:
        raise ValueError("the prompts of one batch must have the same number of tokens")
    context = torch.tensor([seq.ids for seq in seqs])  # (B, T): what the model has read
    cache, new = None, context  # new: the tokens it has not read yet
    for _ in range(model.config.block_size - context.size(1)):
        if use_cache:
            logits, cache = kv_cache.forward(model, new, cache)  # (B, 1, vocab)
        else:
            logits, _ = model(context)  # every position again, every step
        tokens = [
            advance(seq, logits[i, -1], tokenizer, tool, temperature, generator)
            for i, seq in enumerate(seqs)
        ]
        if all(seq.finished for seq in seqs):
            break
        new = torch.tensor(tokens).view(-1, 1)  # (B, 1)
        context = torch.cat((context, new), dim=1)
    for seq in seqs:
        seq.text = tokenizer.decode(seq.ids)
    return seqs


def complete(model: GPT, tokenizer: Tokenizer, prompt: str, **options) -> Completion:
    """complete_all for one prompt."""
    return complete_all(model, tokenizer, [prompt], **options)[0]
