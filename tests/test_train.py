"""model_src/prepare.py, train.py and sample.py: data, settings, the training loop,
checkpoints and resuming, and the command lines."""

import itertools
import json
import math
import os
import pickle
import re
import subprocess
import sys

import numpy as np
import pytest
import torch
from weights import assert_equal_but_key_biases

from buildlib import book_build
from model_src import prepare, sample
from model_src import train as training
from model_src.model import GPT, GPTConfig

# --- data ------------------------------------------------------------------------------


def test_sort_data_holds_every_problem_once_and_keeps_val_unseen():
    data = prepare.sort_data()
    train, val = data.train.reshape(-1, 12), data.val.reshape(-1, 12)
    assert data.train.dtype == np.uint16 and (len(train), len(val)) == (583, 146)
    assert (train[:, 6:] == np.sort(train[:, :6], axis=1)).all()
    assert (val[:, 6:] == np.sort(val[:, :6], axis=1)).all()
    prompts = {tuple(row) for row in np.concatenate([train, val])[:, :6]}
    assert len(prompts) == 3**6
    assert not {tuple(r) for r in train[:, :6]} & {tuple(r) for r in val[:, :6]}
    assert np.array_equal(prepare.sort_data().val, data.val)  # the split is fixed
    assert data.meta == {
        "vocab_size": 3,
        "itos": {0: "A", 1: "B", 2: "C"},
        "stoi": {"A": 0, "B": 1, "C": 2},
        "task": "sort",
        "seq_len": 12,
        "prompt_len": 6,
    }


def test_sort_batches_score_only_the_sorted_half(tmp_path):
    prepare.write(prepare.sort_data(), tmp_path)
    x, y = prepare.get_batch("val", tmp_path, 8, 11, torch.Generator().manual_seed(0))
    assert x.shape == y.shape == (8, 11) and x.dtype == y.dtype == torch.int64
    assert (y[:, :5] == -1).all()
    rows = torch.cat([x, y[:, -1:]], dim=1)  # (8, 12): whole problems
    assert torch.equal(y[:, 5:], rows[:, 6:])  # the targets are the sorted letters
    assert torch.equal(rows[:, 6:], rows[:, :6].sort(dim=1).values)
    val_rows = {tuple(r) for r in prepare.sort_data().val.reshape(-1, 12).tolist()}
    assert {tuple(r) for r in rows.tolist()} <= val_rows
    again = prepare.get_batch("val", tmp_path, 8, 11, torch.Generator().manual_seed(0))
    assert torch.equal(again[0], x) and torch.equal(again[1], y)
    with pytest.raises(ValueError, match="block_size 11"):
        prepare.get_batch("val", tmp_path, 8, 10, torch.Generator())


def test_char_data_and_batches(tmp_path):
    text = "hello world, " * 50
    (tmp_path / "input.txt").write_text(text)
    prepare.main(["char", "--out", str(tmp_path / "data"), "--input", str(tmp_path / "input.txt")])
    meta = prepare.load_meta(tmp_path / "data")
    assert meta["vocab_size"] == len(set(text)) and meta["task"] == "char"
    train = np.fromfile(tmp_path / "data" / "train.bin", dtype=np.uint16)
    val = np.fromfile(tmp_path / "data" / "val.bin", dtype=np.uint16)
    assert len(train) == int(0.9 * len(text)) and len(train) + len(val) == len(text)
    assert "".join(meta["itos"][i] for i in train) == text[: len(train)]
    x, y = prepare.get_batch("train", tmp_path / "data", 4, 10, torch.Generator().manual_seed(1))
    assert x.shape == y.shape == (4, 10) and x.dtype == torch.int64
    assert torch.equal(x[:, 1:], y[:, :-1])  # y is x one step ahead


def test_a_text_of_your_own_is_kept_to_ascii_with_meaningful_symbols_spelled_out():
    text = prepare.ascii_text("A target of −1 tells; 0 where s ≤ t and −∞; café ☕")
    assert text == "A target of -1 tells; 0 where s <= t and -inf; cafe "


# --- settings --------------------------------------------------------------------------


def test_overrides_are_parsed_as_literals():
    assert training.parse_override("--n_layer=4") == ("n_layer", 4)
    assert training.parse_override("--bias=False") == ("bias", False)
    assert training.parse_override("--learning_rate=3e-4") == ("learning_rate", 3e-4)
    assert training.parse_override("--device=cpu") == ("device", "cpu")
    assert training.parse_override("--out_dir=123") == ("out_dir", "123")  # text stays text
    assert training.parse_override("--out_dir='a b'") == ("out_dir", "a b")
    with pytest.raises(ValueError, match="expected --key=value"):
        training.parse_override("--max_iters")


