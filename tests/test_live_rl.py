"""RL in the page (nanobook_train.js's policyStep and PolicySession) against model_src/rl.py.

One step of ``rl_runs.train_rl`` (``rl.rl_step`` with the optimiser train_rl builds) is
run in PyTorch and in Debian's chromium from the same weights, the same prompts and the
same sampled answers (PyTorch's, handed to the page, so that the update is compared and
not the sampler): every gradient and every updated weight within 1e-5 relative, as
tests/test_live_training.py compares train.py's step, in float64 (``model.double()``).
The page reads its rules from ext/live_models/rl_training.py, as a page is handed them;
its checkers and advantages are compared with rl.py's on many answers, its prompts with
train_rl's draws.
"""

from __future__ import annotations

import copy
from unittest import mock

import pytest
import torch
from test_live_training import page, served_page, site, worst  # noqa: F401 (fixtures)

from ext.live_models import rl_training
from ext.live_models.compute import weight_tensors
from model_src import rl
from model_src.experiments import rl_runs

pytestmark = pytest.mark.browser

# (method, reward, group size, learning rate): the chapter's runs, then a reader's
CASES = [
    ("REINFORCE", "sort", rl_runs.GROUP, rl_runs.LEARNING_RATE),
    ("GRPO", "sort", rl_runs.GROUP, rl_runs.LEARNING_RATE),
    ("REINFORCE", "order", rl_runs.GROUP, rl_runs.LEARNING_RATE),
    ("GRPO", "order", 3, 3e-2),
    ("GRPO", "sort", 16, 1e-3),
    ("REINFORCE", "sort", 2, 5e-1),
]


@pytest.fixture(scope="module")
def start():
    """The chapter's start model (float32, as trained) and the page's rules from it."""
    model = rl_runs.start_model()
    return model, rl_training.rl_rules(model)


def train_rl_step(model, method: str, reward: str, group: int, rate: float, seed: int):
    """One step of rl_runs.train_rl from ``model`` (a copy), with answers sampled from
    the float32 model by rl.py's own sampler: the step's prompts and answers, its
    rewards and advantages, the gradients rl_step's backward left and the updated weights."""
    sampler = copy.deepcopy(model).float()
    trained = copy.deepcopy(model)
    seen, grads = {}, {}
    sample, step = rl.sample_answers, rl.rl_step

    def sampled(_, prompts, size):
        torch.manual_seed(seed)
        seen["answers"] = sample(sampler, prompts, size)
        return seen["answers"]

    def stepping(model, optimizer, prompts, *args, **kwargs):
        seen["prompts"] = prompts
        seen["out"] = step(model, optimizer, prompts, *args, **kwargs)
        return seen["out"]

    for name, param in trained.named_parameters():
        param.register_post_accumulate_grad_hook(
            lambda p, name=name: grads.__setitem__(name, p.grad.detach().clone())
        )
    spec = {"reward": reward, "normalise": rl_training.methods()[method]["normalise"]}
    with (
        mock.patch.object(rl_runs, "start_model", lambda: trained),
        mock.patch.object(rl_runs, "snapshot", lambda *args: {}),
        mock.patch.object(rl_runs, "STEPS", 1),
        mock.patch.object(rl_runs, "GROUP", group),
        mock.patch.object(rl_runs, "LEARNING_RATE", rate),
        mock.patch.object(rl, "sample_answers", sampled),
        mock.patch.object(rl, "rl_step", stepping),
    ):
        rl_runs.train_rl(spec, seed)
    return {**seen, "grads": grads, "weights": dict(weight_tensors(trained))}


POLICY_STEP = """([rules, weights, settings, prompts, answers, run]) => {
  const trainer = nanobook.training.trainer({config: rules.config, weights, rules, settings});
  const out = trainer.policyStep(prompts, answers, run);
  const plain = (o) => Object.fromEntries(Object.entries(o).map(([k, v]) => [k, Array.from(v)]));
  return {grads: plain(out.grads), weights: plain(trainer.params),
          rewards: Array.from(out.rewards), advantages: Array.from(out.advantages)};
}"""


@pytest.mark.parametrize("case", CASES, ids=lambda case: "-".join(map(str, case)))
def test_one_rl_step_equals_rl_py(page, start, case):  # noqa: F811 (a fixture)
    """Every gradient and updated weight of one RL step, against train_rl's in float64."""
    method, reward, group, rate = case
    model, rules = start
    double = copy.deepcopy(model).double()
    expected = train_rl_step(double, method, reward, group, rate, seed=group)
    weights = {name: t.flatten().tolist() for name, t in weight_tensors(double)}
    settings = {**rules["settings"], "learning_rate": rate}
    run = {
        "group": group,
        "reward": reward,
        "normalise": rules["rl"]["methods"][method]["normalise"],
        "eps": rules["rl"]["eps"],
    }
    answers = expected["answers"].tolist()
    prompts = expected["prompts"].tolist()
    got = page.evaluate(POLICY_STEP, [rules, weights, settings, prompts, answers, run])

    out = expected["out"]
    assert got["rewards"] == out["rewards"].flatten().tolist()
    assert 0 < sum(got["rewards"]) < len(got["rewards"]), "a step with something to learn"
    assert got["advantages"] == out["advantages"].flatten().tolist()
    relative, _, name = worst(got["grads"], expected["grads"], floor=1e-4)
    assert relative <= 1e-5, f"{case}: gradient of {name} off by {relative:.1e} relative"
    relative, _, name = worst(got["weights"], expected["weights"], floor=1e-4)
    assert relative <= 1e-5, f"{case}: updated {name} off by {relative:.1e} relative"


