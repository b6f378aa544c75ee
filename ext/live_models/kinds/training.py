"""``live-training``: the reader trains the model in the page, in a Web Worker
(static/nanobook_training.js; its trainer nanobook_train.js and the run's view
nanobook_training_run.js load when the reader trains).
What the page is handed is training_widget.py's; with ``:run: rl``, rl_training.py's (and
nanobook_training_rl.js joins the page).

    ```{live-training} sort           each option sets a control's default (the book run's
    :steps: 600                       value if left out): :seed:, :learning-rate:, :warmup:,
    :clip: off                        :steps:, :batch-size:, :clip:, :weight-decay:,
    ```                               :layers:, :width:
    ```{live-training} sort           with :run: rl, the RL chapter's run (rl_runs.py):
    :run: rl                          :method:, :reward:, :group:, :learning-rate:,
    ```                               :steps:, :seed:
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from docutils import nodes

from ... import _core
from ..directive import LiveSpec, export_by_suffix, options, read_run
from ..render import table
from ..training_bounds import RL_NUMBERS, TRAINING_NUMBERS

CLIP_SWITCH = ("on", "off")
RL_CHOICES = ("method", "reward")  # checked against experiments/rl_runs.py and rl.py
RL_SCRIPT = "nanobook_training_rl.js"  # RL in the page, on the training widget's parts
# Loaded with the trainer on the first Train, as the trainer is: a run's chart, log, phases
TRAINER_SCRIPTS = {"trainer": "nanobook_train.js", "view": "nanobook_training_run.js"}


def clip_switch(text: str | None) -> bool:
    """:clip: on or off (whether train.fit clips the gradients' norm)."""
    value = (text or "").strip()
    if value not in CLIP_SWITCH:
        raise ValueError(" or ".join(CLIP_SWITCH))
    return value == CLIP_SWITCH[0]


@dataclass
class TrainingSpec(LiveSpec):
    kind = "training"
    name = "live-training"
    page_script = "nanobook_training.js"
    option_spec = options(
        "run", *RL_CHOICES, numbers={**RL_NUMBERS, **TRAINING_NUMBERS, "clip": clip_switch}
    )
    request_fields = ("run",)  # the static rendering: the run, whatever the options

    run: str = "training"  # the model's training run, or "rl" (experiments/rl_runs.py)
    settings: dict = field(default_factory=dict)  # the author's defaults, by option

    def read(self, options: dict) -> None:
        self.run = read_run(options)
        names = (*RL_NUMBERS, *RL_CHOICES) if self.run == "rl" else (*TRAINING_NUMBERS, "clip")
        other = sorted(set(options) - {"name", "class", "run", *names})
        if other:
            raise _core.Problem(
                f":{other[0]}: is not a setting of the {self.run} run",
                f"its settings: {', '.join(f':{n}:' for n in names)}",
            )
        numbers = RL_NUMBERS if self.run == "rl" else TRAINING_NUMBERS
        for name, number in numbers.items():  # the options took the widest bounds of the two
            if name in options and not number.low <= options[name] <= number.high:
                raise number.refusal(name, str(options[name]))
        self.settings = {name: options[name] for name in names if name in options}
        for name in RL_CHOICES:
            if name in self.settings:
                self.settings[name] = self.settings[name].strip()

    @property
    def widget(self):
        """The module that makes what the page is handed: rl_training or training_widget."""
        from .. import rl_training, training_widget

        return rl_training if self.run == "rl" else training_widget

    @property
    def producer(self) -> str:
        return self.widget.__file__

    def reads(self) -> str:
        from .. import compute

        return compute.rl_replay_key(self.preset) if self.run == "rl" else super().reads()

    @property
    def script(self) -> str:
        return f"{self.preset}-{'rl-' if self.run == 'rl' else ''}training"

    def page_scripts(self) -> tuple[str, ...]:
        return (self.page_script, *((RL_SCRIPT,) if self.run == "rl" else ()))

    @property
    def label(self) -> str:
        rl = " by reinforcement learning" if self.run == "rl" else ""
        return f"Train the {self.preset} model in your browser{rl}"

    def problem(self) -> _core.Problem | None:
        return self.widget.problem(self.preset, self.settings)

    def compute(self) -> dict:
        return self.widget.summary(self.preset)

    def shown(self, result: dict) -> dict:
        """With the lines of each phase of the step, found in the code as it is now (never
        cached: a line moves without changing what trains)."""
        if self.run == "rl":
            return result
        return {**result, "phases": self.widget.phase_lines()}

    def fallback(self, result: dict) -> list[nodes.Node]:
        if self.run == "rl":
            return rl_training_fallback(self, result)
        return training_fallback(self, result)

    def page_options(self, page, result: dict) -> dict:
        """Its controls, the start the build exported, the phases' lines, the addresses of
        the trainer and of the run's view; with :run: rl, the RL controls (kind
        ``rl-training``)."""
        loaded = {key: page.static(name) for key, name in TRAINER_SCRIPTS.items()}
        if self.run == "rl":
            return {
                "kind": "rl-training",
                "preset": self.preset,
                "controls": self.widget.page_controls(self.settings, result),
                "about": {**result["about"], "k": result["k"]},
                **loaded,
            }
        return {
            "kind": self.kind,
            "preset": self.preset,
            "controls": self.widget.page_controls(self.settings, result),
            "start": self.widget.page_start(result),
            "phases": result["phases"],
            **loaded,
        }

    @staticmethod
    def export(name: str, cache: Path) -> Path | None:
        """A run to train again: ``sort-training`` (training_widget.py) or
        ``sort-rl-training`` (rl_training.py)."""
        from .. import rl_training, training_widget

        makers = {"-rl-training": rl_training.artifact, "-training": training_widget.artifact}
        return export_by_suffix(name, cache, makers)


SPEC = TrainingSpec


def rl_training_fallback(spec, result: dict) -> list[nodes.Node]:
    """The settings the page would start from (its controls' values) and where the book's
    run ended: its record step by step is the RL replay's (one table of it a page is
    enough)."""
    from ..rl_training import page_controls

    last, k = result["rows"][-1], result["k"]
    intro = nodes.paragraph(
        text=f"Training the {spec.preset} model by RL in the page needs JavaScript. It would "
        "start from the settings below.",
        classes=["nb-live-caption"],
    )
    ended = nodes.paragraph(
        text=f"The book's run ended after {last['step']} steps at held-out pass@1 "
        f"{last['pass1']:.1%} and pass@{k} {last['passk']:.1%} (exact).",
        classes=["nb-live-caption"],
    )
    rows = []
    for control in page_controls(spec.settings, result):
        value = control["value"]
        named = dict(control.get("choices", ()))  # a choice is said by its label
        said = f"{value:g}" if control["kind"] == "float" else str(value)
        rows.append([control["label"], named.get(value, said)])
    return [without_javascript(intro, table(["setting", "start"], rows)), ended]


def without_javascript(*parts: nodes.Node) -> nodes.container:
    """What only a reader without JavaScript needs: the page's script hides it (the
    widget's own controls are there)."""
    return nodes.container("", *parts, classes=["nb-live-nojs"])


def training_fallback(spec, result: dict) -> list[nodes.Node]:
    """The book's own run, as its log recorded it: the page's run starts from it."""
    book = result["book"]
    first = [row for row in result["rows"] if row[2] is None]
    notice = nodes.paragraph(
        text=f"Training the {spec.preset} model in the page needs JavaScript: with it, you "
        "would choose the settings, train, and watch its loss step by step. Below is "
        "the book's own run.",
        classes=["nb-live-caption"],
    )
    intro = nodes.paragraph(
        text=f"The book's run of the {spec.preset} model (seed {book['seed']}, "
        f"{book['steps']} steps, learning rate {book['learning-rate']:g}, warmup "
        f"{book['warmup']} steps, batch size {book['batch-size']}): the training loss it "
        f"logged at its first {len(first)} logged steps (every {result['log_interval']}), "
        f"then at every evaluation (every {result['eval_interval']} steps) with the "
        "held-out loss.",
        classes=["nb-live-caption"],
    )
    rows = [
        [str(step), f"{loss:.4f}", "–" if held_out is None else f"{held_out:.4f}"]
        for step, loss, held_out in result["rows"]
    ]
    return [
        without_javascript(notice),
        intro,
        table(["step", "training loss", "held-out loss"], rows),
    ]
