"""``training-replay``: the model's training run, step by recorded step; with ``:run: rl``,
the RL chapter's run from the early-stopped sort model (static/nanobook_replay.js). The
records themselves are exported by compute.py (replay_artifact, rl_replay_artifact).

    ```{training-replay} sort
    :run: rl                          (default: training)
    ```
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from docutils import nodes

from ... import _core
from ..directive import LiveSpec, export_by_suffix, options, read_run
from ..render import table, unbroken_cell


@dataclass
class ReplaySpec(LiveSpec):
    kind = "replay"
    name = "training-replay"
    page_script = "nanobook_replay.js"
    option_spec = options("run")
    request_fields = ("run",)

    run: str = "training"  # the model's training run, or "rl" (experiments/rl_runs.py)

    def read(self, options: dict) -> None:
        self.run = read_run(options)

    def reads(self) -> str:
        from .. import compute

        return compute.rl_replay_key(self.preset) if self.run == "rl" else super().reads()

    @property
    def script(self) -> str:
        return f"{self.preset}-{'rl-' if self.run == 'rl' else ''}replay"

    @property
    def label(self) -> str:
        return f"{'RL' if self.run == 'rl' else 'Training'} replay of the {self.preset} model"

    def problem(self) -> _core.Problem | None:
        return rl_problem(self.preset) if self.run == "rl" else None

    def input_problem(self) -> _core.Problem | None:
        return None if self.run == "rl" else replay_problem(self)

    def compute(self) -> dict:
        return (rl_replay_summary if self.run == "rl" else replay_summary)(self.preset)

    def fallback(self, result: dict) -> list[nodes.Node]:
        return (rl_replay_fallback if self.run == "rl" else replay_fallback)(self, result)

    def page_options(self, page, result: dict) -> dict:
        return {**super().page_options(page, result), "run": self.run}

    @staticmethod
    def export(name: str, cache: Path) -> Path | None:
        from .. import compute

        makers = {"-rl-replay": compute.rl_replay_artifact, "-replay": compute.replay_artifact}
        return export_by_suffix(name, cache, makers)


SPEC = ReplaySpec


def rl_problem(preset: str) -> _core.Problem | None:
    """Why there is no RL run of ``preset`` to show; None when there is."""
    if preset != "sort":
        return _core.Problem(
            f"there is no RL run of the {preset} model", "only sort has one (rl_runs.py)"
        )
    return None


def replay_problem(spec: LiveSpec) -> _core.Problem | None:
    """Why the spec's model has no training replay; None when it has one."""
    from .. import compute

    if compute.trained_model(spec.preset).replay is None:
        return _core.Problem(
            f"the {spec.preset} model keeps no training replay",
            "only sort models record one while they train (model_src/replay.py)",
        )
    return None


NUMBER_WORDS = {1: "one", 2: "two", 3: "three", 4: "four"}  # the replay table's row counts


def first_step_reaching(snapshots: list[dict], level: float) -> int:
    """Index of the first snapshot whose held-out accuracy is at least ``level`` (or the last)."""
    return next((i for i, s in enumerate(snapshots) if s["accuracy"] >= level), len(snapshots) - 1)


def replay_summary(preset: str) -> dict:
    """The static rendering: the first and last steps and where accuracy passes 50 % and 90 %."""
    from ..compute import replay_payload

    payload = replay_payload(preset)
    snapshots, vocab, prompt_len = payload["snapshots"], payload["vocab"], payload["prompt_len"]
    picks = sorted(
        {0, len(snapshots) - 1} | {first_step_reaching(snapshots, lv) for lv in (0.5, 0.9)}
    )
    rows = []
    for i in picks:
        s = snapshots[i]
        rows.append(
            {
                "step": s["step"],
                "loss": s["loss"],
                "accuracy": s["accuracy"],
                "answer": "".join(vocab[t] for t in s["prediction"][0][prompt_len - 1 :]),
                # per layer, per head: the key each answer position attends to most
                "looks": [
                    [
                        [max(range(len(r)), key=r.__getitem__) for r in head[prompt_len - 1 :]]
                        for head in layer
                    ]
                    for layer in s["attention"][0]
                ],
            }
        )
    return {
        "prompt": "".join(vocab[t] for t in payload["probes"][0][:prompt_len]),
        "target": "".join(vocab[t] for t in payload["targets"][0][prompt_len - 1 :]),
        "rows": rows,
        "max_iters": payload["max_iters"],
        "snapshots": len(snapshots),
    }


