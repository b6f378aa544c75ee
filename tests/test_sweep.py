"""model_src/sweep.py: the chapter 10 scaling sweep, checked without training it."""

import math

from model_src import presets, sweep
from model_src.experiments import seeds, verdicts
from model_src.model import GPT


def test_every_size_is_bigger_than_the_one_before():
    params = [GPT(presets.gpt_config("char", **size)).get_num_params() for size in sweep.SIZES]
    assert params == sorted(set(params)), params
    assert params[-1] > 20 * params[0]  # wide enough to show a trend on log axes


def test_every_size_trains_with_the_same_schedule_ending_at_its_last_step():
    assert sweep.TRAINING["lr_decay_iters"] == sweep.TRAINING["max_iters"] == sweep.STEPS
    assert not {"n_layer", "n_head", "n_embd"} & set(sweep.TRAINING)


def test_every_size_trains_with_enough_seeds_for_the_books_rule():
    assert len(set(sweep.SEEDS)) == len(sweep.SEEDS) >= verdicts.MIN_SEEDS
    assert sweep.SEEDS[0] == seeds.BOOK_SEED  # the preset's own run is the first seed's


def test_run_reports_one_point_per_size_in_order_over_its_seeds(tmp_path, monkeypatch):
    monkeypatch.setenv("NANOBOOK_CACHE_DIR", str(tmp_path))
    tiny = (dict(n_layer=1, n_head=1, n_embd=8), dict(n_layer=1, n_head=2, n_embd=16))
    steps = dict(max_iters=2, eval_interval=2, eval_iters=1, warmup_iters=1, lr_decay_iters=2)
    points = sweep.run(sizes=tiny, training=steps, seeds=(7, 8))

    assert [p["name"] for p in points] == ["1L·1H·8C", "1L·2H·16C"]
    assert points[0]["params"] < points[1]["params"]
    for point, size in zip(points, tiny, strict=True):
        assert point.keys() == {
            "name", "params", "val_losses", "val_loss", "eval_steps", "val_curves",
            "train_seconds", *size,
        }  # fmt: skip
        assert [min(curve) for curve in point["val_curves"]] == point["val_losses"]
        assert len(point["val_losses"]) == 2 and len(set(point["val_losses"])) == 2  # two seeds
        assert point["val_loss"] == sum(point["val_losses"]) / 2
        assert all(math.isfinite(loss) and 0 < loss < 10 for loss in point["val_losses"])
        assert point["train_seconds"] > 0
    assert len(list(tmp_path.glob("models/char-*/ckpt.pt"))) == 4  # each run its own entry
