"""``live-chat``: the conversation as fine-tuning renders it, the loss's mask, and the
chosen run's greedy reply (static/nanobook_chat.js). The runs are
experiments/finetune_runs.py's; what their exported models carry (the layout, the right
replies) is compute.chat_rules.

    ```{live-chat} mixture            a fine-tuning run of experiments/finetune_runs.py (its slug)
    :prompt: ↑CABBAC                  the user's turn: a request token, then letters
    :compare: hash                    more runs the reader can switch to (default: none)
    ```
"""

from __future__ import annotations

from dataclasses import dataclass

from docutils import nodes

from ... import _core
from .. import distribution
from ..directive import LiveSpec, options
from ..names import chat_script
from ..render import table, trained_problem, training_note

# The widget's label for each request of chat.TASKS, one each (tests/test_live_models.py).
REQUEST_NAMES = {"↑": "sort the letters", "#": "the most common letter"}


@dataclass
class ChatSpec(LiveSpec):
    kind = "chat"
    name = "live-chat"
    page_script = "nanobook_chat.js"
    option_spec = options("prompt", "compare")
    request_fields = ("prompt", "runs")

    compare: tuple[str, ...] = ()  # runs the reader can switch to, after the preset

    def read(self, options: dict) -> None:
        self.compare = tuple(options.get("compare", "").replace(",", " ").split())

    def models(self, presets: tuple[str, ...], options: dict) -> None:
        """The runs and the prompt are checked after reading, against
        experiments/finetune_runs.py and chat.py: reading a page imports no model code."""
        return None

    @property
    def runs(self) -> tuple[str, ...]:
        """The fine-tuning runs the widget shows, the first one first."""
        return (self.preset, *self.compare)

    def reads(self) -> str:
        """Every run's model."""
        from .. import compute

        return compute.digest(*(compute.model_key(script) for script in self.scripts))

    @property
    def script(self) -> str:
        return chat_script(self.preset)

    @property
    def scripts(self) -> list[str]:
        return [chat_script(run) for run in self.runs]

    @property
    def label(self) -> str:
        return "A conversation with the fine-tuned chat models, live"

    def problem(self) -> _core.Problem | None:
        limits = lambda: [distribution.chat_limits(run) for run in self.runs]  # noqa: E731
        return chat_problem(self.runs, self.prompt) or trained_problem(limits)

    def compute(self) -> dict:
        return chat_replies(self.runs, self.prompt)

    def fallback(self, result: dict) -> list[nodes.Node]:
        return chat_fallback(self, result)

    def page_options(self, page, result: dict) -> dict:
        """The requests' labels, and every run, the first one first."""
        runs = [
            {
                "script": script,
                "src": page.exported(script),
                "trained": distribution.chat_limits(run),
                **result["runs"][run],
            }
            for run, script in zip(self.runs, self.scripts, strict=True)
        ]
        return {**super().page_options(page, result), "requests": result["requests"], "runs": runs}


SPEC = ChatSpec


def chat_run_about(run: str) -> str:
    """What the widget says of a run after its name: "fine-tuned on # and ↑"."""
    from model_src.experiments import finetune_runs

    from ..compute import chat_runs

    spec = finetune_runs.RUNS[chat_runs()[run]]
    alone = " alone" if len(spec["mix"]) == 1 else ""
    adapters = f", through rank-{spec['rank']} LoRA adapters" if spec["rank"] else ""
    return f"fine-tuned on {' and '.join(spec['mix'])}{alone}{adapters}"


def chat_prompt_problem(prompt: str) -> str | None:
    """Why ``prompt`` is not a user's turn the chat models can answer, or None: a request
    token, then letters, as many as fit with the right reply (nanobook_chat.js says the
    same for the reader's turn)."""
    from model_src import chat

    from ..compute import conversation_fits, right_replies

    request, letters = prompt[:1], prompt[1:]
    if request not in chat.TASKS:
        return f"it must start with a request, {' or '.join(chat.TASKS)}"
    strange = sorted(set(letters) - set(chat.LETTERS))
    if strange:
        return f"letters other than {', '.join(chat.LETTERS)}: {', '.join(map(repr, strange))}"
    if not letters:
        return "no letters after the request"
    if not conversation_fits(request, letters):
        most = max(map(len, right_replies(request)))
        return f"{len(letters)} letters, but {request} with its reply fits at most {most}"
    return None


