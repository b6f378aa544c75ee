"""The live widgets' directives (``live-attention``, ``live-sampling``,
``training-replay``, ``predict-check``, ``live-tools``, ``live-chat``, ``live-training``):
they check their options and record a spec; the computations happen once after reading
(see __init__.py)."""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field

from docutils import nodes
from docutils.parsers.rst import directives
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective

from .. import _core

logger = logging.getLogger(__name__)

# The page's default input when :prompt: is not given: the attention chapter's example
# problem for sort, a speaker's name as the plays write it for char.
DEFAULT_PROMPTS = {"sort": "CBACAB", "char": "KING RICHARD:"}
# Tokens sampled by default: the sort model's whole answer, a few lines of char text.
DEFAULT_STEPS = {"sort": 6, "char": 80}
MAX_STEPS = 500
# The sampling widget's temperature slider goes from, to (the page hands the range to
# nanobook_sampling.js): up to where the sort model, sure of nearly every letter at 1,
# errs often. The seed is the browser generator's 32-bit state.
SAMPLING_TEMPERATURES = (0.1, 5.0)
# Its top-p slider: from keeping little more than the likeliest token to 1, which keeps
# every token (the widget then samples without top-p, as :top-p: left out does).
SAMPLING_TOP_P = (0.05, 1.0)
MAX_SEED = 2**32 - 1
# predict-check's temperature question: from where the likeliest token takes nearly all
# the probability to where every token has about the same share.
PREDICT_TEMPERATURES = (0.01, 100.0)
# Models a chapter trains (not presets), each with the one widget kind that shows it.
TOOL_MODELS = ("calculator",)
# live-chat's runs (experiments/finetune_runs.py, named as runner.slug names them) are
# exported as scripts of this prefix: "finetune-mixture".
CHAT_PREFIX = "finetune-"


def chat_script(run: str) -> str:
    """The exported script of a fine-tuning run."""
    return f"{CHAT_PREFIX}{run}"


class live_widget(nodes.General, nodes.Element):
    """A live widget: attributes uid, kind ("attention" or "sampling"), preset.

    After reading it gets its static fallback as children (see render.py)."""


@dataclass
class LiveSpec:
    """What the compute step needs for one widget (pickled with the environment)."""

    uid: str  # "<docname>#<index>"
    docname: str
    lineno: int
    kind: str  # "attention", "sampling", "replay", "predict", "tools", "chat" or "training"
    preset: str
    prompt: str
    temperature: float = 1.0
    top_k: int | None = None
    top_p: float | None = None
    seed: int = 0
    steps: int = 1
    ask: str = ""  # predict: one of ASKS
    threshold: float = 0.9  # predict, accuracy-step: the accuracy asked about
    layer: int | None = None  # predict, strongest-key: ask about this layer's heads only
    run: str = "training"  # replay: the model's training run, or "rl" (experiments/rl_runs.py)
    compare: tuple[str, ...] = ()  # chat: runs the reader can switch to, after the preset
    settings: dict = field(default_factory=dict)  # training: the author's defaults, by option
    error: str | None = None  # found while reading: the widget shows no model

    @property
    def location(self) -> tuple[str, int]:
        return (self.docname, self.lineno)

    @property
    def name(self) -> str:
        """The directive's name: its warnings' subtype."""
        names = {"replay": "training-replay", "predict": "predict-check"}
        return names.get(self.kind, f"live-{self.kind}")

    @property
    def directive(self) -> str:
        """The directive and its argument, as warnings start."""
        return f"{self.name} {self.preset}"

    def request(self) -> dict:
        """The options the computation depends on (part of its cache key)."""
        fields = {
            "attention": ["kind", "prompt"],
            "sampling": ["kind", "prompt", "temperature", "top_k", "top_p", "seed", "steps"],
            "replay": ["kind", "run"],
            "predict": ["kind", "ask", "prompt", "temperature", "threshold", "layer"],
            "tools": ["kind", "prompt"],
            "chat": ["kind", "prompt", "runs"],
            "training": ["kind", "run"],  # the static rendering: the run, whatever the options
        }[self.kind]
        return {name: getattr(self, name) for name in fields}

    @property
    def runs(self) -> tuple[str, ...]:
        """chat: the fine-tuning runs the widget shows, the first one first."""
        return (self.preset, *self.compare)

    @property
    def scripts(self) -> list[str]:
        """Every exported script the widget loads: its model's, or each run's (chat)."""
        return [chat_script(run) for run in self.runs] if self.kind == "chat" else [self.script]

    @property
    def script(self) -> str:
        """The exported script the widget loads first: the model, its training replay, the
        replay of its RL run, or a chat run's model."""
        if self.kind == "chat":
            return chat_script(self.preset)
        if self.kind == "training":
            return f"{self.preset}-{'rl-' if self.run == 'rl' else ''}training"
        if (self.kind == "replay" and self.run == "rl") or self.ask == "rl-pass-k":
            return f"{self.preset}-rl-replay"
        uses_replay = self.kind == "replay" or self.ask == "accuracy-step"
        return f"{self.preset}-replay" if uses_replay else self.preset


