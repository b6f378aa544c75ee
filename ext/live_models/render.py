"""How each builder shows a live widget.

Every builder gets the static rendering made at build time from the widget's default
input: a sentence and a table (attention: each position's prediction and where each
head looks most; sampling: each step's likeliest tokens and the one drawn; chat: the
conversation's tokens with the loss's mask, and each run's reply). HTML wraps
it in the widget's element, which its kind's script (nanobook_<kind>.js) replaces with
the live version once the model's script is in (EPUB keeps the static one: no scripts
there). The model's script is copied into ``_live/`` as the page is written.
"""

from __future__ import annotations

import json
import posixpath
from pathlib import Path

from docutils import nodes

from model_src import visible

from .. import _core
from . import distribution
from .directive import SAMPLING_TEMPERATURES, SAMPLING_TOP_P, live_widget

LIVE_DIR = "_live"
# The widgets whose input the reader types, beside chat (whose runs each carry their own):
# the page says when that input is outside what the model was trained on.
FREE_INPUT = ("attention", "sampling", "tools")
SAMPLING_ROWS = 12  # steps listed in the static table; the sentence has the whole text


def _table(header: list[str], rows: list[list[str]]) -> nodes.table:
    table = nodes.table(classes=["nb-live-table"])
    group = nodes.tgroup(cols=len(header))
    table += group
    # widths in characters, as the text builder reads them: every cell fits unwrapped
    # (a column narrower than one wide character would never finish wrapping)
    for column in zip(header, *rows, strict=True):
        group += nodes.colspec(colwidth=max(len(cell) for cell in column) + 2)
    head, body = nodes.thead(), nodes.tbody()
    for cells, parent in [(header, head), *((row, body) for row in rows)]:
        row_node = nodes.row()
        for cell in cells:
            row_node += nodes.entry("", nodes.paragraph(text=cell))
        parent += row_node
    group += head
    group += body
    return table


def training_note(limits: dict | None, text: str, who: str = "") -> list[nodes.Node]:
    """The page's line under the reply, when the input is outside the training data: for
    readers without JavaScript and for builders without HTML too."""
    said = distribution.note(limits, text)
    return [nodes.paragraph(text=who + said, classes=["nb-live-caption"])] if said else []


def attention_fallback(spec, result: dict) -> list[nodes.Node]:
    tokens, typed = result["tokens"], result["typed"]
    heads = len(result["attention"][0])
    answer = "".join(tokens[typed:])
    read = f"“{spec.prompt}”" + (
        f" with the model's own answer “{answer}” appended" if answer else ""
    )
    intro = nodes.paragraph(
        text=f"The {spec.preset} model reads {read}. For each position: the token there, the "
        f"token the model predicts next (with its probability), and for each layer the "
        f"position that each of its {heads} heads attends to most (heads 0 to {heads - 1}).",
        classes=["nb-live-caption"],
    )
    # a sort row is scored from its last prompt letter on: earlier "predictions" mean nothing
    first_scored = result.get("first_scored", 0)
    rows = []
    for t, token in enumerate(tokens):
        looks = [
            " ".join(str(max(range(t + 1), key=lambda j, h=h: h[t][j])) for h in layer)
            for layer in result["attention"]
        ]
        prediction = (
            f"{visible.token(result['predicted'][t])} ({result['probability'][t]:.2f})"
            if t >= first_scored
            else "(not scored)"
        )
        rows.append([str(t), visible.token(token), prediction, *looks])
    layers = [f"layer {n}" for n in range(len(result["attention"]))]
    header = ["position", "token", "predicts", *layers]
    note = training_note(distribution.limits(spec.preset), spec.prompt)
    return [intro, *note, _table(header, rows)]


def sampling_fallback(spec, result: dict) -> list[nodes.Node]:
    top_k = "no top-k" if spec.top_k is None else f"top-k {spec.top_k}"
    top_p = "" if spec.top_p is None else f", top-p {spec.top_p:g}"
    drawn = visible.line("".join(step["drawn"] for step in result["steps"]))
    intro = nodes.paragraph(
        "",
        f"The {spec.preset} model continues “{spec.prompt}” at temperature "
        f"{spec.temperature:g}, {top_k}{top_p}, seed {spec.seed}: ",
        nodes.literal(text=drawn),
        nodes.Text(
            f". The first {min(SAMPLING_ROWS, len(result['steps']))} steps, each with its "
            "likeliest next tokens and the token drawn:"
        ),
        classes=["nb-live-caption"],
    )
    rows = [
        [
            str(n + 1),
            "  ".join(f"{visible.token(tok)} {p:.2f}" for tok, p in step["candidates"]),
            visible.token(step["drawn"]),
        ]
        for n, step in enumerate(result["steps"][:SAMPLING_ROWS])
    ]
    note = training_note(distribution.limits(spec.preset), spec.prompt)
    return [intro, *note, _table(["step", "likeliest next tokens", "drawn"], rows)]