def rl_replay_summary(preset: str) -> dict:
    """The static rendering: pass@1, pass@k and mean reward at a few steps, and the first
    recorded group with some right and some wrong answers."""
    from ..compute import rl_replay_payload

    payload = rl_replay_payload(preset)
    snapshots, vocab = payload["snapshots"], payload["vocab"]
    last = len(snapshots) - 1
    picks = sorted({0, last // 4, last // 2, last})
    word = lambda ids: "".join(vocab[i] for i in ids)  # noqa: E731
    mixed = next(
        s for s in snapshots if "rewards" in s and 0 < sum(s["rewards"]) < len(s["rewards"])
    )
    return {
        "k": payload["k"],
        "max_iters": payload["max_iters"],
        "snapshots": len(snapshots),
        "rows": [
            {
                "step": snapshots[i]["step"],
                "pass1": snapshots[i]["pass@1"],
                "passk": snapshots[i][f"pass@{payload['k']}"],
                "reward": snapshots[i].get("mean_reward"),
            }
            for i in picks
        ],
        "group": {
            "step": mixed["step"],
            "prompt": word(mixed["prompt"]),
            "answers": [
                [word(a), r, adv]
                for a, r, adv in zip(
                    mixed["answers"], mixed["rewards"], mixed["advantages"], strict=True
                )
            ],
        },
    }


def looks_cell(layer: list[list[int]]) -> nodes.paragraph:
    """A layer's heads, each the positions it attends to most from the answer's, heads
    separated by “/”: a narrow cell wraps between heads, each one's positions on a line
    with the “/” that ends it."""
    heads = [" ".join(map(str, head)) for head in layer]
    return unbroken_cell([f"{head} /" for head in heads[:-1]] + heads[-1:], " ")


def replay_fallback(spec, result: dict) -> list[nodes.Node]:
    *earlier, last = [str(row["step"]) for row in result["rows"]]
    steps = f"{', '.join(earlier)} and {last}" if earlier else last
    shown = len(result["rows"])
    intro = nodes.paragraph(
        text=f"The {spec.preset} model learning. Its training run of {result['max_iters']} "
        f"steps recorded {result['snapshots']} snapshots; the table shows "
        f"{NUMBER_WORDS.get(shown, shown)} of them, at steps {steps}. Each row gives the "
        f"training loss, the held-out accuracy, the model's answer to the held-out prompt "
        f"“{result['prompt']}” (the sorted answer is “{result['target']}”), and for each "
        "layer the position each head attends to most from each answer position (heads "
        "separated by “/”).",
        classes=["nb-live-caption"],
    )
    layers = len(result["rows"][0]["looks"])
    rows = [
        [
            str(row["step"]),
            "–" if row["loss"] is None else f"{row['loss']:.3f}",
            f"{row['accuracy']:.1%}",
            row["answer"],
            *(looks_cell(layer) for layer in row["looks"]),
        ]
        for row in result["rows"]
    ]
    header = ["step", "loss", "accuracy", "answer", *(f"layer {n}" for n in range(layers))]
    return [intro, table(header, rows)]


def rl_replay_fallback(spec, result: dict) -> list[nodes.Node]:
    k = result["k"]
    intro = nodes.paragraph(
        text=f"The {spec.preset} model's RL run, from the {result['snapshots']} snapshots its "
        f"{result['max_iters']} steps recorded: held-out pass@1 and pass@{k} (exact), and the "
        "mean reward of the step's groups.",
        classes=["nb-live-caption"],
    )
    rows = [
        [
            str(row["step"]),
            f"{row['pass1']:.1%}",
            f"{row['passk']:.1%}",
            "–" if row["reward"] is None else f"{row['reward']:.1%}",
        ]
        for row in result["rows"]
    ]
    group = result["group"]
    shown = nodes.paragraph(
        text=f"The group of step {group['step']}: the answers sampled for the prompt "
        f"“{group['prompt']}”, each with its reward and advantage.",
        classes=["nb-live-caption"],
    )
    answers = [[a, f"{r:.0f}", f"{adv:+.3f}"] for a, r, adv in group["answers"]]
    return [
        intro,
        table(["step", "pass@1", f"pass@{k}", "mean reward"], rows),
        shown,
        table(["answer", "reward", "advantage"], answers),
    ]
