"""Reinforcement learning with a checkable reward, on the sort task.

    reward = sort_reward(prompts, answers)            # 1.0 for an exact sort, else 0.0
    out = rl_step(model, optimizer, prompts, group=8)  # one policy-gradient update

No answer key is shown to the model: it writes a group of answers to each prompt by
sampling, a checker scores each one, and the update raises the log-probability of the
answers that scored above their group's mean and lowers those below it (REINFORCE with the
group's mean as the baseline). With `normalise=True` the advantages are also divided by
the group's standard deviation, as GRPO does; with `baseline="leave-one-out"` each answer
is compared with the mean of the *other* answers of its group (RLOO), which keeps the
expected gradient whole; with `kl` > 0 the loss also pays `kl` times an estimate of the
KL divergence from a frozen reference model, GRPO's anchor. How often a sample is right
is measured by passk.py's pass_at_k; experiments/rl_runs.py runs the chapter's experiments
with this.
"""

import torch
import torch.nn.functional as F

from . import prepare

EPS = 1e-6  # keeps a group whose rewards are all equal from dividing by zero


# --- checkers: what the reward rewards ----------------------------------------------------


def sort_reward(prompts: torch.Tensor, answers: torch.Tensor) -> torch.Tensor:
    """(N,) 1.0 where the answer is the prompt's letters in sorted order, else 0.0.
    prompts, answers: (N, 6) letter ids."""
    return (answers == prompts.sort(dim=1).values).all(dim=1).float()


def order_reward(prompts: torch.Tensor, answers: torch.Tensor) -> torch.Tensor:
    """(N,) 1.0 where the answer's letters are in order, whatever they are: a checker with
    a hole in it. AAAAAA passes for every prompt."""
    return (answers[:, 1:] >= answers[:, :-1]).all(dim=1).float()


REWARDS = {"sort": sort_reward, "order": order_reward}


# --- sampling a group and scoring it ------------------------------------------------------


def train_prompts() -> torch.Tensor:
    """(583, 6) the training split's prompts: RL sees these and never their answers."""
    data = prepare.sort_data()
    rows = data.train.reshape(-1, data.meta["seq_len"]).astype("int64")
    return torch.from_numpy(rows[:, : data.meta["prompt_len"]])


@torch.no_grad()
def sample_answers(model, prompts: torch.Tensor, group: int) -> torch.Tensor:
    """(P * group, 6) answers, `group` samples per prompt at temperature 1, prompt by
    prompt: rows 0..group-1 answer prompt 0, and so on. prompts: (P, 6)."""
    repeated = prompts.repeat_interleave(group, dim=0)  # (P * G, 6)
    was_training = model.training
    model.eval()
    rows = model.generate(repeated, prompts.size(1))  # (P * G, 12)
    model.train(was_training)
    return rows[:, prompts.size(1) :]


def letter_log_probs(model, prompts: torch.Tensor, answers: torch.Tensor) -> torch.Tensor:
    """(N, 6) log p(letter | prompt, earlier letters) of each answer letter. Differentiable."""
    rows = torch.cat((prompts, answers), dim=1)  # (N, 12)
    # given targets, the model returns logits at every position, not just the last
    logits, _ = model(rows[:, :-1], rows[:, 1:].contiguous())  # (N, 11, vocab)
    log_probs = F.log_softmax(logits[:, prompts.size(1) - 1 :], dim=-1)  # (N, 6, vocab)
    return log_probs.gather(-1, answers.unsqueeze(-1)).squeeze(-1)  # (N, 6)


def answer_log_probs(model, prompts: torch.Tensor, answers: torch.Tensor) -> torch.Tensor:
    """(N,) log-probability the model gives each whole answer: the sum over its 6 letters
    of log p(letter | prompt, earlier letters). Differentiable."""
    return letter_log_probs(model, prompts, answers).sum(dim=1)  # (N,)


def kl_estimate(log_probs: torch.Tensor, reference_log_probs: torch.Tensor) -> torch.Tensor:
    """Per letter, an estimate of KL(model || reference) from letters the model sampled:
    r - log r - 1 with r = p_reference / p_model (the estimator GRPO uses; Schulman 2020).
    Never negative, 0 where the two agree; its expected value over the model's samples is
    the KL divergence."""
    log_ratio = reference_log_probs - log_probs
    return log_ratio.exp() - log_ratio - 1


BASELINES = ("mean", "leave-one-out")


def advantages(
    rewards: torch.Tensor, normalise: bool = False, baseline: str = "mean"
) -> torch.Tensor:
    """(P, G) how much better each sample did than its group: reward minus the group's
    mean (REINFORCE's baseline) or minus the mean of the group's other answers
    (leave-one-out, RLOO), divided by the group's spread if normalise (GRPO).
    A group that all scored alike has advantage 0 everywhere: nothing to learn from it."""
    if baseline not in BASELINES:
        raise ValueError(f"baseline {baseline!r} is not one of {BASELINES}")
    if baseline == "mean":
        centred = rewards - rewards.mean(dim=1, keepdim=True)  # (P, G)
    else:  # the sample's own reward left out of its baseline: G/(G-1) times the above
        others = (rewards.sum(dim=1, keepdim=True) - rewards) / (rewards.size(1) - 1)
        centred = rewards - others  # (P, G)
    if not normalise:
        return centred
    return centred / (rewards.std(dim=1, keepdim=True) + EPS)


# --- the update ---------------------------------------------------------------------------


def rl_step(
    model,
    optimizer,
    prompts,
    group: int,
    reward=sort_reward,
    normalise=False,
    baseline="mean",
    kl: float = 0.0,
    reference=None,
) -> dict:
    """One policy-gradient update on `prompts` (P, 6): sample, score, push. Given a frozen
    `reference` model, also measure the answers' KL from it and add `kl` times it to the
    loss. Returns the group's answers (P * G, 6), their rewards and advantages (P, G), and
    that KL per answer (None without a reference)."""
    answers = sample_answers(model, prompts, group)  # (P * G, 6)
    repeated = prompts.repeat_interleave(group, dim=0)  # (P * G, 6)
    rewards = reward(repeated, answers).view(-1, group)  # (P, G)
    advantage = advantages(rewards, normalise, baseline)  # (P, G), a constant: no gradient
    log_p = letter_log_probs(model, repeated, answers)  # (P * G, 6)
    # gradient of -A·log p: up for answers better than their group, down for worse ones
    loss = -(advantage.view(-1) * log_p.sum(dim=1)).mean()
    drift = None
    if reference is not None:
        with torch.no_grad():
            anchor = letter_log_probs(reference, repeated, answers)  # (P * G, 6)
        drift = kl_estimate(log_p, anchor).sum(dim=1).mean()  # per answer, all 6 letters
        loss = loss + kl * drift
    loss.backward()
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    kl_value = None if drift is None else drift.item()
    return {"answers": answers, "rewards": rewards, "advantages": advantage, "kl": kl_value}