# The numeric options and their bounds (the one place they are checked: _core.Number):
# what the page's widget settings (JSON) hold, what the browser's controls accept, and
# what keeps the build's computation finite.
SAMPLING_NUMBERS = {
    "temperature": _core.Number(float, *SAMPLING_TEMPERATURES, "0.8"),
    "top-k": _core.Number(int, 1, _core.MAX_EXACT_INTEGER, "20"),
    "top-p": _core.Number(float, *SAMPLING_TOP_P, "0.9", "1 keeps every token"),
    "seed": _core.Number(int, 0, MAX_SEED, "7"),
    "steps": _core.Number(int, 1, MAX_STEPS, "40"),
}
REPLAY_RUNS = ("training", "rl")  # a model's training run, or the RL chapter's (rl_runs.py)
# live-training: the reader's settings, each an option setting its default (the book run's
# value when left out) and a control of the page held to these bounds. Steps: the page
# trains a few steps a second, so the longest run is minutes. Layers and width: up to
# about four times the book model's work per step.
MAX_TRAINING_STEPS = 2000
TRAINING_NUMBERS = {
    "seed": _core.Number(int, 0, MAX_SEED, "7"),
    "learning-rate": _core.Number(float, 1e-5, 1.0, "3e-3"),
    "warmup": _core.Number(int, 0, MAX_TRAINING_STEPS, "0", "0 starts at the full rate"),
    "steps": _core.Number(int, 1, MAX_TRAINING_STEPS, "200"),
    "batch-size": _core.Number(int, 1, 128, "8"),
    "weight-decay": _core.Number(float, 0.0, 1.0, "0"),
    "layers": _core.Number(int, 1, 4, "1"),
    "width": _core.Number(int, 12, 96, "24", "a multiple of the model's heads"),
}
CLIP_SWITCH = ("on", "off")
# live-training with :run: rl: the RL chapter's run again (rl_training.py). An RL step
# samples a group of answers for each prompt before it trains: fewer steps than a training
# run in the same minutes. GRPO divides by a group's spread: two answers at least.
MAX_RL_STEPS = 500
RL_NUMBERS = {
    "seed": TRAINING_NUMBERS["seed"],
    "learning-rate": TRAINING_NUMBERS["learning-rate"],
    "steps": _core.Number(int, 1, MAX_RL_STEPS, "100"),
    "group": _core.Number(int, 2, 32, "8", "the answers sampled for each prompt"),
}
RL_CHOICES = ("method", "reward")  # checked against experiments/rl_runs.py and rl.py


def clip_switch(text: str | None) -> bool:
    """:clip: on or off (whether train.fit clips the gradients' norm)."""
    value = (text or "").strip()
    if value not in CLIP_SWITCH:
        raise ValueError(" or ".join(CLIP_SWITCH))
    return value == CLIP_SWITCH[0]


PREDICT_NUMBERS = {
    "temperature": _core.Number(float, *PREDICT_TEMPERATURES, "0.2"),
    "threshold": _core.Number(float, 0.01, 1.0, "0.9"),
    "layer": _core.Number(int, 0, _core.MAX_EXACT_INTEGER, "0"),
}


