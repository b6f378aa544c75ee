"""model_src/sweep.py: the chapter 10 scaling sweep, checked without training it."""

import math

from model_src import presets, sweep
from model_src.model import GPT


def test_every_size_is_bigger_than_the_one_before():
    params = [GPT(presets.gpt_config("char", **size)).get_num_params() for size in sweep.SIZES]
    assert params == sorted(set(params)), params
    assert params[-1] > 20 * params[0]  # wide enough to show a trend on log axes


def test_every_size_trains_with_the_same_schedule_ending_at_its_last_step():
    assert sweep.TRAINING["lr_decay_iters"] == sweep.TRAINING["max_iters"] == sweep.STEPS
    assert not {"n_layer", "n_head", "n_embd"} & set(sweep.TRAINING)


def test_run_reports_one_point_per_size_in_order(tmp_path, monkeypatch):
    monkeypatch.setenv("NANOBOOK_CACHE_DIR", str(tmp_path))
    tiny = (dict(n_layer=1, n_head=1, n_embd=8), dict(n_layer=1, n_head=2, n_embd=16))
    steps = dict(max_iters=2, eval_interval=2, eval_iters=1, warmup_iters=1, lr_decay_iters=2)
    points = sweep.run(sizes=tiny, training=steps)

    assert [p["name"] for p in points] == ["1L·1H·8C", "1L·2H·16C"]
    assert points[0]["params"] < points[1]["params"]
    for point, size in zip(points, tiny, strict=True):
        assert point.keys() == {"name", "params", "val_loss", "train_seconds", *size}
        assert math.isfinite(point["val_loss"]) and 0 < point["val_loss"] < 10
        assert point["train_seconds"] > 0
    assert len(list(tmp_path.glob("models/char-*/ckpt.pt"))) == 2  # each size its own entry
