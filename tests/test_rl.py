"""model_src/rl.py and passk.py: the checkers, advantages, pass@k and one RL step."""

import itertools
import math

import pytest
import torch

from model_src import passk, presets, rl
from model_src.experiments import rl_runs, seeds, verdicts
from model_src.model import GPT


def _ids(*texts: str) -> torch.Tensor:
    return torch.tensor([["ABC".index(ch) for ch in text] for text in texts])


# --- pass@k -------------------------------------------------------------------------------


def _pass_at_k_by_enumeration(n: int, c: int, k: int) -> float:
    """Every way to pick k of n samples (the first c right): the share holding a right one."""
    picks = list(itertools.combinations(range(n), k))
    return sum(any(i < c for i in pick) for pick in picks) / len(picks)


@pytest.mark.parametrize("n", [1, 2, 5, 8])
def test_pass_at_k_equals_the_share_of_k_subsets_holding_a_right_sample(n):
    for c, k in itertools.product(range(n + 1), range(1, n + 1)):
        assert passk.pass_at_k(n, c, k) == pytest.approx(_pass_at_k_by_enumeration(n, c, k))


def test_pass_at_k_is_stable_where_the_binomials_are_huge():
    n, c, k = 2000, 3, 100
    exact = 1 - math.comb(n - c, k) / math.comb(n, k)  # Python's integers: exact
    assert passk.pass_at_k(n, c, k) == pytest.approx(exact, rel=1e-12)
    assert passk.pass_at_k(16, 1, 1) == pytest.approx(1 / 16)  # pass@1 is c / n
    assert passk.mean_pass_at_k(4, [0, 4], 2) == 0.5


def test_pass_at_k_refuses_impossible_counts():
    for n, c, k in [(4, 5, 1), (4, -1, 1), (4, 2, 0), (4, 2, 5)]:
        with pytest.raises(ValueError, match="need 0 <= c <= n"):
            passk.pass_at_k(n, c, k)


# --- checkers and advantages --------------------------------------------------------------


def test_the_sort_checker_pays_only_the_prompts_letters_in_order():
    prompts = _ids("CABBAC", "CABBAC", "CABBAC", "ABCABC")
    answers = _ids("AABBCC", "AAABCC", "CCBBAA", "AABBCC")
    assert rl.sort_reward(prompts, answers).tolist() == [1.0, 0.0, 0.0, 1.0]


def test_the_order_checker_has_a_hole_any_ordered_answer_passes():
    prompts = _ids("CABBAC", "CABBAC", "CABBAC", "CCCCCC")
    answers = _ids("AABBCC", "AAAAAA", "CCBBAA", "AAAAAA")
    assert rl.order_reward(prompts, answers).tolist() == [1.0, 1.0, 0.0, 1.0]
    # every exact sort passes it too: its payments are a superset
    every = torch.tensor(list(itertools.product(range(3), repeat=6)))
    sorted_rows = every.sort(dim=1).values
    assert rl.order_reward(every, sorted_rows).all()


def test_advantages_centre_each_group_and_grpo_scales_by_its_spread():
    rewards = torch.tensor([[1.0, 0.0, 0.0, 0.0], [1.0, 1.0, 1.0, 1.0], [0.0, 1.0, 0.0, 1.0]])
    centred = rl.advantages(rewards)
    assert torch.allclose(centred[0], torch.tensor([0.75, -0.25, -0.25, -0.25]))
    assert (centred[1] == 0).all()  # all alike: nothing to learn from this group
    assert torch.allclose(centred.sum(dim=1), torch.zeros(3))
    grpo = rl.advantages(rewards, normalise=True)
    assert torch.allclose(grpo[0], centred[0] / rewards[0].std(), atol=1e-5)
    assert (grpo[1] == 0).all()  # the epsilon keeps a zero spread from dividing by zero
    assert torch.allclose(grpo[2].std(), torch.tensor(1.0), atol=1e-5)


# --- sampling and the update --------------------------------------------------------------


def _tiny_model() -> GPT:
    torch.manual_seed(0)
    return GPT(presets.gpt_config("sort", n_layer=1, n_head=1, n_embd=8))


def test_answer_log_probs_add_up_the_letters_log_probabilities():
    model, prompts = _tiny_model().eval(), _ids("CABBAC", "BBBAAA")
    answers = _ids("AABBCC", "CCCCCC")
    total = rl.answer_log_probs(model, prompts, answers)
    assert total.shape == (2,)
    rows = torch.cat((prompts, answers), dim=1)
    by_hand = torch.zeros(2)
    for t in range(6, 12):  # each answer letter, from the model's last-position logits
        logits, _ = model(rows[:, :t])
        by_hand += torch.log_softmax(logits[:, -1], dim=-1)[torch.arange(2), rows[:, t]]
    assert torch.allclose(total, by_hand, atol=1e-5)


def test_sampled_answers_come_in_groups_per_prompt():
    model, prompts = _tiny_model(), _ids("CABBAC", "BBBAAA", "ABCABC")
    torch.manual_seed(0)
    answers = rl.sample_answers(model, prompts, group=4)
    assert answers.shape == (12, 6) and answers.dtype == torch.int64
    assert model.training  # left as it was found
    assert ((answers >= 0) & (answers < 3)).all()


def _starts_with_a(prompts: torch.Tensor, answers: torch.Tensor) -> torch.Tensor:
    # a checker an untrained model passes about a third of the time
    return (answers[:, 0] == 0).float()