def test_unknown_setting_is_an_error_with_a_suggestion():
    message = "unknown config key 'n_layr' (did you mean 'n_layer'?)"
    with pytest.raises(ValueError, match=re.escape(message)):
        training.resolve_config(overrides={"n_layr": 3})
    with pytest.raises(ValueError, match="unknown config key 'n_layr'"):
        training.main(["sort", "--n_layr=3"])


@pytest.mark.parametrize(
    "key, value", [("n_layer", "4"), ("n_layer", 4.5), ("bias", 1), ("max_iters", True)]
)
def test_wrongly_typed_setting_is_an_error(key, value):
    with pytest.raises(ValueError, match=f"config key '{key}' expects"):
        training.resolve_config(overrides={key: value})


def test_an_int_is_a_fine_float():
    assert training.resolve_config(overrides={"learning_rate": 1})["learning_rate"] == 1.0


def test_config_files_hold_literals_only(tmp_path):
    (tmp_path / "ok.py").write_text('"""doc"""\n# comment\nn_layer = 2\ndataset = "sort"\n')
    config = training.resolve_config(tmp_path / "ok.py", {"n_layer": 3})
    assert (config["n_layer"], config["dataset"]) == (3, "sort")  # overrides win
    (tmp_path / "code.py").write_text("import os\n")
    with pytest.raises(ValueError, match=re.escape("code.py:1: expected a `name = value` line")):
        training.read_config_file(tmp_path / "code.py")
    (tmp_path / "call.py").write_text("out_dir = __import__('os').getcwd()\n")
    with pytest.raises(ValueError, match="must be a literal"):
        training.read_config_file(tmp_path / "call.py")
    with pytest.raises(ValueError, match="presets: char, sort"):
        training.config_file_for("nonexistent")


def test_preset_config_files_are_valid():
    for name in ("sort", "char"):
        config = training.resolve_config(training.config_file_for(name))
        assert config["dataset"] == name and config["device"] == "cpu"


def test_lr_schedule_warms_up_then_decays_to_min_lr():
    config = dict(learning_rate=1.0, min_lr=0.1, warmup_iters=10, lr_decay_iters=110, decay_lr=True)
    lrs = [training.get_lr(it, config) for it in range(130)]
    assert lrs[0] == pytest.approx(1 / 11) and lrs[10] == pytest.approx(1.0)
    assert all(a < b for a, b in itertools.pairwise(lrs[:11]))  # warmup rises
    assert all(a > b for a, b in itertools.pairwise(lrs[10:111]))  # cosine falls
    assert lrs[60] == pytest.approx(0.55)  # halfway down
    assert all(lr == 0.1 for lr in lrs[110:])
    assert training.get_lr(5, {**config, "decay_lr": False}) == 1.0


# --- the training loop -----------------------------------------------------------------


def tiny_run(tmp_path, **overrides) -> dict:
    config = dict(
        dataset="sort",
        data_dir=str(tmp_path / "data"),
        out_dir=str(tmp_path / "out"),
        n_layer=1,
        n_head=2,
        n_embd=16,
        block_size=11,
        batch_size=8,
        max_iters=20,
        eval_interval=10,
        eval_iters=2,
        log_interval=5,
        learning_rate=1e-2,
        warmup_iters=2,
        lr_decay_iters=30,
        always_save_checkpoint=True,
    )
    return {**config, **overrides}


def read_log(out_dir) -> list[dict]:
    return [json.loads(line) for line in (out_dir / "log.jsonl").read_text().splitlines()]


