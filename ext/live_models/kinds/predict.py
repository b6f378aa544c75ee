"""``predict-check``: a question the reader answers before the live model (or the replay)
checks it; the question, its choices and its answer all come from the build
(static/nanobook_predict.js; with a tool model, nanobook_tools.js's engine too).

    ```{predict-check} sort
    :ask: strongest-key               one of ASKS
    :prompt: CBACAB                   :temperature:, :threshold:, :layer: as the ask needs
    ```
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING

from docutils import nodes

from model_src import visible
from model_src.experiments.wording import number

from ... import _core
from ..directive import LiveSpec, options, prompt_problem
from ..names import TOOL_MODELS
from ..render import behind_disclosure
from . import replay, tools

if TYPE_CHECKING:
    import torch

ASKS = (
    "strongest-key",
    "next-token",
    "accuracy-step",
    "temperature-share",
    "tool-off",
    "rl-pass-k",
)
TOOL_ASKS = ("tool-off",)  # the questions for a tool model, and the only ones it takes
RECORD_ASKS = ("accuracy-step", "rl-pass-k")  # answered from a run's record, not a prompt
# The temperature question: from where the likeliest token takes nearly all the
# probability to where every token has about the same share.
TEMPERATURES = (0.01, 100.0)
NUMBERS = {
    "temperature": _core.Number(float, *TEMPERATURES, "0.2"),
    "threshold": _core.Number(float, 0.01, 1.0, "0.9"),
    "layer": _core.Number(int, 0, _core.MAX_EXACT_INTEGER, "0"),
}


@dataclass
class PredictSpec(LiveSpec):
    kind = "predict"
    name = "predict-check"
    page_script = "nanobook_predict.js"
    option_spec = options("ask", "prompt", numbers=NUMBERS)
    request_fields = ("ask", "prompt", "temperature", "threshold", "layer")

    ask: str = ""  # one of ASKS
    temperature: float = 1.0
    threshold: float = 0.9  # accuracy-step: the accuracy asked about
    layer: int | None = None  # strongest-key: ask about this layer's heads only

    def read(self, options: dict) -> None:
        self.ask = options.get("ask", "").strip()
        if self.ask not in ASKS:
            raise _core.Problem(
                f":ask: {self.ask!r} is not a question kind", f"one of {', '.join(ASKS)}"
            )
        self.temperature = options.get("temperature", self.temperature)
        self.threshold = options.get("threshold", self.threshold)
        self.layer = options.get("layer", self.layer)

    def models(self, presets: tuple[str, ...], options: dict) -> tuple[str, ...]:
        return TOOL_MODELS if options.get("ask", "").strip() in TOOL_ASKS else presets

    def reads(self) -> str:
        from .. import compute

        return compute.rl_replay_key(self.preset) if self.ask == "rl-pass-k" else super().reads()

    @property
    def script(self) -> str:
        """The model, or the record the question is answered from."""
        return {
            "rl-pass-k": f"{self.preset}-rl-replay",
            "accuracy-step": f"{self.preset}-replay",
        }.get(self.ask, self.preset)

    def page_scripts(self) -> tuple[str, ...]:
        return (self.page_script, *((tools.SCRIPT,) if self.preset in TOOL_MODELS else ()))

    @property
    def label(self) -> str:
        return f"Predict, then check with the {self.preset} model"

    def problem(self) -> _core.Problem | None:
        return replay.rl_problem(self.preset) if self.ask == "rl-pass-k" else None

    def input_problem(self) -> _core.Problem | None:
        if self.ask == "rl-pass-k":
            return None
        if self.ask == "accuracy-step":
            return replay.replay_problem(self)
        return prompt_problem(self) or self._prompt_too_short()

    def _prompt_too_short(self) -> _core.Problem | None:
        from .. import compute

        if self.ask != "strongest-key":
            return None
        if len(compute.trained_model(self.preset).encode(self.prompt)) < 2:
            return _core.Problem(
                f"the :prompt: {self.prompt!r} is one token: a strongest-key question needs a "
                "query with an earlier position to attend to",
                "give a :prompt: of at least two tokens",
            )
        return None

    def compute(self) -> dict:
        return predict(
            self.preset, self.ask, self.prompt, self.temperature, self.threshold, self.layer
        )

    def fallback(self, result: dict) -> list[nodes.Node]:
        return predict_fallback(result)

    def page_options(self, page, result: dict) -> dict:
        # the question and its choices, not the answer: the page works it out again
        question = {k: v for k, v in result.items() if k != "answer"}
        return {**super().page_options(page, result), "question": question}


SPEC = PredictSpec


def predict_fallback(result: dict) -> list[nodes.Node]:
    choices = nodes.bullet_list()
    for _, label in result["choices"]:
        choices += nodes.list_item("", nodes.paragraph(text=label))
    answer = next(label for value, label in result["choices"] if value == result["answer"])
    return [
        nodes.paragraph(text=result["text"], classes=["nb-predict-question"]),
        choices,
        # without scripts the answer waits until asked for (render.behind_disclosure)
        *behind_disclosure(
            [
                nodes.paragraph(
                    text=f"Answer, computed while the book was built: {answer}."
                    + (f" {result['why']}" if result.get("why") else ""),
                    classes=["nb-predict-answer"],
                )
            ]
        ),
    ]


CLEAR_LEAD = 0.1  # strongest-key: the answer's weight leads the runner-up's by this at least
# the check button says what the answer is checked against: the model the page runs, or,
# for these kinds, a record the build kept of a run
CHECKED_AGAINST_A_RECORD = {
    "accuracy-step": "Check against the training record",
    "rl-pass-k": "Check against the RL run's record",
}
CHECK_WITH_THE_MODEL = "Check with the model"


def predict(
    preset: str, ask: str, prompt: str, temperature: float, threshold: float, layer: int | None
) -> dict:
    """A question, its choices, the build's answer and what the button checks it with. In
    the page the widget works the answer out again with the live model (or the record)
    when the reader checks."""
    question = _question(preset, ask, prompt, temperature, threshold, layer)
    return {**question, "check": CHECKED_AGAINST_A_RECORD.get(ask, CHECK_WITH_THE_MODEL)}


def _question(
    preset: str, ask: str, prompt: str, temperature: float, threshold: float, layer: int | None
) -> dict:
    """strongest-key asks about the most decided head of `layer` (of any layer if None):
    the one whose strongest key leads the runner-up by the most."""
    import numpy as np
    import torch

    from ..compute import completed_ids, next_token_probs, trained_model

    if ask == "rl-pass-k":
        return rl_pass_k_question(preset)
    entry = trained_model(preset)
    vocab = [entry.meta["itos"][i] for i in range(entry.model.config.vocab_size)]
    if ask == "accuracy-step":
        return accuracy_step_question(preset, threshold)
    if ask == "strongest-key":
        from model_src import probe

        ids, typed = completed_ids(entry, entry.encode(prompt))
        with torch.no_grad(), probe.attention_maps(entry.model) as maps:
            entry.model(torch.tensor([ids]), targets=torch.tensor([ids]))
        weights = torch.stack(maps)[:, 0].double()  # (n_layer, nh, T, T)
        if layer is not None and layer >= len(weights):
            raise ValueError(f"the {preset} model has layers 0 to {len(weights) - 1}")
        layers = range(len(weights)) if layer is None else [layer]
        # the most decided head: where its strongest key leads the runner-up by the most, at
        # a query that predicts a letter the model wrote (from the last typed one; for char,
        # any). A near tie would make the answer a coin toss, and rounding could flip it.
        first = typed - 1 if typed < len(ids) else 1
        two = weights[layers, :, first:].topk(2, dim=-1).values  # (layers, nh, T - first, 2)
        lead = two[..., 0] - two[..., 1]
        at, head, query = (int(i) for i in np.unravel_index(int(lead.argmax()), lead.shape))
        if lead.max() < CLEAR_LEAD:
            raise ValueError(
                f"no head decides clearly on {prompt!r}: the strongest key leads the next by "
                f"{lead.max():.0%} at most, under the {CLEAR_LEAD:.0%} a fair question needs"
            )
        layer, query = layers[at], query + first
        text = entry.decode(ids)
        # whose most decided head it is: the model's, or only the one layer's asked about;
        # a head is named as the attention chapter and the attention widget name it
        among = "of the model" if len(layers) > 1 else f"in layer {layer}"
        name = f"layer {layer}, head {head}"
        return {
            "ask": ask,
            "input": text,
            "layer": layer,
            "head": head,
            "query": query,
            "text": f"Reading “{text}”, the most decided head {among} is {name}. When "
            f"position {query} (“{visible.token(text[query])}”) is the query, which "
            "position does it attend to most?",
            "choices": [[j, f"{j} “{visible.token(text[j])}”"] for j in range(query + 1)],
            "answer": int(weights[layer, head, query, : query + 1].argmax()),
        }
    if ask == "tool-off":
        return tool_off_question(preset, prompt)
    ids = entry.encode(prompt)
    with torch.no_grad():
        logits, _ = entry.model(torch.tensor([ids]))
    if ask == "temperature-share":
        return temperature_question(vocab, prompt, logits[0, -1].double(), temperature)
    probs = next_token_probs(logits[0, -1], temperature, None)
    likeliest = np.argsort(-probs, kind="stable")[:4]
    return {
        "ask": ask,
        "input": prompt,
        "temperature": temperature,
        "text": f"The {preset} model has read “{prompt}”. Which token is it most likely to "
        f"write next? (The check shows the probabilities at temperature {temperature:g}; "
        "every temperature ranks the same token first.)",
        "choices": [[vocab[i], f"“{visible.token(vocab[i])}”"] for i in sorted(likeliest)],
        "answer": vocab[int(np.argmax(probs))],
    }


def tool_off_question(preset: str, prompt: str) -> dict:
    """What a tool model writes with its tool switched off, against what it writes with
    it on and the plain sum: the choices are completions (the page's check runs the
    engine in the browser with the tool off)."""
    from model_src.engine import STOP

    runs = tools.tools(preset, prompt)
    on, off = (runs[mode]["text"][len(prompt) :] for mode in ("on", "off"))
    plain = runs["on"]["calls"][0][1] + STOP if runs["on"]["calls"] else on
    return {
        "ask": "tool-off",
        "input": prompt,
        "text": f"With its calculator, seed {tools.trained_seed(preset)}'s {preset} model "
        f"completes “{prompt}” with “{on}”. What does it write with the calculator switched "
        "off?",
        "choices": [[text, f"“{text}”"] for text in sorted({on, off, plain})],
        "answer": off,
    }


RL_BAND = 0.02  # rl-pass-k: a change of pass@k smaller than this counts as "stayed"


def rl_trend(before: float, after: float, band: float = RL_BAND) -> str:
    """ "higher", "same" or "lower": how pass@k moved (nanobook_predict.js decides alike)."""
    return "same" if abs(after - before) < band else "higher" if after > before else "lower"


def rl_pass_k_question(preset: str) -> dict:
    """What RL did to pass@k, asked with pass@1's move given; answered from the RL record."""
    from ..compute import rl_replay_payload

    payload = rl_replay_payload(preset)
    first, last, k = payload["snapshots"][0], payload["snapshots"][-1], payload["k"]
    points = f"{RL_BAND * 100:g} percentage points"
    return {
        "ask": "rl-pass-k",
        "band": RL_BAND,
        "k": k,
        "text": f"Before RL the model's held-out exact pass@1 is {first['pass@1']:.1%} and its "
        f"exact pass@{k} {first[f'pass@{k}']:.1%}. After {payload['max_iters']} steps of "
        f"REINFORCE its exact pass@1 is {last['pass@1']:.1%}. What has exact pass@{k} done?",
        "choices": [
            ["lower", "It fell"],
            ["same", f"It stayed within {points} of where it was"],
            ["higher", f"It rose by more than {points}"],
        ],
        "answer": rl_trend(first[f"pass@{k}"], last[f"pass@{k}"]),
        "why": f"pass@{k} went from {first[f'pass@{k}']:.1%} to {last[f'pass@{k}']:.1%} while "
        f"pass@1 went from {first['pass@1']:.1%} to {last['pass@1']:.1%}.",
    }