def replay_fallback(spec, result: dict) -> list[nodes.Node]:
    steps = ", ".join(str(row["step"]) for row in result["rows"])
    intro = nodes.paragraph(
        text=f"The {spec.preset} model learning, from the {result['snapshots']} snapshots its "
        f"training run of {result['max_iters']} steps recorded, at steps {steps}: the training "
        f"loss, the held-out accuracy, its answer to the held-out prompt “{result['prompt']}” "
        f"(the sorted answer is “{result['target']}”), and for each layer the position each "
        "head attends to most from each answer position (heads separated by “/”).",
        classes=["nb-live-caption"],
    )
    layers = len(result["rows"][0]["looks"])
    rows = [
        [
            str(row["step"]),
            "–" if row["loss"] is None else f"{row['loss']:.3f}",
            f"{row['accuracy']:.1%}",
            row["answer"],
            *(" / ".join(" ".join(map(str, head)) for head in layer) for layer in row["looks"]),
        ]
        for row in result["rows"]
    ]
    header = ["step", "loss", "accuracy", "answer", *(f"layer {n}" for n in range(layers))]
    return [intro, _table(header, rows)]


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
        _table(["step", "pass@1", f"pass@{k}", "mean reward"], rows),
        shown,
        _table(["answer", "reward", "advantage"], answers),
    ]


def predict_fallback(spec, result: dict) -> list[nodes.Node]:
    choices = nodes.bullet_list()
    for _, label in result["choices"]:
        choices += nodes.list_item("", nodes.paragraph(text=label))
    answer = next(label for value, label in result["choices"] if value == result["answer"])
    return [
        nodes.paragraph(text=result["text"], classes=["nb-predict-question"]),
        choices,
        nodes.paragraph(
            text=f"Answer, computed while the book was built: {answer}."
            + (f" {result['why']}" if result.get("why") else ""),
            classes=["nb-predict-answer"],
        ),
    ]


def tools_fallback(spec, result: dict) -> list[nodes.Node]:
    intro = nodes.paragraph(
        text=f"The {spec.preset} model completes “{spec.prompt}”, greedily, with its "
        "calculator on and off. Forced: the tokens the engine wrote (the tool's answer).",
        classes=["nb-live-caption"],
    )
    rows = []
    for mode in ("on", "off"):
        run = result[mode]
        answer = run["text"][len(spec.prompt) :]
        forced = "".join(ch for ch, f in zip(run["text"], run["forced"], strict=True) if f)
        calls = "; ".join(f"{e} → {r}" + (f" ({why})" if why else "") for e, r, why in run["calls"])
        rows.append([f"tool {mode}", answer, forced or "none", calls or "none"])
    header = ["calculator", "the model's completion", "forced", "calls"]
    return [
        intro,
        *training_note(distribution.limits(spec.preset), spec.prompt),
        _table(header, rows),
    ]


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
        _table(["position", "token", "id", "the loss"], rows),
        replies,
        _table(["model", "its reply", "right?"], answers),
        *(
            note
            for run in spec.runs
            for note in training_note(
                distribution.chat_limits(run), spec.prompt, f"{result['runs'][run]['name']}: "
            )
        ),
    ]


def training_fallback(spec, result: dict) -> list[nodes.Node]:
    """The book's own run, as its log recorded it: the page's run starts from it."""
    book = result["book"]
    first = [row for row in result["rows"] if row[2] is None]
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
    return [intro, _table(["step", "training loss", "held-out loss"], rows)]


def failed_fallback(spec, error: str) -> list[nodes.Node]:
    return [
        nodes.paragraph(
            text=f"[live {spec.kind} of the {spec.preset} model: not available ({error}); "
            "the build log has the warning]",
            classes=["nb-live-caption"],
        )
    ]


def fallback(env, node: live_widget) -> list[nodes.Node]:
    spec = env.live_model_spec_by_uid[node["uid"]]
    outcome = env.live_model_results.get(node["uid"], {"error": spec.error or "not computed"})
    if "error" in outcome:
        return failed_fallback(spec, outcome["error"])
    make = {
        "attention": attention_fallback,
        "sampling": sampling_fallback,
        "replay": rl_replay_fallback if spec.run == "rl" else replay_fallback,
        "predict": predict_fallback,
        "tools": tools_fallback,
        "chat": chat_fallback,
        "training": rl_replay_fallback if spec.run == "rl" else training_fallback,
    }[spec.kind]
    return make(spec, outcome)