def test_training_logs_checkpoints_and_resumes(tmp_path, capsys):
    summary = training.train(tiny_run(tmp_path))
    out = tmp_path / "out"
    assert summary["iters"] == 20 and summary["tokens_per_second"] > 0
    assert summary["best_val_loss"] < math.log(3)  # learned something
    assert "[sort] iter 10/20" in capsys.readouterr().err
    log = read_log(out)
    assert [r["iter"] for r in log] == [5, 10, 15, 20]
    assert {"iter", "loss", "lr", "time"} <= set(log[0]) and "val_loss" not in log[0]
    assert {"train_loss", "val_loss"} <= set(log[1])
    assert log[-1]["val_loss"] == summary["val_loss"]
    assert log[1]["lr"] == training.get_lr(9, training.resolve_config(overrides=tiny_run(tmp_path)))

    checkpoint = torch.load(out / "ckpt.pt")
    assert set(checkpoint) == {
        "model", "optimizer", "model_args", "iter_num", "best_val_loss", "config",
    }  # fmt: skip
    assert checkpoint["iter_num"] == 20 and checkpoint["config"]["n_embd"] == 16
    assert checkpoint["model_args"] == dict(
        n_layer=1, n_head=2, n_embd=16, block_size=11, bias=True, vocab_size=3, dropout=0.0
    )
    with open(out / "meta.pkl", "rb") as f:
        assert pickle.load(f)["itos"] == {0: "A", 1: "B", 2: "C"}

    # the round trip: the checkpoint rebuilds the trained model exactly
    model = GPT.from_checkpoint(checkpoint).eval()
    x, y = prepare.get_batch("val", tmp_path / "data", 4, 11, torch.Generator().manual_seed(0))
    assert model(x, y)[1].item() < math.log(3)

    # resume: continues at iter 21 with the checkpoint's architecture (n_layer=2 is ignored)
    summary = training.train(tiny_run(tmp_path, init_from="resume", max_iters=30, n_layer=2))
    assert summary["iters"] == 30
    assert [r["iter"] for r in read_log(out)] == [5, 10, 15, 20, 25, 30]
    checkpoint = torch.load(out / "ckpt.pt")
    assert checkpoint["iter_num"] == 30 and checkpoint["model_args"]["n_layer"] == 1


def test_only_better_checkpoints_are_saved(tmp_path, monkeypatch):
    losses = iter([{"train": 1.0, "val": 1.0}, {"train": 0.5, "val": 2.0}])
    monkeypatch.setattr(training, "estimate_loss", lambda *args: next(losses))
    summary = training.train(tiny_run(tmp_path, always_save_checkpoint=False))
    checkpoint = torch.load(tmp_path / "out" / "ckpt.pt")
    assert checkpoint["iter_num"] == 10 and checkpoint["best_val_loss"] == 1.0
    assert summary["best_val_loss"] == 1.0 and summary["val_loss"] == 2.0


def test_gradient_accumulation_runs_and_data_is_prepared_on_demand(tmp_path, capsys):
    summary = training.train(tiny_run(tmp_path, gradient_accumulation_steps=3, max_iters=4))
    assert summary["iters"] == 4
    assert "preparing sort data" in capsys.readouterr().err
    assert (tmp_path / "data" / "train.bin").exists()


def test_resuming_without_a_checkpoint_fails_clearly(tmp_path):
    with pytest.raises(FileNotFoundError):
        training.train(tiny_run(tmp_path, init_from="resume"))
    with pytest.raises(ValueError, match="init_from must be"):
        training.train(tiny_run(tmp_path, init_from="gpt2"))


# --- command lines ---------------------------------------------------------------------


def test_train_and_sample_command_lines(tmp_path, capsys):
    args = [f"--{k}={v}" for k, v in tiny_run(tmp_path, max_iters=10).items()]
    training.main(["sort", *args])
    assert json.loads(capsys.readouterr().out)["iters"] == 10

    out_dir = f"--out_dir={tmp_path / 'out'}"
    sample.main([out_dir, "--start=CAB", "--num_samples=2", "--max_new_tokens=5", "--top_k=1"])
    samples = capsys.readouterr().out.split("-" * 40 + "\n")
    assert len(samples) == 3 and samples[0] == samples[1]  # greedy: two identical samples
    assert samples[0].startswith("CAB") and len(samples[0].strip()) == 8
    assert set(samples[0].strip()) <= set("ABC")

    (tmp_path / "prompt.txt").write_text("BBA")
    sample.main([out_dir, f"--start=FILE:{tmp_path / 'prompt.txt'}", "--num_samples=1"])
    assert capsys.readouterr().out.startswith("BBA")
    with pytest.raises(SystemExit):
        sample.main([out_dir, "--start=xyz"])
    assert "never saw: ['x', 'y', 'z']" in capsys.readouterr().err


def test_sample_finds_a_nanogpt_style_meta(tmp_path, monkeypatch, capsys):
    training.train(tiny_run(tmp_path, max_iters=2))
    (tmp_path / "out" / "meta.pkl").unlink()  # nanoGPT keeps it in data/<dataset>/ only
    monkeypatch.chdir(tmp_path)
    checkpoint = torch.load(tmp_path / "out" / "ckpt.pt")
    checkpoint["config"] = {"dataset": "sort"}
    (tmp_path / "data" / "sort").mkdir(parents=True)
    prepare.write(prepare.sort_data(), tmp_path / "data" / "sort")
    torch.save(checkpoint, tmp_path / "out" / "ckpt.pt")
    sample.main(["--out_dir=out", "--start=AB", "--num_samples=1", "--max_new_tokens=2"])
    assert capsys.readouterr().out.startswith("AB")
    (tmp_path / "data" / "sort" / "meta.pkl").unlink()
    with pytest.raises(FileNotFoundError, match=r"no meta\.pkl found"):
        sample.main(["--out_dir=out"])