def accuracy_step_question(preset: str, threshold: float) -> dict:
    """At which of four recorded steps whole-answer accuracy first reaches `threshold`,
    given the share of single answer letters right at each: the reader reasons from the
    letters to whole answers (all must be right) instead of guessing a step."""
    from ..compute import replay_payload, trained_model

    snapshots = replay_payload(preset)["snapshots"]
    reached = replay.first_step_reaching(snapshots, threshold)
    if snapshots[reached]["accuracy"] < threshold:
        raise ValueError(f"held-out accuracy never reaches {threshold:.0%} in the replay")
    last = len(snapshots) - 1  # the answer among three other recorded steps, around it
    picks = [snapshots[i] for i in sorted({max(0, min(last, reached + d)) for d in (-6, -2, 0, 3)})]
    entry = trained_model(preset)
    letters = len(replay_payload(preset)["targets"][0]) - (entry.meta["prompt_len"] - 1)
    shares = ", ".join(f"step {s['step']}: {s['letters']:.1%}" for s in picks)
    return {
        "ask": "accuracy-step",
        "threshold": threshold,
        "text": f"A held-out problem counts only when all {letters} letters of its answer are "
        f"right. The share of answer letters the model got right, in the replay: {shares}. "
        f"At which of these steps does the share of whole answers first reach {threshold:.0%}?",
        "choices": [[s["step"], f"step {s['step']}"] for s in picks],
        "answer": snapshots[reached]["step"],
        "why": accuracy_why(threshold, letters, snapshots[reached]),
    }