def _options(*texts: str, numbers: dict | None = None) -> _core.AnyOption:
    """A widget's option_spec: :name:, :class: and ``texts`` take text, ``numbers`` a
    number within bounds; every other name is taken too, so that an unknown one is this
    widget's located error."""
    spec = dict.fromkeys(("name", "class", *texts), directives.unchanged)
    return _core.AnyOption({**spec, **(numbers or {})})


class _LiveDirective(SphinxDirective):
    required_arguments = 1
    has_content = False
    kind = ""
    option_spec = _options()

    def run(self) -> list[nodes.Node]:
        preset = self.arguments[0].strip()
        specs = self.env.live_model_specs.setdefault(self.env.docname, [])
        spec = LiveSpec(
            uid=f"{self.env.docname}#{len(specs)}",
            docname=self.env.docname,
            lineno=self.lineno,
            kind=self.kind,
            preset=preset,
            prompt=self.options.get("prompt", DEFAULT_PROMPTS.get(preset, "")),
            steps=DEFAULT_STEPS.get(preset, 40),
        )
        node = live_widget(
            uid=spec.uid,
            kind=self.kind,
            preset=preset,
            classes=["nb-live", f"nb-live-{self.kind}", *self.options.get("class", "").split()],
        )
        self.set_source_info(node)
        if not ("name" in self.options and _core.add_name(self, node, logger, self.name)):
            node["ids"].append(f"live-{self.kind}-{preset}-{len(specs)}")
        try:
            self._check(spec)
        except _core.Problem as problem:
            spec.error = str(problem)
            _core.warn(
                logger,
                f"{spec.directive}: {problem}",
                location=spec.location,
                subtype=spec.name,
                hint=problem.hint,
            )
        specs.append(spec)
        return [node]

    def _check(self, spec: LiveSpec) -> None:
        problems = _core.option_problems(self)
        if problems:  # the first: the widget is not shown whatever the others say
            raise problems[0][1]
        self._check_model(spec)
        if "prompt" in self.option_spec and not spec.prompt:
            raise _core.Problem(":prompt: is empty", "give the input the page starts with")

    def _check_model(self, spec: LiveSpec) -> None:
        """The argument names a preset, or a tool model for the widgets that show one."""
        presets = importlib.import_module(self.config.nanobook_presets).PRESETS
        if self.kind == "tools" or self.options.get("ask", "").strip() in TOOL_ASKS:
            presets = TOOL_MODELS
        if spec.preset not in presets:
            raise _core.Problem(
                f"unknown preset {spec.preset!r}",
                f"name one of the trained models: {', '.join(presets)}",
            )


class LiveAttentionDirective(_LiveDirective):
    """```{live-attention} sort``` with an optional :prompt:."""

    kind = "attention"
    option_spec = _options("prompt")


class LiveSamplingDirective(_LiveDirective):
    """```{live-sampling} char``` with :prompt:, :temperature:, :top-k:, :top-p:, :seed:,
    :steps:."""

    kind = "sampling"
    option_spec = _options("prompt", numbers=SAMPLING_NUMBERS)

    def _check(self, spec: LiveSpec) -> None:
        super()._check(spec)
        options = self.options
        spec.temperature = options.get("temperature", spec.temperature)
        spec.top_k = options.get("top-k", spec.top_k)
        top_p = options.get("top-p", spec.top_p)
        spec.top_p = None if top_p == SAMPLING_TOP_P[1] else top_p  # 1 keeps every token
        spec.seed = options.get("seed", spec.seed)
        spec.steps = options.get("steps", spec.steps)


class LiveToolsDirective(_LiveDirective):
    """```{live-tools} calculator``` with :prompt:: the model answers the reader's sum,
    its calculator calls run by the engine, with a switch that turns the tool off."""

    kind = "tools"
    option_spec = _options("prompt")


