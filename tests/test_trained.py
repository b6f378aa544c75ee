"""model_src/trained.py and tasks.py: the cached trained models the book is built on.

The real sort preset is trained once per test session (seconds), into a temporary
cache; the other tests use runs of a few steps."""

import os
import subprocess
import sys
import time
from pathlib import Path

import procfs
import pytest
import torch

from model_src import prepare, presets, replay, trained
from model_src import train as training
from model_src.model import GPT
from model_src.tasks import sort_accuracy

REPO = Path(__file__).resolve().parent.parent
QUICK = dict(max_iters=10, eval_interval=5, eval_iters=2, log_interval=5)  # a few steps


@pytest.fixture(scope="session")
def sort_cache(tmp_path_factory) -> Path:
    cache = tmp_path_factory.mktemp("cache")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("NANOBOOK_CACHE_DIR", str(cache))
        trained.get("sort")
    return cache


@pytest.fixture
def sort_model(sort_cache, monkeypatch) -> trained.Trained:
    monkeypatch.setenv("NANOBOOK_CACHE_DIR", str(sort_cache))
    return trained.get("sort")


@pytest.fixture
def cache(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("NANOBOOK_CACHE_DIR", str(tmp_path))
    return tmp_path


def test_the_trained_sort_model_sorts_held_out_sequences(sort_model):
    accuracy = sort_accuracy(sort_model.model)
    print(
        f"sort: {accuracy:.1%} of held-out prompts, trained in {sort_model.train_seconds:.1f}s "
        f"at {sort_model.tokens_per_second:,.0f} tokens/s"
    )
    assert accuracy >= 0.99
    assert sort_model.model.get_num_params(non_embedding=False) == 85_584
    prompt = sort_model.encode("CABBAC")
    out = sort_model.model.generate(torch.tensor([prompt]), 6, top_k=1)
    assert sort_model.decode(out[0]) == "CABBACAABBCC"


def test_a_trained_model_carries_its_record(sort_model, sort_cache):
    assert sort_model.name == "sort" and not sort_model.model.training
    assert sort_model.out_dir.parent == sort_cache / "models"
    assert sort_model.out_dir.name.startswith("sort-") and len(sort_model.out_dir.name) == 21
    assert sort_model.config["n_embd"] == 48 and sort_model.config["out_dir"] == str(
        sort_model.out_dir
    )
    assert sort_model.meta["itos"] == {0: "A", 1: "B", 2: "C"}
    iters = [m["iter"] for m in sort_model.metrics]
    assert iters == sorted(iters) and iters[-1] == sort_model.config["max_iters"]
    evals = [m for m in sort_model.metrics if "val_loss" in m]
    assert len(evals) == sort_model.config["max_iters"] // sort_model.config["eval_interval"]
    assert sort_model.best_val_loss == min(m["val_loss"] for m in evals) < 0.01
    assert sort_model.train_seconds > 0 and sort_model.tokens_per_second > 0
    assert sort_model.decode(sort_model.encode("ABCCBA")) == "ABCCBA"


def test_second_get_loads_instead_of_training(sort_model, monkeypatch):
    def must_not_train(config, observe=None):
        raise AssertionError("trained again")

    monkeypatch.setattr(trained.training, "train", must_not_train)
    again = trained.get("sort")
    assert again.out_dir == sort_model.out_dir
    for key, value in sort_model.model.state_dict().items():
        assert torch.equal(again.model.state_dict()[key], value)
    # what keys need, read from the entry without loading the model: its weights' digest
    assert (
        trained.weights("sort") == again.weights == trained.weights_digest(again.model.state_dict())
    )


def test_sort_accuracy_counts_exact_sorts_only(sort_model):
    assert sort_accuracy(sort_model.model, n=20) == 1.0
    torch.manual_seed(0)
    untrained = GPT(sort_model.model.config)
    untrained.train()
    assert sort_accuracy(untrained) < 0.2
    assert untrained.training  # left as it was found


def test_overrides_and_presets_make_separate_entries(cache):
    quick = trained.get("sort", **QUICK)
    assert quick.config["max_iters"] == 10 and quick.metrics[-1]["iter"] == 10
    other = trained.get("sort", **{**QUICK, "seed": 7})
    assert other.out_dir != quick.out_dir
    char = trained.get("char", **QUICK, n_layer=1, batch_size=4)
    assert char.model.config.n_layer == 1 and char.out_dir.name.startswith("char-")
    text = "My lord, the king!"
    assert char.decode(char.encode(text)) == text
    assert sorted(p.name for p in (cache / "models").iterdir() if p.is_dir()) == sorted(
        [quick.out_dir.name, other.out_dir.name, char.out_dir.name]
    )


def test_bad_names_are_errors(cache):
    with pytest.raises(KeyError, match="presets: sort, char"):
        trained.get("shakespeare")
    with pytest.raises(ValueError, match="unknown config key 'max_iter'"):
        trained.get("sort", max_iter=5)
    assert not (cache / "models").exists()


def test_interrupted_training_leaves_no_entry(cache, monkeypatch):
    def crash(config, observe=None):
        Path(config["out_dir"], "ckpt.pt").write_text("half written")
        raise KeyboardInterrupt

    monkeypatch.setattr(trained.training, "train", crash)
    with pytest.raises(KeyboardInterrupt):
        trained.get("sort", **QUICK)
    assert [p.name for p in (cache / "models").iterdir()] == [
        p.name for p in (cache / "models").glob("*.lock")
    ]
    monkeypatch.undo()
    monkeypatch.setenv("NANOBOOK_CACHE_DIR", str(cache))
    assert trained.get("sort", **QUICK).metrics[-1]["iter"] == 10


def test_parallel_processes_train_only_once(cache):
    code = "from model_src import trained; trained.get('sort', max_iters=30, eval_interval=10)"
    env = {**os.environ, "PYTHONPATH": str(REPO), "NANOBOOK_CACHE_DIR": str(cache)}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code], env=env, stderr=subprocess.PIPE, text=True, cwd=REPO
        )
        for _ in range(2)
    ]
    errors = [proc.communicate(timeout=300)[1] for proc in procs]
    assert [proc.returncode for proc in procs] == [0, 0], errors
    assert sum("(cached for next time)" in err for err in errors) == 1
    assert len([p for p in (cache / "models").iterdir() if p.is_dir()]) == 1


