"""The RL chapter's runs, each trained once and then read from the cache.

    from model_src.experiments import rl_runs
    runs = rl_runs.run_all()          # {(name, seed): record}; the first call trains
    runs["REINFORCE", 1337]["final"]["pass@1"]

Every run starts from the same model: the sort preset stopped at START_ITERS of its 600
steps (trained.get), so it sorts some prompts and not others. Then, from one seed:
- "REINFORCE", "GRPO": rl.py's update with the exact-sort checker, the group's mean as
  baseline, and for GRPO the group's spread dividing the advantages too;
- "RLOO": REINFORCE with the leave-one-out baseline (each answer against the mean of
  the others in its group);
- "gamed": REINFORCE with the checker that only checks the letters' order;
- "gamed+KL": the same, with the KL penalty to the start model that GRPO adds;
- "supervised": the control, train.py's fit on the training rows (the answers shown),
  with AdamW's betas, the constant learning rate and the number of steps of the RL
  runs, and train.py's weight decay and gradient clipping, which the RL loop leaves out.
"start" is that model evaluated, untrained. A record holds the held-out evaluation at
the end (every held-out prompt sampled SAMPLES times, pass@k by passk.py's estimator;
the samples themselves and each prompt's exact probability of its right answer, for
voting.py), and for the RL runs a replay: at every
REPLAY_EVERY steps the exact pass@1 and pass@k and one group's answers and rewards.
Each run is kept by runner.py in the book's store, keyed on the code (this file, rl.py and
all they import, train.py included), the data, the run's spec and the seed.
"""

import time
from functools import partial
from pathlib import Path

import torch

from .. import passk, prepare, presets, rl, tasks, trained
from .. import train as training
from . import seeds
from .runner import Experiment, rows, sort_settings

START_ITERS = 60  # a tenth of the sort preset's 600 steps: right on some prompts only
PROMPTS = 8  # prompts per RL step
GROUP = 8  # answers sampled per prompt
STEPS = 100  # updates, for every run
LEARNING_RATE = 2e-4  # constant, for RL and the supervised control alike
SAMPLES = 16  # samples per held-out prompt when evaluating: n of pass@k
K = 8  # the k of pass@k beside pass@1
REPLAY_EVERY = 5  # steps between the replay's snapshots

KL_COEFFICIENT = 0.04  # GRPO's β in DeepSeekMath: the weight of the KL penalty

RUNS_BY_NAME: dict[str, dict] = {
    "start": dict(steps=0),  # no training: the early-stopped model, evaluated
    "REINFORCE": dict(reward="sort", normalise=False),
    "GRPO": dict(reward="sort", normalise=True),
    "gamed": dict(reward="order", normalise=False),
    "supervised": dict(supervised=True),
    "RLOO": dict(reward="sort", normalise=False, baseline="leave-one-out"),
    "gamed+KL": dict(reward="order", normalise=False, kl=KL_COEFFICIENT),
}
# eight: the chapter compares runs paired by seed (verdicts.py), and GRPO against
# REINFORCE is a difference close to the seeds' own spread
SEEDS = seeds.seeds(8)


def requests() -> list[tuple[str, dict]]:
    """The trained preset the runs start from, for trained.missing."""
    return [("sort", {"max_iters": START_ITERS})]


def start_model():
    """A fresh copy of the early-stopped sort model, in training mode."""
    ((name, overrides),) = requests()
    return trained.get(name, **overrides).model.train()


def held_out() -> tuple[torch.Tensor, torch.Tensor]:
    """(146, 6) held-out prompts and (146, 6) their sorted answers."""
    data = prepare.sort_data()
    rows = torch.from_numpy(data.val.reshape(-1, data.meta["seq_len"]).astype("int64"))
    return rows[:, : data.meta["prompt_len"]], rows[:, data.meta["prompt_len"] :]


@torch.no_grad()
def right_answer_probabilities(model, prompts, answers) -> torch.Tensor:
    """(N,) the chance that one sample at temperature 1 is the right answer."""
    was_training = model.training
    p = rl.answer_log_probs(model.eval(), prompts, answers).exp()  # (N,)
    model.train(was_training)
    return p


def exact_pass(model, prompts, answers, k: int = K) -> dict:
    """pass@1 and pass@k without sampling: a prompt has one right answer, sampled with
    probability p, so pass@1 = p and pass@k = 1 - (1 - p)^k, averaged over prompts."""
    p = right_answer_probabilities(model, prompts, answers)  # (N,)
    return {"pass@1": p.mean().item(), f"pass@{k}": (1 - (1 - p) ** k).mean().item()}


@torch.no_grad()
def evaluate(model) -> dict:
    """Held-out: SAMPLES answers per prompt scored by both checkers, pass@1 and pass@K by
    the unbiased estimator, and the greedy answer's accuracy."""
    prompts, _ = held_out()
    answers = rl.sample_answers(model, prompts, SAMPLES)  # (146 * n, 6)
    repeated = prompts.repeat_interleave(SAMPLES, dim=0)
    right = rl.sort_reward(repeated, answers).view(-1, SAMPLES)  # (146, n)
    ordered = rl.order_reward(repeated, answers)
    counts = right.sum(dim=1).int().tolist()
    written = ["".join(prepare.SORT_LETTERS[i] for i in row) for row in answers.tolist()]
    return {
        "right": counts,  # per prompt: how many of the n samples sort it
        # per prompt: its n sampled answers, and the chance of the right one in one sample
        "samples": [written[i : i + SAMPLES] for i in range(0, len(written), SAMPLES)],
        "p": right_answer_probabilities(model, *held_out()).tolist(),
        "pass@1": passk.mean_pass_at_k(SAMPLES, counts, 1),
        f"pass@{K}": passk.mean_pass_at_k(SAMPLES, counts, K),
        "ordered": ordered.mean().item(),  # what the gameable checker would pay
        "ordered_wrong": (ordered - right.view(-1)).mean().item(),  # its hole, used
        "greedy": tasks.sort_accuracy(model),
        **{f"exact {key}": v for key, v in exact_pass(model, *held_out()).items()},
    }