def test_rewards_are_rl_pys(page):  # noqa: F811 (a fixture)
    """Both checkers on 3000 answers (random ones, the prompts' own letters shuffled, the
    right answers, answers in order), against rl.py's."""
    data = rl_training.rl_data()
    prompts = torch.tensor(data["train"][:500])
    generator = torch.Generator().manual_seed(0)
    vocab = int(prompts.max()) + 2  # one id beyond the letters the prompts use
    answers = torch.cat(
        [
            torch.randint(vocab, prompts.shape, generator=generator),
            prompts[:, torch.randperm(prompts.size(1), generator=generator)],
            prompts.sort(dim=1).values,
            torch.randint(vocab, prompts.shape, generator=generator).sort(dim=1).values,
            prompts,
            prompts.flip(1),
        ]
    )
    repeated = prompts.repeat(6, 1)
    for name, check in rl.REWARDS.items():
        got = page.evaluate(
            "([name, p, a]) => nanobook.training._rewards(name, p, a)",
            [name, repeated.tolist(), answers.tolist()],
        )
        expected = check(repeated, answers)
        assert got == expected.tolist(), name
        assert 0 < expected.mean() < 1, name


def test_advantages_are_rl_pys(page):  # noqa: F811 (a fixture)
    generator = torch.Generator().manual_seed(1)
    for group in (2, 3, 8, 32):
        rewards = (torch.rand(40, group, generator=generator) < 0.4).float()
        rewards[0] = 1.0  # a group all right: no advantage anywhere
        for normalise in (False, True):
            got = page.evaluate(
                "([r, g, n, eps]) => Array.from(nanobook.training._advantages(r, g, n, eps))",
                [rewards.flatten().tolist(), group, normalise, rl.EPS],
            )
            expected = rl.advantages(rewards, normalise).flatten().double()
            assert got == expected.tolist(), (group, normalise)


def test_prompts_are_train_rls(page):  # noqa: F811 (a fixture)
    """The page's prompts for a seed are those rl_runs.train_rl draws with it."""
    data = rl_training.rl_data()
    prompts = rl.train_prompts()
    for seed in (rl_runs.SEEDS[0], 5):
        generator = torch.Generator().manual_seed(seed)
        expected = [
            prompts[torch.randint(len(prompts), (rl_runs.PROMPTS,), generator=generator)].tolist()
            for _ in range(3)
        ]
        got = page.evaluate(
            """([train, seed, size]) => {
                 const next = nanobook.training._mersenneTwister(seed);
                 return [0, 1, 2].map(() =>
                   Array.from({length: size}, () => train[next() % train.length]));
               }""",
            [data["train"], seed, rl_runs.PROMPTS],
        )
        assert got == expected


DRIVE = """async (options) => {
  const records = [];
  const states = [];
  let wake = () => {};
  const until = (ready) => new Promise((resolve) => {
    const check = () => (ready() ? resolve() : (wake = check));
    check();
  });
  const run = nanobook.training.start(options, (message) => {
    if (message.type === "record") records.push(message.record);
    if (message.type === "state") states.push(message.state);
    if (message.type === "error") states.push(`error: ${message.message}`);
    wake();
  });
  await until(() => states.includes("done") || states.some((s) => s.startsWith("error")));
  const session = nanobook.training.policySession(options);
  const direct = [session.first];
  while (!session.done) direct.push(session.advance());
  return {mode: run.mode(), records, states, direct};
}"""


def drive(page, start) -> dict:  # noqa: F811 (a fixture)
    """A run of 4 RL steps through start(): records at step 0 and each step, held-out
    pass@1 and pass@k at the evaluations, the same as a session run directly."""
    model, rules = start
    weights = {name: t.flatten().tolist() for name, t in weight_tensors(model)}
    run = {**rules["rl"], "steps": 4, "eval_every": 2, "group": 4}
    options = {
        "config": rules["config"],
        "weights": weights,
        "rules": rules,
        "settings": rules["settings"],
        "data": rl_training.rl_data(),
        "rl": run,
    }
    result = page.evaluate(DRIVE, options)
    assert result["states"] == ["running", "done"]
    assert [r["iter"] for r in result["records"]] == [0, 1, 2, 3, 4]
    assert result["records"] == result["direct"]
    evaluated = [r["iter"] for r in result["records"] if "pass1" in r]
    assert evaluated == [0, 2, 4]
    first = result["records"][0]
    exact = rl_runs.exact_pass(model, *rl_runs.held_out())
    assert first["pass1"] == pytest.approx(exact["pass@1"], rel=1e-5)
    assert first["passk"] == pytest.approx(exact[f"pass@{rl_runs.K}"], rel=1e-5)
    return result


def test_an_rl_run_in_a_worker_when_served(served_page, start):  # noqa: F811 (a fixture)
    assert drive(served_page, start)["mode"] == "worker"


def test_an_rl_run_on_the_page_from_disk(page, start):  # noqa: F811 (a fixture)
    assert drive(page, start)["mode"] == "page"