def test_the_sort_model_keeps_a_replay_of_how_it_learned(sort_model):
    record = sort_model.replay
    steps = [snapshot["step"] for snapshot in record["snapshots"]]
    assert steps == replay.recorded_steps(sort_model.config["max_iters"])
    assert steps[0] == 0 and steps[-1] == sort_model.config["max_iters"] and 20 <= len(steps) <= 40
    first, last = record["snapshots"][0], record["snapshots"][-1]
    assert first["loss"] is None and first["accuracy"] < 0.2 <= 0.99 <= last["accuracy"]
    logged = {m["iter"]: m["loss"] for m in sort_model.metrics}
    assert all(
        s["loss"] == round(logged[s["step"]], 4) for s in record["snapshots"] if s["step"] in logged
    )
    layers, heads = sort_model.model.config.n_layer, sort_model.model.config.n_head
    for snapshot in record["snapshots"]:
        for maps in snapshot["attention"]:  # one per probe: (layers, heads, T, 1..T)
            assert len(maps) == layers and all(len(layer) == heads for layer in maps)
            for row in (row for layer in maps for head in layer for row in head):
                assert abs(sum(row) - 1) < 1e-3  # each query's weights, rounded, sum to 1
    # at the end it sorts the probes: every answer letter predicted as the target
    answer = slice(prepare.SORT_LENGTH - 1, None)
    for predicted, target in zip(last["prediction"], record["targets"], strict=True):
        assert predicted[answer] == target[answer]
    assert trained.get("char", **QUICK, n_layer=1, batch_size=4).replay is None


def test_recording_the_replay_does_not_change_what_is_learned(tmp_path):
    config = training.resolve_config(presets.config_file("sort"), QUICK)
    prepare.write(presets.dataset("sort"), tmp_path / "data")

    def weights(observe, out):
        training.train({**config, "out_dir": str(out), "data_dir": str(tmp_path / "data")}, observe)
        return torch.load(out / "ckpt.pt")["model"]

    recorder = replay.Recorder(config)
    plain, watched = weights(None, tmp_path / "plain"), weights(recorder, tmp_path / "watched")
    assert [s["step"] for s in recorder.snapshots] == replay.recorded_steps(10)
    assert all(torch.equal(plain[key], watched[key]) for key in plain)


def test_the_replays_one_pass_accuracy_is_the_greedy_exact_sort_accuracy(sort_model, cache):
    x, y, prompt_len = replay.held_out_rows()
    quick = trained.get("sort", **QUICK).model
    torch.manual_seed(0)
    for model in (sort_model.model, quick, GPT(sort_model.model.config).eval()):
        with torch.no_grad():
            logits, _ = model(x, y)
        right = replay.answers_right(logits, y, prompt_len)
        assert right.float().mean().item() == sort_accuracy(model)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_trainings_die_with_a_killed_build_and_leave_no_entry(cache):
    """SIGKILL the process that runs the trainings mid-training: its training processes die
    with it, no entry is published, and the next run trains from scratch."""
    requests = [("sort", {"max_iters": 5000}), ("sort", {"max_iters": 4999})]
    code = (
        "from buildlib import processes; from model_src import trained; "
        f"processes.run_longest_first(trained.missing({requests!r}), jobs=2)"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO), "NANOBOOK_CACHE_DIR": str(cache)}
    parent = subprocess.Popen([sys.executable, "-c", code], env=env, cwd=REPO)
    deadline = time.monotonic() + 120
    while not list((cache / "models").glob(".tmp-*")):  # a training has started writing
        assert time.monotonic() < deadline and parent.poll() is None, "no training started"
        time.sleep(0.2)
    children = procfs.descendants(parent.pid)
    assert children
    parent.kill()
    parent.wait()
    procfs.assert_gone(children, within=15, what="trainings outlived the process that started them")
    assert not [p for p in (cache / "models").iterdir() if p.is_dir() and p.name[0] != "."]
