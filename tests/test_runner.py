"""model_src/experiments/runner.py and seeds.seeded: a tiny experiment trained once, kept in
the store and read back; its seeds moved by NANOBOOK_SEED; the guard every run trains in."""

from pathlib import Path

import pytest
import torch

from model_src import trained
from model_src.experiments import runner, seeds

RUNS = {"small": {"scale": 1.0}, "large": {"scale": 3.0}}
trainings: list[tuple[str, int]] = []  # every (name, seed) trained, in order


def settings(name: str, seed: int) -> dict:
    return {"seed": seed, "threads": 1}


def train(name: str, seed: int) -> tuple[torch.nn.Module, dict]:
    """A linear layer seeded by the run's seed, its weights scaled by the run's spec."""
    trainings.append((name, seed))
    with seeds.seeded(seed, threads=1):
        model = build(name)
        with torch.no_grad():
            model.weight.mul_(RUNS[name]["scale"])
    return model, {"seed": seed, "total": model.weight.sum().item()}


def build(name: str) -> torch.nn.Module:
    return torch.nn.Linear(3, 2, bias=False)


def size(name: str, seed: int) -> int:
    return int(RUNS[name]["scale"] * 10)


def experiment(**changes) -> runner.Experiment:
    declared = dict(
        folder="tiny",
        code=Path(__file__),
        runs=RUNS,
        seeds=seeds.seeds(2),
        settings=settings,
        train=train,
        size=size,
        build=build,
    )
    return runner.Experiment(**{**declared, **changes})


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("NANOBOOK_CACHE_DIR", str(tmp_path))
    monkeypatch.delenv("NANOBOOK_SEED", raising=False)
    trainings.clear()
    return tmp_path


def test_a_run_is_trained_once_then_read_back_from_the_store(cache):
    tiny = experiment()
    assert tiny.absent() == tiny.every_run() == [(n, s) for n in RUNS for s in (1337, 1338)]
    first = tiny.get("large", 1338)
    again = experiment().get("large", 1338)
    assert trainings == [("large", 1338)]
    assert again["seed"] == 1338 and again["total"] == first["total"]
    assert torch.equal(first["model"].weight, again["model"].weight)
    assert not again["model"].training
    assert tiny.weights("large", 1338) == trained.weights_digest(again["model"].state_dict())
    assert (cache / "tiny").is_dir() and ("large", 1338) not in tiny.absent()
    assert tiny.get("small")["seed"] == 1337  # no seed: the run's first


def test_run_all_trains_the_missing_runs_as_sized_tasks_and_returns_every_run(cache):
    tiny = experiment()
    tiny.get("small", 1337)
    tasks = tiny.missing()
    assert sorted(task.args for task in tasks) == [
        ((("large", 1337),),),
        ((("large", 1338),),),
        ((("small", 1338),),),
    ]
    assert sorted(task.work for task in tasks) == [10, 30, 30]
    runs = tiny.run_all(jobs=1)
    assert list(runs) == tiny.every_run() and tiny.missing() == []
    assert len(trainings) == 4
    # the spec is the run: same seed, same start, three times the weights
    assert runs["large", 1337]["total"] == pytest.approx(3 * runs["small", 1337]["total"])


def test_runs_that_build_on_each_other_train_seed_by_seed_in_declared_order(cache):
    tasks = experiment(tasks=runner.seed_by_seed).missing()
    assert [task.args for task in tasks] == [
        ((("small", 1337), ("large", 1337)),),
        ((("small", 1338), ("large", 1338)),),
    ]
    assert [task.work for task in tasks] == [40, 40]


def test_a_record_only_experiment_keeps_no_weights(cache):
    def record_only(name: str, seed: int) -> tuple[None, dict]:
        return None, train(name, seed)[1]

    tiny = experiment(train=record_only, build=None)
    assert set(tiny.get("small", 1337)) == {"seed", "total"}
    assert not list((cache / "tiny").rglob("model.pt"))


def test_nanobook_seed_moves_every_run_and_its_key(cache, monkeypatch):
    book = experiment().entries()
    monkeypatch.setenv("NANOBOOK_SEED", "2")
    moved = experiment()
    assert moved.every_run() == [(n, s) for n in RUNS for s in (3337, 3338)]
    assert moved.get("small", 3337)["seed"] == 3337
    assert not set(moved.entries().values()) & set(book.values())


def more_for_large(name: str) -> tuple[int, ...]:
    return seeds.seeds(3 if name == "large" else 1)


def test_runs_may_differ_in_how_many_seeds_they_train(cache):
    tiny = experiment(seeds=more_for_large)
    assert tiny.every_run() == [("small", 1337), ("large", 1337), ("large", 1338), ("large", 1339)]
    assert len(tiny.entries()) == len(tiny.missing()) == 4


def test_every_entry_is_keyed_on_its_settings_and_its_spec(cache):
    book = experiment().entries()
    respec = experiment(runs={**RUNS, "large": {"scale": 4.0}}).entries()
    assert book["small", 1337] == respec["small", 1337]
    assert book["large", 1337] != respec["large", 1337]
    assert book["small", 1337].startswith("small-1337-")
    assert experiment(prefix="tiny-").entries()["small", 1337].startswith("tiny-small-1337-")


def test_slug_names_a_run_as_a_file():
    assert runner.slug("GPT-2, lr 0.1") == "gpt-2-lr-0.1"
    assert runner.slug("ReLU²") == "relu2"
    assert runner.slug("LoRA r=8, # row") == "lora-r8-hash-row"


def test_seeded_draws_from_the_seed_and_restores_threads_and_random_state():
    threads = torch.get_num_threads()
    torch.manual_seed(5)
    expected_next = torch.rand(3)
    torch.manual_seed(5)
    with seeds.seeded(1337, threads=1):
        assert torch.get_num_threads() == 1
        drawn = torch.rand(3)
    assert torch.equal(drawn, torch.rand(3, generator=torch.Generator().manual_seed(1337)))
    assert torch.get_num_threads() == threads
    assert torch.equal(torch.rand(3), expected_next)  # the caller's stream, untouched


def test_seeded_restores_threads_and_random_state_when_the_run_fails():
    threads = torch.get_num_threads()
    torch.manual_seed(5)
    state = torch.get_rng_state()
    with pytest.raises(RuntimeError, match="diverged"), seeds.seeded(1, threads=threads + 1):
        torch.rand(10)
        raise RuntimeError("diverged")
    assert torch.get_num_threads() == threads
    assert torch.equal(torch.get_rng_state(), state)


def test_seeded_with_no_thread_count_leaves_it_alone():
    threads = torch.get_num_threads()
    with seeds.seeded(1):
        assert torch.get_num_threads() == threads


def test_a_run_whose_train_seeds_nothing_still_trains_seeded_on_one_thread(cache):
    """The runner seeds each run itself: an experiment that forgets is still repeatable,
    its seeds differ, and the caller's random state and threads are left as they were."""

    def unseeded(name: str, seed: int) -> tuple[None, dict]:
        return None, {"draw": torch.rand(1).item(), "threads": torch.get_num_threads()}

    draws = {}
    for folder in ("first", "second"):
        loose = experiment(folder=folder, train=unseeded, build=None)
        torch.manual_seed(0)
        state, threads = torch.get_rng_state(), torch.get_num_threads()
        draws[folder] = [loose.get("small", seed)["draw"] for seed in (1337, 1338)]
        assert torch.equal(torch.get_rng_state(), state) and torch.get_num_threads() == threads
        assert loose.get("large", 1337)["threads"] == 1
    assert draws["first"] == draws["second"] and draws["first"][0] != draws["first"][1]