def accuracy_why(threshold: float, letters: int, reached: dict) -> str:
    """Why whole answers reach `threshold` where they do: letters' mistakes, if independent,
    leave threshold^(1/letters) of the letters to be right, and the replay shows how near
    independent they are."""
    step, right, whole = reached["step"], reached["letters"], reached["accuracy"]
    return (
        f"All {letters} letters must be right, so if the letters' mistakes are independent "
        f"{threshold:.0%} of whole answers needs {threshold ** (1 / letters):.1%} of the letters "
        f"right ({threshold:g}^(1/{letters})). At step {step} the letters were {right:.1%} right "
        f"and whole answers {whole:.1%}; independent mistakes would give {right**letters:.1%}."
    )


def temperature_question(vocab: list[str], prompt: str, logits: torch.Tensor, tau: float) -> dict:
    """How much of the probability the likeliest next token gets at temperature ``tau``,
    against its share at 1, at sqrt(tau) and at 1/tau: each choice is a share, as a
    percentage (the page's check finds the one nearest its own). The reader has the two
    leaders' shares at 1, so their odds, which the temperature raises to the 1/tau."""
    import torch
    import torch.nn.functional as F

    probs = {t: F.softmax(logits / t, dim=-1) for t in (1.0, tau, math.sqrt(tau), 1 / tau)}
    shares = {t: float(p.max()) for t, p in probs.items()}
    best, runner_up = (int(i) for i in torch.topk(logits, 2).indices)
    options = sorted({f"{v:.1%}" for v in shares.values()}, key=lambda v: float(v[:-1]))
    token, second = visible.token(vocab[best]), visible.token(vocab[runner_up])
    return {
        "ask": "temperature-share",
        "input": prompt,
        "temperature": tau,
        "text": f"After “{prompt}”, the model's likeliest next token is “{token}” with "
        f"{share_text(shares[1.0])} of the probability at temperature 1, and the runner-up "
        f"“{second}” has {share_text(float(probs[1.0][runner_up]))}. What share does "
        f"“{token}” get at temperature {tau:g}?",
        "choices": [[value, value] for value in options],
        "answer": f"{shares[tau]:.1%}",
        "why": temperature_why(tau, token, second, float(logits[best] - logits[runner_up])),
    }