def add_fallbacks(app, doctree: nodes.document, docname: str) -> None:
    """The static rendering: inside the widget for HTML, in its place elsewhere."""
    for node in list(doctree.findall(live_widget)):
        static = fallback(app.env, node)
        if app.builder.format == "html":
            node.extend(static)
        else:
            container = nodes.container("", *static, ids=node["ids"], classes=["nb-live-static"])
            node.replace_self(container)


# --- HTML -------------------------------------------------------------------------------


def _script_url(self, script: str) -> str | None:
    """Copy the exported script into _live/ and give its URL from this page (not for EPUB)."""
    source = getattr(self.builder.env, "live_model_artifacts", {}).get(script)
    if source is None or self.builder.name.startswith("epub"):
        return None
    target = Path(self.builder.outdir, LIVE_DIR, Path(source).name)
    _core.atomic_copy(Path(source), target)
    # imgpath is "<relative way up>/_images" for the page being written
    return posixpath.join(posixpath.dirname(self.builder.imgpath), LIVE_DIR, target.name)


def visit_html(self, node: live_widget) -> None:
    env = self.builder.env
    spec = env.live_model_spec_by_uid[node["uid"]]
    ok = "error" not in env.live_model_results.get(node["uid"], {"error": True})
    url = _script_url(self, spec.script) if ok else None
    attributes = {"data-nanobook-model": spec.script}
    if url:
        attributes["data-nanobook-src"] = url
        options = {
            "kind": spec.kind,
            "prompt": spec.prompt,
            "temperature": spec.temperature,
            "topK": spec.top_k,
            "topP": spec.top_p,
            "seed": spec.seed,
            "steps": spec.steps,
            "run": spec.run,
        }
        if spec.kind in FREE_INPUT:  # what the model was trained on, for the hint and the check
            options["trained"] = distribution.limits(spec.preset)  # None: no check
        if spec.kind == "sampling":  # the controls' ranges: the directive's bounds
            options["ranges"] = {
                "temperature": list(SAMPLING_TEMPERATURES),
                "topP": list(SAMPLING_TOP_P),
            }
        if spec.kind == "chat":  # the requests' labels, and every run, the first one first
            result = env.live_model_results[node["uid"]]
            options["requests"] = result["requests"]
            options["runs"] = [
                {
                    "script": script,
                    "src": _script_url(self, script),
                    "trained": distribution.chat_limits(run),
                    **result["runs"][run],
                }
                for run, script in zip(spec.runs, spec.scripts, strict=True)
            ]
        if spec.kind == "predict":  # the question and its choices, not the answer
            question = env.live_model_results[node["uid"]]
            # the page works the answer out again when the reader checks
            options["question"] = {k: v for k, v in question.items() if k != "answer"}
        if spec.kind == "training":  # none of the options above: its own controls
            result = env.live_model_results[node["uid"]]
            options = _training_options(self, spec, result)
        attributes["data-live"] = json.dumps(options, allow_nan=False)  # the directive's bounds
    attributes["aria-label"] = {
        "replay": f"{'RL' if spec.run == 'rl' else 'Training'} replay of the {spec.preset} model",
        "predict": f"Predict, then check with the {spec.preset} model",
        "tools": f"The {spec.preset} model with its calculator, live",
        "chat": "A conversation with the fine-tuned chat models, live",
        "training": f"Train the {spec.preset} model in your browser"
        + (" by reinforcement learning" if spec.run == "rl" else ""),
    }.get(spec.kind, f"Live {spec.kind} of the {spec.preset} model")
    self.body.append(self.starttag(node, "section", "", **attributes))
    self.body.append('<div class="nb-live-static">')


def _training_options(self, spec, result: dict) -> dict:
    """What the training widget's page needs before the reader presses Train: its
    controls, the start the build exported, the phases' lines, the trainer's address;
    with :run: rl, the RL controls (kind ``rl-training``, nanobook_training_rl.js)."""
    from . import rl_training, training_widget

    static = posixpath.join(posixpath.dirname(self.builder.imgpath), "_static")
    trainer = posixpath.join(static, "nanobook_train.js")
    if spec.run == "rl":
        controls = rl_training.page_controls(spec.settings, result)
        return {
            "kind": "rl-training",
            "preset": spec.preset,
            "controls": controls,
            "about": {**result["about"], "k": result["k"]},
            "trainer": trainer,
        }
    return {
        "kind": spec.kind,
        "preset": spec.preset,
        "controls": training_widget.page_controls(spec.settings, result),
        "start": training_widget.page_start(result),
        "phases": result["phases"],
        "trainer": trainer,
    }


def depart_html(self, node: live_widget) -> None:
    self.body.append("</div></section>\n")


def skip(self, node: live_widget) -> None:
    """Other builders never see the node (add_fallbacks replaced it)."""
    raise nodes.SkipNode
