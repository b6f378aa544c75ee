"""Reinforcement learning with a checkable reward, on the sort task.

    reward = sort_reward(prompts, answers)            # 1.0 for an exact sort, else 0.0
    out = rl_step(model, optimizer, prompts, group=8)  # one policy-gradient update

No answer key is shown to the model: it writes a group of answers to each prompt by
sampling, a checker scores each one, and the update raises the log-probability of the
answers that scored above their group's mean and lowers the others (REINFORCE with the
group's mean as the baseline). With `normalise=True` the advantages are also divided by
the group's standard deviation, as GRPO does. How often a sample is right is measured by
passk.py's pass_at_k; rl_runs.py runs the chapter's experiments with this.
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


def answer_log_probs(model, prompts: torch.Tensor, answers: torch.Tensor) -> torch.Tensor:
    """(N,) log-probability the model gives each whole answer: the sum over its 6 letters
    of log p(letter | prompt, earlier letters). Differentiable."""
    rows = torch.cat((prompts, answers), dim=1)  # (N, 12)
    # given targets, the model returns logits at every position, not just the last
    logits, _ = model(rows[:, :-1], rows[:, 1:].contiguous())  # (N, 11, vocab)
    log_probs = F.log_softmax(logits[:, prompts.size(1) - 1 :], dim=-1)  # (N, 6, vocab)
    return log_probs.gather(-1, answers.unsqueeze(-1)).squeeze(-1).sum(dim=1)  # (N,)


def advantages(rewards: torch.Tensor, normalise: bool = False) -> torch.Tensor:
    """(P, G) how much better each sample did than its group: reward minus the group's
    mean (REINFORCE's baseline), divided by the group's spread if normalise (GRPO).
    A group that all scored alike has advantage 0 everywhere: nothing to learn from it."""
    centred = rewards - rewards.mean(dim=1, keepdim=True)  # (P, G)
    if not normalise:
        return centred
    return centred / (rewards.std(dim=1, keepdim=True) + EPS)


# --- the update ---------------------------------------------------------------------------


def rl_step(model, optimizer, prompts, group: int, reward=sort_reward, normalise=False) -> dict:
    """One policy-gradient update on `prompts` (P, 6): sample, score, push. Returns the
    group's answers (P * G, 6), their rewards and advantages (P, G)."""
    answers = sample_answers(model, prompts, group)  # (P * G, 6)
    repeated = prompts.repeat_interleave(group, dim=0)  # (P * G, 6)
    rewards = reward(repeated, answers).view(-1, group)  # (P, G)
    advantage = advantages(rewards, normalise)  # (P, G), a constant: no gradient flows in
    log_probs = answer_log_probs(model, repeated, answers)  # (P * G,)
    # gradient of -A·log p: up for answers better than their group, down for worse ones
    loss = -(advantage.view(-1) * log_probs).mean()
    loss.backward()
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    return {"answers": answers, "rewards": rewards, "advantages": advantage}
