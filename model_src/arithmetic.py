"""Three-digit addition, with and without a calculator: the Tools chapter's models.

    123+045=<123+045>168.      with the tool: the model writes the call, the engine the sum
    123+045=168.               without: the model writes the sum itself

    from model_src import arithmetic
    runs = arithmetic.run_all()        # the first call trains (seconds each), later ones load
    runs["calculator", 1337]["model"], runs["calculator", 1337]["eval"]["tool on"]

Both models are the book's GPT in the sort model's shape (3 layers, 3 heads, 48
channels), trained with train.py's loop on the same random problems. Only the answers
differ. The loss never sees the prompt (two random numbers: nothing to learn there) nor,
with the tool, the sum the engine writes (targets -1): the model is taught to write the
call and to stop, never to add. Each run is kept by runs.py in the book's store, keyed on
the code (this file, engine.py and all they import), the settings and the seed.
"""

import json
import time
from pathlib import Path

import torch

from buildlib.keys import code_inputs, digest
from buildlib.processes import Task, run_longest_first

from . import engine
from . import train as training
from .engine import CALL_CLOSE, CALL_OPEN, ERROR, STOP
from .experiments import seeds
from .model import GPT, GPTConfig
from .runs import Runs

PACKAGE = Path(__file__).parent

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
RUNS = {"calculator": True, "no tool": False}  # name -> trained with the tool?
# five, the fewest that decide a comparison (verdicts.py): tool on against off is a gap
# of nearly every sum, far beyond what a seed moves
SEEDS = seeds.seeds(5)
# the sort preset's optimiser settings, at a length where the tool model is done
SETTINGS = dict(
    dataset="addition",  # only a label in fit's log lines
    batch_size=32,
    max_iters=300,
    learning_rate=1e-2,
    min_lr=1e-3,
    warmup_iters=50,
    lr_decay_iters=300,
    beta2=0.99,
    eval_interval=100,
    eval_iters=4,
    log_interval=1,
)


def gpt_config() -> GPTConfig:
    """The sort model's shape, with this task's vocabulary and context."""
    return GPTConfig(
        block_size=BLOCK_SIZE,
        vocab_size=len(TOKENIZER.vocab),
        n_layer=3,
        n_head=3,
        n_embd=48,
        dropout=0.0,
        bias=True,
    )


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


def settings(seed: int) -> dict:
    return training.resolve_config(None, {**SETTINGS, "seed": seed, "threads": 1})


def train_run(tool: bool, seed: int) -> tuple[GPT, dict]:
    """train.py's loop on addition rows, with or without the calculator call."""
    cfg = settings(seed)
    threads_before = torch.get_num_threads()
    torch.set_num_threads(cfg["threads"])
    try:
        with torch.random.fork_rng():
            torch.manual_seed(cfg["seed"])
            model = GPT(gpt_config())
            summary = training.fit(model, cfg, batches(tool, cfg["batch_size"]))
    finally:
        torch.set_num_threads(threads_before)
    return model.eval(), summary


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


# --- the store ---------------------------------------------------------------------------


def _entries() -> dict[tuple[str, int], str]:
    code = code_inputs(Path(__file__), search=[PACKAGE.parent])
    return {
        (name, seed): f"addition-{name.replace(' ', '-')}-{seed}-"
        + digest(*code, json.dumps(settings(seed), sort_keys=True), str(RUNS[name]))
        for name in RUNS
        for seed in SEEDS
    }


def train_and_evaluate(name: str, seed: int) -> tuple[GPT, dict]:
    """Run `name` with `seed`: the model and its record ("summary" of fit, "eval": the
    held-out completions per mode, the CPU seconds of training)."""
    started = time.process_time()
    model, summary = train_run(RUNS[name], seed)
    record = {"summary": summary, "cpu_seconds": time.process_time() - started}
    modes = {"tool on": True, "tool off": False} if RUNS[name] else {"tool off": False}
    record["eval"] = {mode: evaluate(model, tool) for mode, tool in modes.items()}
    return model, record


def _build(name: str) -> GPT:
    return GPT(gpt_config())


STORED = Runs("arithmetic", entries=_entries, train=train_and_evaluate, build=_build)


def get(name: str, seed: int = SEEDS[0]) -> dict:
    """Run `name` with `seed`'s record (see train_and_evaluate), trained first if not
    cached; "model" is the trained GPT."""
    return STORED.get(name, seed)


def run_all(jobs: int | None = None) -> dict[tuple[str, int], dict]:
    run_longest_first(missing(), jobs)
    return {(name, seed): get(name, seed) for name in RUNS for seed in SEEDS}


def missing() -> list[Task]:
    """The runs the cache lacks, as tasks for the build's process pool."""
    size = 12 * 3 * 48**2 * SETTINGS["max_iters"] * SETTINGS["batch_size"] * BLOCK_SIZE
    return [Task(STORED.make, run, size) for run in STORED.absent()]