def share_text(p: float) -> str:
    """A share to three significant figures, trailing zeros kept ("83.0%" beside "12.9%"):
    the reader works the odds out from two of them, and one decimal of a 5 % share is
    already 1 % off."""
    return f"{number(p * 100, '#.3g')}%"


def temperature_why(tau: float, token: str, runner_up: str, gap: float) -> str:
    """The temperature verdict's reason (nanobook_predict.js says it the same way)."""
    return (
        f"Dividing the logits by {tau:g} multiplies every gap between them by {1 / tau:g}: "
        f"“{token}” leads the runner-up “{runner_up}” by {gap:.2f}, so its odds over it go "
        f"from {exp_text(gap)} to {exp_text(gap / tau)}."
    )


def exp_text(x: float) -> str:
    """e**x to three significant figures, trailing zeros kept, as
    ``number(math.exp(x), "#.3g")`` writes it ("15.0" beside "3.87"), for any x: at the
    lowest temperature (0.01) a logit gap of 7.1 already makes odds beyond a float's range,
    so those are written from x's decimal logarithm (nanobook_predict.js alike)."""
    if x < math.log(sys.float_info.max):
        return number(math.exp(x), "#.3g")
    decimals = x / math.log(10)
    exponent = math.floor(decimals)
    mantissa = number(10 ** (decimals - exponent), "#.3g")
    if mantissa == "10.0":  # 9.996 rounds up
        mantissa, exponent = "1.00", exponent + 1
    return f"{mantissa}e+{exponent}"
