"""What the bench's page-weight comparison of the training chapter rests on: the page
"without the live-training widget" is the built page less the widget's section and
script, and less the runtime's scripts only when no other live widget is left."""

from __future__ import annotations

import html
import importlib.util
import json
import sys
from pathlib import Path

import pytest

from ext.live_models import KIND_SCRIPTS, SCRIPTS

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench_run", REPO / "bench" / "run.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def widget(kind: str, inner: str = "") -> str:
    live = html.escape(json.dumps({"kind": kind, "preset": "sort"}))
    static = f'<div class="nb-live-static">{inner}</div>'
    return f'<section class="nb-live" data-live="{live}">{static}</section>'


def scripts(*names: str) -> str:
    return "".join(f'<script defer="defer" src="../_static/{n}?v=1"></script>\n' for n in names)


def page(head: str, body: str) -> str:
    chapter = f"<section id='ch'>{body}<p>after</p></section>"
    return f"<html><head>{head}</head><body>{chapter}</body></html>"


def test_the_widget_and_its_script_go_and_the_rest_stays(bench):
    head = scripts(*SCRIPTS, KIND_SCRIPTS["attention"], KIND_SCRIPTS["training"])
    body = "<p>before</p>" + widget("training", "<section><p>static run</p></section>")
    body += widget("attention")
    bare = bench.without_training_widget(page(head, body))
    assert "static run" not in bare and "&quot;training&quot;" not in bare
    assert KIND_SCRIPTS["training"] not in bare
    for kept in (*SCRIPTS, KIND_SCRIPTS["attention"], "before", "after", "&quot;attention&quot;"):
        assert kept in bare, kept
    assert bare.count("<section") == bare.count("</section>") == 2


def test_with_no_live_widget_left_the_runtime_goes_too(bench):
    head = scripts(*SCRIPTS, KIND_SCRIPTS["training"])
    bare = bench.without_training_widget(page(head, widget("training") + widget("training")))
    assert "<script" not in bare
    assert "after" in bare


def test_a_page_without_the_widget_is_refused(bench):
    with pytest.raises(SystemExit, match="no live-training widget"):
        bench.without_training_widget(page(scripts(*SCRIPTS), widget("attention")))


def test_a_recorded_part_replaces_its_figures_and_targets_and_is_dated(bench, tmp_path):
    results = json.loads((REPO / "bench" / "results.json").read_text())
    results["machine"]["date"] = "2000-01-01"
    out, page = tmp_path / "results.json", tmp_path / "performance.md"
    out.write_text(json.dumps(results))
    rate = {**results["train_rate"], "page / torch step rate": 0.125}
    target = "in-page training step rate >= 30% of PyTorch's one thread"
    bench.record_parts(
        {"train_rate": rate, "targets": [bench.target(target, 0.125, False)]}, out, page
    )
    recorded = json.loads(out.read_text())
    assert recorded["train_rate"]["page / torch step rate"] == 0.125
    assert recorded["measured"]["train_rate"] == bench.machine()["date"]
    assert [t for t in recorded["targets"] if t["target"] == target] == [
        {"target": target, "value": 0.125, "pass": False}
    ]
    assert len(recorded["targets"]) == len(results["targets"])  # the others kept
    text = page.read_text()
    assert f"12% of PyTorch's step rate (measured {bench.machine()['date']})." in text
    assert "Measured by `nox -s bench`" in text and "2000-01-01" in text


def test_the_seeds_cost_says_where_the_seconds_went_and_what_training_may_cost(bench):
    log = (
        "manim-clip: 15 renders in 280.0 s (290.0 CPU-s, 2 at a time; 0 failed)\n"
        "book build: 397 models trained (800.0 s, 1600.0 CPU-s), 18 notebooks executed; "
        "1100.0 s wall, 2150.0 CPU-s on 2 cores (98% busy)\n"
    )
    ours = bench.describe(
        bench.Build(
            1100.0,
            cpu_seconds=2150.0,
            renders=(280.0, 290.0),
            training_cpu_seconds=float(bench.TRAINING_CPU.search(log)[1]),
        )
    )
    before = {"cpu_seconds": 1000.0}
    text = bench.where_the_seconds_went({"this tree": ours}, before)
    # 1.3 x 1000 = 1300 CPU-s, less the renders (290) and the rest (2150 - 1600 - 290)
    assert text == (
        " Of this tree's, training took 1600 CPU-s, the clip renders 290 and everything "
        "else 260: at the target, with the rest as it is, training would have 750 CPU-s."
    )
    older = {"this tree": {k: v for k, v in ours.items() if k != "training_cpu_seconds"}}
    assert bench.where_the_seconds_went(older, before) == ""  # a log that does not say