def chat_problem(runs: tuple[str, ...], prompt: str) -> _core.Problem | None:
    """Why a live-chat cannot show these runs or this prompt; None if it can."""
    from model_src import chat

    from ..compute import chat_runs

    known = chat_runs()
    unknown = [run for run in runs if run not in known]
    if unknown or len(set(runs)) < len(runs):
        said = f"unknown run(s) {', '.join(map(repr, unknown))}" if unknown else "a run named twice"
        return _core.Problem(
            said,
            f"name each once, among the runs of experiments/finetune_runs.py: {', '.join(known)}",
        )
    problem = chat_prompt_problem(prompt)
    if problem:
        return _core.Problem(
            f"the :prompt: {prompt!r} cannot be read: {problem}",
            f"a request ({' or '.join(chat.TASKS)}) then letters ({''.join(chat.LETTERS)}), "
            f"e.g. :prompt: {next(iter(chat.TASKS))}{chat.LETTERS}",
        )
    return None


def chat_reply(model, prompt: list[int]) -> tuple[list[int], list[list[float]]]:
    """The greedy reply to ``prompt`` as the widget writes it: the likeliest token (the
    first of ties, as argmax) until <end>, or until the context is full (block_size
    tokens read); with the logits of each step."""
    import torch

    from model_src import chat

    ids, logits = list(prompt), []
    while len(ids) <= model.config.block_size:
        with torch.no_grad():
            last = model(torch.tensor([ids]))[0][0, -1]
        ids.append(int(last.argmax()))
        logits.append(last.tolist())
        if ids[-1] == chat.END:
            break
    return ids[len(prompt) :], logits


def chat_replies(runs: tuple[str, ...], prompt: str) -> dict:
    """The static rendering: the user's turn with its right reply as fine-tuning renders
    it (tokens, ids, the loss's mask), and each run's greedy reply after <assistant>."""
    from model_src import chat

    from ..compute import chat_runs, trained_model

    request, letters = prompt[:1], prompt[1:]
    ids, trained = chat.render(chat.conversation(request, letters))
    asked = chat.prompt(request, letters)
    replies = {}
    for run in runs:
        reply, _ = chat_reply(trained_model(chat_script(run)).model, asked)
        replies[run] = [chat.VOCAB[i] for i in reply]
    return {
        "tokens": [chat.VOCAB[i] for i in ids],
        "ids": ids,
        "trained": trained,
        "asked": len(asked),  # the prompt's tokens: the right reply follows them
        "replies": replies,
        "runs": {run: {"name": chat_runs()[run], "about": chat_run_about(run)} for run in runs},
        "requests": [[request, REQUEST_NAMES[request]] for request in chat.TASKS],
    }


def chat_fallback(spec, result: dict) -> list[nodes.Node]:
    tokens, asked = result["tokens"], result["asked"]
    right = tokens[asked:]
    intro = nodes.paragraph(
        text=f"The user's turn “{spec.prompt}” with its right reply, as fine-tuning renders "
        "it: each token, its id, and whether the loss scores it.",
        classes=["nb-live-caption"],
    )
    columns = zip(tokens, result["ids"], result["trained"], strict=True)
    rows = [
        [str(t), token, str(i), "scored" if trained else "not scored"]
        for t, (token, i, trained) in enumerate(columns)
    ]
    replies = nodes.paragraph(
        text=f"Each model's greedy reply after {tokens[asked - 1]}, computed while the book "
        f"was built (the right reply is “{' '.join(right)}”):",
        classes=["nb-live-caption"],
    )
    answers = []
    for run, reply in result["replies"].items():
        model = f"{result['runs'][run]['name']} ({result['runs'][run]['about']})"
        answers.append([model, " ".join(reply), "yes" if reply == right else "no"])
    return [
        intro,
        table(["position", "token", "id", "the loss"], rows),
        replies,
        table(["model", "its reply", "right?"], answers),
        *(
            note
            for run in spec.runs
            for note in training_note(
                distribution.chat_limits(run), spec.prompt, f"{result['runs'][run]['name']}: "
            )
        ),
    ]