class LiveChatDirective(_LiveDirective):
    """```{live-chat} mixture``` with :prompt: (a request token and letters, ``↑CABBAC``)
    and :compare: (more runs, e.g. ``hash``): the conversation as fine-tuning renders it,
    the loss's mask, and the chosen run's greedy reply."""

    kind = "chat"
    option_spec = _options("prompt", "compare")

    def _check(self, spec: LiveSpec) -> None:
        super()._check(spec)
        spec.compare = tuple(self.options.get("compare", "").replace(",", " ").split())

    def _check_model(self, spec: LiveSpec) -> None:
        """The runs and the prompt are checked after reading, against experiments/finetune_runs.py
        and chat.py: reading a page imports no model code."""


def read_run(options: dict) -> str:
    """:run: (training-replay, live-training): one of REPLAY_RUNS, training if left out."""
    run = options.get("run", "training").strip()
    if run not in REPLAY_RUNS:
        raise _core.Problem(f":run: {run!r} is not a run", f"one of {', '.join(REPLAY_RUNS)}")
    return run


class LiveTrainingDirective(_LiveDirective):
    """```{live-training} sort``` with :seed:, :learning-rate:, :warmup:, :steps:,
    :batch-size:, :clip:, :weight-decay:, :layers:, :width:: the reader trains the model
    in the page, starting from these settings (the book run's where left out). With
    ``:run: rl``, the RL chapter's run instead, with :method:, :reward:, :group:,
    :learning-rate:, :steps:, :seed:."""

    kind = "training"
    option_spec = _options(
        "run", *RL_CHOICES, numbers={**RL_NUMBERS, **TRAINING_NUMBERS, "clip": clip_switch}
    )

    def _check(self, spec: LiveSpec) -> None:
        super()._check(spec)
        spec.run = read_run(self.options)
        names = (*RL_NUMBERS, *RL_CHOICES) if spec.run == "rl" else (*TRAINING_NUMBERS, "clip")
        other = sorted(set(self.options) - {"name", "class", "run", *names})
        if other:
            raise _core.Problem(
                f":{other[0]}: is not a setting of the {spec.run} run",
                f"its settings: {', '.join(f':{n}:' for n in names)}",
            )
        numbers = RL_NUMBERS if spec.run == "rl" else TRAINING_NUMBERS
        for name, number in numbers.items():  # the options took the widest bounds of the two
            if name in self.options and not number.low <= self.options[name] <= number.high:
                raise number.refusal(name, str(self.options[name]))
        spec.settings = {name: self.options[name] for name in names if name in self.options}
        for name in RL_CHOICES:
            if name in spec.settings:
                spec.settings[name] = spec.settings[name].strip()


class TrainingReplayDirective(_LiveDirective):
    """```{training-replay} sort```: the model's training run, step by recorded step;
    with ``:run: rl``, the RL chapter's run from the early-stopped sort model."""

    kind = "replay"
    option_spec = _options("run")

    def _check(self, spec: LiveSpec) -> None:
        super()._check(spec)
        spec.run = read_run(self.options)


ASKS = (
    "strongest-key",
    "next-token",
    "accuracy-step",
    "temperature-share",
    "tool-off",
    "rl-pass-k",
)
TOOL_ASKS = ("tool-off",)  # the questions for a tool model, and the only ones it takes


class PredictCheckDirective(_LiveDirective):
    """```{predict-check} sort``` with :ask: (one of ASKS), :prompt:, :temperature:,
    :threshold:, :layer:: a question the reader answers before the live model (or the replay)
    checks it. The question, its choices and its answer all come from the build."""

    kind = "predict"
    option_spec = _options("ask", "prompt", numbers=PREDICT_NUMBERS)

    def _check(self, spec: LiveSpec) -> None:
        super()._check(spec)
        spec.ask = self.options.get("ask", "").strip()
        if spec.ask not in ASKS:
            raise _core.Problem(
                f":ask: {spec.ask!r} is not a question kind", f"one of {', '.join(ASKS)}"
            )
        spec.temperature = self.options.get("temperature", spec.temperature)
        spec.threshold = self.options.get("threshold", spec.threshold)
        spec.layer = self.options.get("layer", spec.layer)