@pytest.mark.parametrize("normalise", [False, True])
def test_one_rl_step_raises_the_rewarded_answers_log_probability(normalise):
    model = _tiny_model().train()
    optimizer = model.configure_optimizers(0.0, 1e-2, (0.9, 0.99), "cpu")
    prompts = _ids("CABBAC", "BCACBA")
    torch.manual_seed(1)
    out = rl.rl_step(model, optimizer, prompts, 16, _starts_with_a, normalise)
    rewards, answers = out["rewards"], out["answers"]
    assert rewards.shape == out["advantages"].shape == (2, 16)
    right = rewards.view(-1).bool()
    assert right.any() and not right.all(), "the seed should give a mixed group"
    # replay the same step on a fresh copy to see the log-probs before and after
    before = _tiny_model().train()
    repeated = prompts.repeat_interleave(16, dim=0)
    with torch.no_grad():
        was = rl.answer_log_probs(before, repeated, answers)
        now = rl.answer_log_probs(model, repeated, answers)
    assert (now - was)[right].mean() > 0 > (now - was)[~right].mean()


# --- the chapter's runs ---------------------------------------------------------------------


def test_every_kind_of_run_has_every_seed_so_the_chapter_can_pair_them():
    """The chapter compares kinds of run seed by seed (verdicts.paired): each kind is in
    the store with each of the experiment's seeds, which NANOBOOK_SEED moves."""
    assert len(rl_runs.SEEDS) >= verdicts.MIN_SEEDS
    assert seeds.seeds(len(rl_runs.SEEDS)) == rl_runs.SEEDS
    expected = {(name, seed) for name in rl_runs.RUNS_BY_NAME for seed in rl_runs.SEEDS}
    assert set(rl_runs.RUNS) == expected and len(rl_runs.RUNS) == len(expected)
    assert set(rl_runs.EXPERIMENT.entries()) == expected


# --- the leave-one-out baseline and the KL anchor -------------------------------------------


def test_the_leave_one_out_baseline_leaves_each_answer_out_of_its_own_baseline():
    rewards = torch.tensor([[1.0, 0.0, 0.0, 0.0], [1.0, 1.0, 0.0, 1.0], [0.0, 0.0, 0.0, 0.0]])
    left_out = rl.advantages(rewards, baseline="leave-one-out")
    for p, i in itertools.product(range(3), range(4)):
        others = torch.cat((rewards[p, :i], rewards[p, i + 1 :]))
        assert left_out[p, i] == pytest.approx((rewards[p, i] - others.mean()).item())
    # the same direction as the group mean's, longer by G / (G - 1)
    assert torch.allclose(left_out, rl.advantages(rewards) * 4 / 3, atol=1e-6)
    with pytest.raises(ValueError, match="not one of"):
        rl.advantages(rewards, baseline="median")


def test_the_group_mean_shrinks_the_expected_gradient_by_g_minus_1_over_g():
    """A one-parameter policy answering right with probability p: the expected update of
    each baseline, over every outcome of a group, against the true gradient d p / d logit."""
    p, group = 0.3, 4
    true_gradient = p * (1 - p)  # d/dθ E[r] for p = sigmoid(θ), r = 1 for a right answer
    expected = {"mean": 0.0, "leave-one-out": 0.0}
    for outcome in itertools.product([0.0, 1.0], repeat=group):
        chance = math.prod(p if r else 1 - p for r in outcome)
        rewards = torch.tensor([outcome])
        score = torch.tensor(outcome) - p  # d log π(answer) / dθ for each answer
        for baseline in expected:
            advantage = rl.advantages(rewards, baseline=baseline)[0]
            expected[baseline] += chance * (advantage * score).mean().item()
    assert expected["leave-one-out"] == pytest.approx(true_gradient)
    assert expected["mean"] == pytest.approx(true_gradient * (group - 1) / group)


def test_the_kl_estimate_averages_to_the_kl_divergence_and_is_never_negative():
    model_probs = torch.tensor([0.5, 0.3, 0.2])
    reference_probs = torch.tensor([0.2, 0.2, 0.6])
    estimate = rl.kl_estimate(model_probs.log(), reference_probs.log())
    assert (estimate >= 0).all()
    kl = (model_probs * (model_probs / reference_probs).log()).sum()
    assert (model_probs * estimate).sum().item() == pytest.approx(kl.item())  # E over π
    assert (rl.kl_estimate(model_probs.log(), model_probs.log()) == 0).all()


def test_the_anchor_holds_the_model_nearer_the_reference():
    """Steps with the KL penalty end nearer the start than the same steps without it; with
    no reference the step reports no KL and is the plain step."""
    prompts = _ids("CABBAC", "BCACBA")

    def drift_after(kl: float) -> float:
        model, reference = _tiny_model().train(), _tiny_model().eval()
        optimizer = model.configure_optimizers(0.0, 3e-2, (0.9, 0.99), "cpu")
        torch.manual_seed(2)
        for _ in range(8):
            out = rl.rl_step(
                model, optimizer, prompts, 16, _starts_with_a, kl=kl, reference=reference
            )
        return out["kl"]

    assert drift_after(1.0) < drift_after(0.0)
    model = _tiny_model().train()
    optimizer = model.configure_optimizers(0.0, 1e-2, (0.9, 0.99), "cpu")
    assert rl.rl_step(model, optimizer, prompts, 4, _starts_with_a)["kl"] is None