def test_training_leaves_the_callers_random_state_and_threads_alone(tmp_path):
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    training.train(tiny_run(tmp_path, max_iters=2, threads=2))
    assert torch.equal(torch.rand(3), expected)
    assert torch.get_num_threads() == 1  # as OMP_NUM_THREADS=1 set it (conftest)


def test_every_build_computes_with_the_same_kernels(tmp_path):
    """A book build pins PyTorch's kernels to AVX2 and one thread, so a machine with
    AVX-512 or more cores trains the same models (and the book makes the same claims)."""
    env = {**os.environ, **book_build.environment(tmp_path)}
    code = "import torch; print(torch.backends.cpu.get_cpu_capability(), torch.get_num_threads())"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.stdout.split() == ["AVX2", "1"]


def test_fit_trains_any_batches_and_never_scores_a_minus_one_target(tmp_path):
    cfg = training.resolve_config(overrides={**tiny_run(tmp_path), "max_iters": 6})

    def batches(cut: bool):
        """Random token rows; the targets from column 5 on unscored (-1), or cut off."""

        def draw(split, generator):
            rows = torch.randint(3, (8, 12), generator=generator)
            x, y = rows[:, :-1], rows[:, 1:].clone()
            if cut:
                return x[:, :5].contiguous(), y[:, :5].contiguous()
            y[:, 5:] = -1
            return x, y

        return draw

    def weights_after(cut: bool) -> dict:
        torch.manual_seed(0)
        model = GPT(GPTConfig(n_layer=1, n_head=2, n_embd=16, block_size=11, vocab_size=3))
        # plain SGD: Adam would blow up rounding noise in gradients that are zero in
        # exact arithmetic (the key bias's), hiding what this test compares
        sgd = torch.optim.SGD(model.parameters(), lr=0.1)
        summary = training.fit(model, cfg, batches(cut), optimizer=sgd)
        assert summary["iters"] == 6 and summary["log"][-1]["iter"] == 6
        return model.state_dict()

    # attention is causal, so columns 0-4 see the same inputs either way: -1 targets
    # add nothing, and training with them equals training on the rows cut short
    masked, cut = weights_after(cut=False), weights_after(cut=True)
    assert all(torch.allclose(masked[k], cut[k], atol=1e-6) for k in masked)


def test_float64_arithmetic_keeps_a_run_whatever_order_it_sums_in():
    """The sort preset's arithmetic (float64 over float32 weights): one batch of 32 a step
    and four micro-batches of 8 sum each step's gradient in different orders, yet keep the
    same losses to float64's rounding and the same float32 weights, but for the key
    biases, whose exact gradient is 0 (softmax ignores a shift shared by a row's scores),
    so that AdamW steps them by rounding noise. In float32 the two runs differ."""
    from model_src import presets

    def run(dtype: str, accum: int) -> tuple[list[float], dict]:
        overrides = dict(max_iters=30, log_interval=1, eval_interval=30, eval_iters=1)
        overrides.update(dtype=dtype, batch_size=32 // accum, gradient_accumulation_steps=accum)
        cfg = training.resolve_config(presets.config_file("sort"), overrides)
        torch.manual_seed(cfg["seed"])
        model = GPT(presets.gpt_config("sort"))
        log = training.fit(model, cfg, training.memory_batches(presets.dataset("sort"), cfg))
        assert all(p.dtype == torch.float32 for p in model.parameters())  # kept float32
        return [record["loss"] for record in log["log"]], model.state_dict()

    assert training.resolve_config(presets.config_file("sort"))["dtype"] == "float64"
    (whole, whole_weights), (micro, micro_weights) = run("float64", 1), run("float64", 4)
    assert max(abs(a - b) for a, b in zip(whole, micro, strict=True)) < 1e-12
    assert_equal_but_key_biases(micro_weights, whole_weights)
    assert run("float32", 1)[0] != run("float32", 4)[0]
    with pytest.raises(ValueError, match="dtype must be 'float32' or 'float64'"):
        run("bfloat16", 1)