def snapshot(model, step: int, prompts: torch.Tensor | None, out: dict | None) -> dict:
    """The replay at one step: exact pass@1 and pass@K, and the step's first group (its
    prompt, answers, rewards and advantages) with the mean reward of all its groups."""
    group = {}
    if out is not None:
        group = {
            "prompt": prompts[0].tolist(),
            "answers": out["answers"][:GROUP].tolist(),
            "rewards": out["rewards"][0].tolist(),
            "advantages": [round(a, 4) for a in out["advantages"][0].tolist()],
            "mean_reward": out["rewards"].mean().item(),
        }
    return {"step": step, **exact_pass(model, *held_out()), **group}


def train_rl(spec: dict, seed: int) -> dict:
    """STEPS of rl.rl_step from the early-stopped model; the record of the run. A spec
    with "kl" is anchored to a frozen copy of the start model, whose KL it records."""
    model, prompts = start_model(), rl.train_prompts()
    optimizer = model.configure_optimizers(0.0, LEARNING_RATE, (0.9, 0.99), "cpu")
    generator = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)  # the sampler's draws
    reward = rl.REWARDS[spec["reward"]]
    reference = start_model().eval() if "kl" in spec else None  # the anchor, frozen
    method = dict(normalise=spec["normalise"], baseline=spec.get("baseline", "mean"))
    anchor = dict(kl=spec.get("kl", 0.0), reference=reference)
    replay, rewards, kls = [snapshot(model, 0, None, None)], [], []
    started = time.process_time()
    for step in range(1, STEPS + 1):
        batch = prompts[torch.randint(len(prompts), (PROMPTS,), generator=generator)]
        out = rl.rl_step(model, optimizer, batch, GROUP, reward, **method, **anchor)
        rewards.append(out["rewards"].mean().item())
        kls.append(out["kl"])
        if step % REPLAY_EVERY == 0:
            replay.append(snapshot(model, step, batch, out))
    seconds = time.process_time() - started
    record = {"model": model.eval(), "seconds": seconds, "rewards": rewards, "replay": replay}
    return {**record, "kl": kls} if reference is not None else record


def supervised_settings(seed: int) -> dict:
    """The control's train.fit settings: the sort preset's (its batch, weight decay and
    clipping, as the start model trained) at the RL runs' steps and constant rate. fit's
    own loss estimate goes unread (evaluate scores the run), so one batch a split."""
    overrides = dict(seed=seed, max_iters=STEPS, learning_rate=LEARNING_RATE, decay_lr=False)
    return sort_settings({**overrides, "eval_iters": 1})


def train_supervised(seed: int) -> dict:
    """The control: fit on the training rows, answers shown (supervised_settings)."""
    model, data, cfg = start_model(), presets.dataset("sort"), supervised_settings(seed)

    started = time.process_time()
    summary = training.fit(model, cfg, training.memory_batches(data, cfg))
    seconds = time.process_time() - started
    return {
        "model": model.eval(),
        "seconds": seconds,
        "losses": [r["loss"] for r in summary["log"]],
    }


def train(spec: dict, seed: int) -> dict:
    if spec.get("supervised"):
        return train_supervised(seed)
    if spec.get("steps") == 0:
        return {"model": start_model().eval(), "seconds": 0.0}
    return train_rl(spec, seed)


def run(name: str, seed: int) -> tuple[None, dict]:
    """Train one run (one torch thread, the caller's random state untouched) and
    evaluate it: its record, with the evaluation as "final" (its model is not kept)."""
    with seeds.seeded(seed, threads=1):
        record = train(RUNS_BY_NAME[name], seed)
        torch.manual_seed(seed)  # the same evaluation draws for every run of a seed
        record["final"] = evaluate(record.pop("model"))
    return None, {"name": name, "seed": seed, **record}


def work(name: str, seed: int) -> int:
    """A run's size, to order them, in trained.work's units: rows through the model (an
    RL step's group is sampled, scored and trained on: about three passes of its rows)."""
    spec, control = RUNS_BY_NAME[name], supervised_settings(seed)
    rows = control["batch_size"] if spec.get("supervised") else 3 * PROMPTS * GROUP
    return trained.work({**control, "batch_size": 0 if spec.get("steps") == 0 else rows})


def settings(name: str, seed: int) -> dict:
    """A run's settings beyond its spec: its seed (the rest are this file's constants)."""
    return {"seed": seed}


EXPERIMENT = Experiment(
    folder="rl",
    code=Path(__file__),
    runs=RUNS_BY_NAME,
    seeds=SEEDS,
    settings=settings,
    train=run,
    size=work,
    inputs=partial(rows, "sort"),
)
get, run_all, missing = EXPERIMENT.get, EXPERIMENT.run_all, EXPERIMENT.missing
RUNS = EXPERIMENT.every_run()
