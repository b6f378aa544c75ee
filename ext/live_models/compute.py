"""What the live widgets need from PyTorch, computed while the book builds.

Two things come out of a trained model (``model_src.trained.get(preset)``):

* the web artifact: a classic script ``<preset>-<key>.js`` that hands the config, the
  vocabulary and the float32 weights to ``nanobook._register`` (a script tag, not a
  fetch, so the book also works opened from ``file://``, where Chromium refuses to
  fetch local files). The weights are stored bit for bit: the four bytes of every
  float are split into four planes (the exponent bytes compress, the mantissa bytes
  do not), raw-deflated, and base64'd; the browser inflates them with its own
  ``DecompressionStream("deflate-raw")``.
* the static fallbacks: the same computations the widgets run, on the page's default
  input, for readers without JavaScript and for builders without HTML.

Sampling uses the runtime's own generator (mulberry32, seeded) and the same
inverse-CDF draw, so the fallback shows the tokens a reader's browser draws for that
seed too. Everything is an entry of the artifact store (buildlib/store.py) under the cache's
``live/``, keyed on the trained model's weights digest, this file's code and the request.
"""

from __future__ import annotations

import base64
import itertools
import json
import math
import sys
import zlib
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import torch
import torch.nn.functional as F
from sphinx.util import logging

from buildlib.keys import digest
from buildlib.store import Store, write_meta
from model_src import visible

from .._core import producer_code
from .directive import CHAT_PREFIX, TOOL_MODELS, chat_script

TOP_TOKENS = 5  # bars per step in the sampling fallback
logger = logging.getLogger(__name__)


def trained_model(preset: str):
    from model_src import trained  # the book's models; imported only when needed

    if preset.startswith(CHAT_PREFIX):
        return chat_model(preset.removeprefix(CHAT_PREFIX))
    return tool_model(preset) if preset in TOOL_MODELS else trained.get(preset)


def tool_model(name: str) -> SimpleNamespace:
    """The Tools chapter's calculator model (model_src/arithmetic.py), shaped like a
    trained preset: its tokenizer as meta."""
    from model_src import arithmetic

    model = arithmetic.get(name)["model"]
    tokens = arithmetic.TOKENIZER
    meta = {
        "vocab_size": len(tokens.vocab),
        "itos": dict(enumerate(tokens.vocab)),
        "stoi": tokens.stoi,
        "task": "addition",
    }
    return SimpleNamespace(model=model, meta=meta, encode=tokens.encode, decode=tokens.decode)


def tool_rules() -> dict:
    """The call syntax and the calculator's rules (model_src/engine.py), for the browser."""
    from model_src import engine

    return {
        "open": engine.CALL_OPEN,
        "close": engine.CALL_CLOSE,
        "stop": engine.STOP,
        "error": engine.ERROR,
        "signs": engine.SIGNS,
        "maxDigits": engine.MAX_DIGITS,
        "maxResult": engine.MAX_RESULT,
    }


def model_key(preset: str) -> str:
    """The trained weights plus this exporter's code and all it imports (model_src/visible.py
    shapes its texts): what every result here depends on."""
    return digest(preset, model_weights(preset), *producer_code(__file__))


def model_weights(preset: str) -> str:
    """The digest of the weights the exports of ``preset`` come from, as the model's store
    entry recorded it: no model is loaded."""
    from model_src import arithmetic, finetune, trained

    if preset.startswith(CHAT_PREFIX):
        name = chat_runs()[preset.removeprefix(CHAT_PREFIX)]
        return finetune.STORED.weights(name, finetune.SEEDS[0])
    if preset in TOOL_MODELS:
        return arithmetic.STORED.weights(preset, arithmetic.SEEDS[0])
    return trained.weights(preset)


def stored_file(cache_dir: Path, key: str, name: str, make, read=lambda path: path):
    """``read`` (default: the path) of the store entry ``key``'s file ``name``, written
    by ``make()`` (text) if missing; an entry ``read`` cannot read is made again."""

    def write(tmp: Path) -> None:
        (tmp / name).write_text(make(), encoding="utf-8")
        write_meta(tmp, {"files": {"result": name}})

    store = Store(cache_dir, log=logger.info)
    return store.get_or_make(key, write, parse=lambda entry, meta: read(entry / name))


# --- the web artifact ----------------------------------------------------------------------


def weight_tensors(model) -> list[tuple[str, torch.Tensor]]:
    """The learned tensors in state-dict order: the causal masks are constants, and
    lm_head.weight is wte.weight (tied), so both are left out."""
    return [
        (name, tensor)
        for name, tensor in model.state_dict().items()
        if not name.endswith(".attn.bias") and name != "lm_head.weight"
    ]


def pack_weights(tensors: list[torch.Tensor]) -> bytes:
    """float32 little-endian, byte-shuffled into 4 planes, raw deflate (no zlib header)."""
    flat = np.concatenate([t.detach().cpu().numpy().ravel() for t in tensors]).astype("<f4")
    planes = flat.view(np.uint8).reshape(-1, 4).T.tobytes()  # all byte 0s, all byte 1s, ...
    deflate = zlib.compressobj(9, zlib.DEFLATED, -15, 9)
    return deflate.compress(planes) + deflate.flush()


def artifact_text(preset: str) -> str:
    entry = trained_model(preset)
    tensors = weight_tensors(entry.model)
    config = entry.model.config
    payload = {
        "name": preset,
        "config": {
            "block_size": config.block_size,
            "vocab_size": config.vocab_size,
            "n_layer": config.n_layer,
            "n_head": config.n_head,
            "n_embd": config.n_embd,
            "bias": config.bias,
        },
        "vocab": [entry.meta["itos"][i] for i in range(config.vocab_size)],
        # each token as the book prints it (visible.py), for the script to print it so too
        "shown": [visible.token(entry.meta["itos"][i]) for i in range(config.vocab_size)],
        "task": {k: v for k, v in entry.meta.items() if k in ("task", "prompt_len", "seq_len")},
        **({"tool": tool_rules()} if preset in TOOL_MODELS else {}),
        **({"chat": chat_rules()} if preset.startswith(CHAT_PREFIX) else {}),
        "layout": [[name, list(tensor.shape)] for name, tensor in tensors],
        "weights": base64.b64encode(pack_weights([t for _, t in tensors])).decode("ascii"),
    }
    body = json.dumps(payload, ensure_ascii=True, separators=(",", ":"))
    header = f"/* The {preset} model of The Animated nanoGPT, for nanobook_live.js */"
    return f"{header}\nnanobook._register({body});\n"


def artifact(preset: str, cache_dir: Path) -> Path:
    """The cached artifact for ``preset``, exported first if it is not there yet; its
    name ``<preset>-<key>.js`` changes whenever its content can."""
    key = model_key(preset)
    return stored_file(
        cache_dir, f"{preset}-{key}", f"{preset}-{key}.js", lambda: artifact_text(preset)
    )


# --- the computations the widgets run, on the default input --------------------------------


RESULT = "result.json"  # a computation's entry: its JSON


def read_json(path: Path):
    return json.loads(path.read_text(encoding="utf-8"))


def cached_result(cache_dir: Path, preset: str, request: dict, compute) -> dict:
    """``compute()`` once per (model, request, this file); a JSON file in the cache."""
    return stored_file(
        cache_dir,
        result_entry(preset, request),
        RESULT,
        lambda: json.dumps(compute(), allow_nan=False),
        read=read_json,
    )


def stored_result(cache_dir: Path, preset: str, request: dict) -> dict | None:
    """The result ``cached_result`` stored for the request, or None (nothing computed)."""
    store = Store(cache_dir, log=logger.info)
    return store.get(result_entry(preset, request), parse=lambda e, _: read_json(e / RESULT))


def result_entry(preset: str, request: dict) -> str:
    key = digest(result_inputs(preset, request), json.dumps(request, sort_keys=True))
    return f"{preset}-{request['kind']}-{key}"


# The module that computes a training widget's summary, by its run: compute.py does not
# import it, so its code (and all it imports) joins the key (result_inputs).
TRAINING_PRODUCERS = {"rl": "rl_training.py", "training": "training_widget.py"}


def result_inputs(preset: str, request: dict) -> str:
    """What a computation reads besides its request: the RL record, every chat run's
    model, or the preset's model; for a training widget, also its producer's code."""
    rl = request.get("run") == "rl" or request.get("ask") == "rl-pass-k"
    if request["kind"] == "training":
        made = rl_replay_key(preset) if rl else model_key(preset)
        producer = Path(__file__).with_name(TRAINING_PRODUCERS[request["run"]])
        return digest(made, *producer_code(str(producer)))
    if rl:
        return rl_replay_key(preset)
    if request["kind"] == "chat":
        return digest(*(model_key(chat_script(run)) for run in request["runs"]))
    return model_key(preset)


def check_prompt(entry, prompt: str) -> str | None:
    """Why the model cannot read ``prompt``, or None: the widget gives the same answers."""
    if not prompt:
        return "the prompt is empty"
    unknown = sorted({ch for ch in prompt if ch not in entry.meta["stoi"]})
    if unknown:
        return f"characters outside the vocabulary: {', '.join(map(repr, unknown))}"
    if len(prompt) > entry.model.config.block_size:
        return f"{len(prompt)} characters, more than block_size {entry.model.config.block_size}"
    return None


def completed_ids(entry, ids: list[int]) -> tuple[list[int], int]:
    """The sort model reads a full prompt with its own greedy answer appended, as in the
    chapters; other input is read as typed. Returns (ids, number of typed tokens)."""
    meta, block_size = entry.meta, entry.model.config.block_size
    if meta.get("task") != "sort" or len(ids) != meta["prompt_len"]:
        return ids, len(ids)
    idx = torch.tensor([ids])
    with torch.no_grad():
        idx = entry.model.generate(idx, block_size - len(ids), top_k=1)
    return idx[0].tolist(), len(ids)


def attention(preset: str, prompt: str) -> dict:
    """Attention maps (layer, head, T, T) and each position's likeliest next token."""
    from model_src import probe

    entry = trained_model(preset)
    ids, typed = completed_ids(entry, entry.encode(prompt))
    idx = torch.tensor([ids])
    with torch.no_grad(), probe.attention_maps(entry.model) as maps:
        logits, _ = entry.model(idx, targets=idx)  # with targets: logits at every position
    probs = F.softmax(logits[0].double(), dim=-1)
    best = probs.max(dim=-1)
    return {
        "tokens": [entry.meta["itos"][i] for i in ids],
        "typed": typed,
        "first_scored": entry.meta["prompt_len"] - 1 if entry.meta.get("task") == "sort" else 0,
        "predicted": [entry.meta["itos"][int(i)] for i in best.indices],
        "probability": best.values.tolist(),
        "attention": [layer[0].tolist() for layer in maps],  # (n_layer, nh, T, T)
    }


def mulberry32(seed: int):
    """The runtime's random numbers in [0, 1): the same sequence for the same seed."""
    mask = 0xFFFFFFFF
    state = seed & mask
    while True:
        state = (state + 0x6D2B79F5) & mask
        t = ((state ^ (state >> 15)) * (state | 1)) & mask
        t = ((t + (((t ^ (t >> 7)) * (t | 61)) & mask)) & mask) ^ t
        yield ((t ^ (t >> 14)) & mask) / 2**32


def next_token_probs(
    logits: torch.Tensor, temperature: float, top_k: int | None, top_p: float | None = None
) -> np.ndarray:
    """As model.generate turns the last logits into probabilities (in float64)."""
    scaled = logits.double() / temperature
    if top_k is not None:
        kth_best = torch.topk(scaled, min(top_k, scaled.numel())).values[-1]
        scaled[scaled < kth_best] = -math.inf
    if top_p is not None:
        from model_src.model import top_p_logits

        scaled = top_p_logits(scaled, top_p)
    return F.softmax(scaled, dim=-1).numpy()


def draw(probs: np.ndarray, u: float) -> int:
    """The first token whose cumulative probability passes u (the runtime's rule)."""
    cumulative = 0.0
    for token, p in enumerate(probs):
        cumulative += p
        if u < cumulative:
            return token
    return int(np.flatnonzero(probs)[-1])  # u beyond a sum rounded below 1


def sampling(
    preset: str,
    prompt: str,
    temperature: float,
    top_k: int | None,
    seed: int,
    steps: int,
    top_p: float | None = None,
):
    """``steps`` tokens sampled after ``prompt``, with each step's top candidates."""
    entry = trained_model(preset)
    block_size = entry.model.config.block_size
    ids = entry.encode(prompt)
    random = mulberry32(seed)
    record = []
    for _ in range(steps):
        idx = torch.tensor([ids[-block_size:]])
        with torch.no_grad():
            logits, _ = entry.model(idx)
        probs = next_token_probs(logits[0, -1], temperature, top_k, top_p)
        token = draw(probs, next(random))
        top = np.argsort(-probs, kind="stable")[:TOP_TOKENS]
        record.append(
            {
                "candidates": [[entry.meta["itos"][int(i)], float(probs[i])] for i in top],
                "drawn": entry.meta["itos"][token],
            }
        )
        ids.append(token)
    return {"prompt": prompt, "steps": record, "text": entry.decode(ids)}


def tools(preset: str, prompt: str) -> dict:
    """The engine's greedy completion of ``prompt`` with the tool on and off: per token,
    whether the engine forced it; and the calls it ran."""
    from model_src import arithmetic, engine

    entry = trained_model(preset)
    runs = {}
    for mode, tool in (("on", engine.calculate), ("off", None)):
        done = engine.complete(entry.model, arithmetic.TOKENIZER, prompt, tool=tool)
        runs[mode] = {
            "text": done.text,
            "forced": done.forced,
            "calls": [[c.expression, c.result, c.error] for c in done.calls],
        }
    return {"prompt": prompt, **runs}


# --- the chat models of the fine-tuning chapter (model_src/finetune.py) --------------------

# The widget's label for each request of chat.TASKS, one each (tests/test_live_models.py).
REQUEST_NAMES = {"↑": "sort the letters", "#": "the most common letter"}


def chat_runs() -> dict[str, str]:
    """Every fine-tuning run, {slug: name}: "hash" -> "#", "lora-r8" -> "LoRA r=8"."""
    from model_src import finetune

    return {finetune.slug(name): name for name in finetune.RUNS}


def chat_model(run: str) -> SimpleNamespace:
    """A fine-tuning run's model (its first seed), shaped like a trained preset. A LoRA
    run's adapters are merged into its weights: the browser runs a plain GPT."""
    from model_src import chat, finetune, lora

    name = chat_runs()[run]
    model = finetune.get(name)["model"]
    if finetune.RUNS[name]["rank"]:
        model = lora.merge_lora(model)
    meta = {"vocab_size": len(chat.VOCAB), "itos": dict(enumerate(chat.VOCAB)), "task": "chat"}
    return SimpleNamespace(model=model, meta=meta)


def chat_run_about(run: str) -> str:
    """What the widget says of a run after its name: "fine-tuned on # and ↑"."""
    from model_src import finetune

    spec = finetune.RUNS[chat_runs()[run]]
    alone = " alone" if len(spec["mix"]) == 1 else ""
    adapters = f", through rank-{spec['rank']} LoRA adapters" if spec["rank"] else ""
    return f"fine-tuned on {' and '.join(spec['mix'])}{alone}{adapters}"


def conversation_fits(request: str, letters: str) -> bool:
    """Whether the request with its right reply fits the chat models' context (their
    last token, <end>, is only ever a target: the model never reads it)."""
    from model_src import chat, finetune

    return len(chat.render(chat.conversation(request, letters))[0]) - 1 <= finetune.context()


def right_replies(request: str) -> dict[str, str]:
    """chat.TASKS's reply to every set of letters whose conversation fits, keyed by the
    letters in vocabulary order: a request's answer depends on which letters it is given,
    not on their order (tests/test_live_runtime.py checks the browser's answers on
    shuffled letters against chat.TASKS)."""
    from model_src import chat

    def fitting(count: int) -> list[str]:
        every = map("".join, itertools.combinations_with_replacement(chat.LETTERS, count))
        return [letters for letters in every if conversation_fits(request, letters)]

    replies, count = {}, 1
    while letters := fitting(count):
        replies.update((text, chat.TASKS[request](text)) for text in letters)
        count += 1
    return replies


def role_layout(role: str) -> dict:
    """How chat.render lays out a turn of ``role``: the tokens before and after its text,
    each with whether the loss sees it, and whether it sees the text's own tokens (one
    per character)."""
    from model_src import chat

    probe = chat.LETTERS[0]
    ids, trained = chat.render([(role, probe)])
    text = ids.index(chat.STOI[probe])

    def tokens(positions) -> list:
        return [[chat.VOCAB[ids[i]], trained[i]] for i in positions]

    return {
        "before": tokens(range(text)),
        "text": trained[text],
        "after": tokens(range(text + 1, len(ids))),
    }


def chat_rules() -> dict:
    """What the browser needs to lay out a conversation as chat.render does and to know
    its right reply, all from model_src/chat.py: each role's layout with the loss's mask,
    the stop token, the letters, and each request's right replies."""
    from model_src import chat

    roles = [role for role, _ in chat.conversation(next(iter(chat.TASKS)), "")]
    return {
        "letters": list(chat.LETTERS),
        "stop": chat.VOCAB[chat.END],
        "roles": {role: role_layout(role) for role in roles},
        "answers": {request: right_replies(request) for request in chat.TASKS},
    }


def chat_prompt_problem(prompt: str) -> str | None:
    """Why ``prompt`` is not a user's turn the chat models can answer, or None: a request
    token, then letters, as many as fit with the right reply (nanobook_chat.js says the
    same for the reader's turn)."""
    from model_src import chat

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


def chat_problem(runs: tuple[str, ...], prompt: str) -> tuple[str, str] | None:
    """Why a live-chat cannot show these runs or this prompt, with a hint; None if it can."""
    from model_src import chat

    known = chat_runs()
    unknown = [run for run in runs if run not in known]
    if unknown or len(set(runs)) < len(runs):
        said = f"unknown run(s) {', '.join(map(repr, unknown))}" if unknown else "a run named twice"
        return said, f"name each once, among the runs of model_src/finetune.py: {', '.join(known)}"
    problem = chat_prompt_problem(prompt)
    if problem:
        return (
            f"the :prompt: {prompt!r} cannot be read: {problem}",
            f"a request ({' or '.join(chat.TASKS)}) then letters ({''.join(chat.LETTERS)}), "
            f"e.g. :prompt: {next(iter(chat.TASKS))}{chat.LETTERS}",
        )
    return None


@torch.no_grad()
def chat_reply(model, prompt: list[int]) -> tuple[list[int], list[list[float]]]:
    """The greedy reply to ``prompt`` as the widget writes it: the likeliest token (the
    first of ties, as argmax) until <end>, or until the context is full (block_size
    tokens read); with the logits of each step."""
    from model_src import chat

    ids, logits = list(prompt), []
    while len(ids) <= model.config.block_size:
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


# --- the training replay --------------------------------------------------------------------


def replay_payload(preset: str) -> dict:
    """What the training-replay widget shows: the snapshots training recorded (see
    model_src/replay.py) with the logged loss curve and the vocabulary."""
    entry = trained_model(preset)
    return {
        **entry.replay,
        "curve": [[m["iter"], round(m["loss"], 4)] for m in entry.metrics],
        "max_iters": entry.config["max_iters"],
        "vocab": [entry.meta["itos"][i] for i in range(entry.model.config.vocab_size)],
        "prompt_len": entry.meta["prompt_len"],
    }


def replay_artifact(preset: str, cache_dir: Path) -> Path:
    """The replay as a classic script registered as ``<preset>-replay``."""
    key = f"{preset}-replay-{model_key(preset)}"
    about = f"How the {preset} model learned"
    return registered_script(
        cache_dir, key, f"{preset}-replay", about, lambda: replay_payload(preset)
    )


def registered_script(cache_dir: Path, key: str, name: str, about: str, payload) -> Path:
    """The store entry ``key``: a classic script that registers ``payload()`` as ``name``
    (called only to make the entry)."""

    def text() -> str:
        body = json.dumps({"name": name, **payload()}, ensure_ascii=True, separators=(",", ":"))
        return f"/* {about}, for nanobook_widgets.js */\nnanobook._register({body});\n"

    return stored_file(cache_dir, key, f"{key}.js", text)


def export(name: str, cache_dir: Path) -> Path:
    """The script a widget loads: a model (``sort``), a model's replay (``sort-replay``)
    or the replay of its RL run (``sort-rl-replay``); a run to train again
    (``sort-training``) is training_widget.py's."""
    if name.endswith("-rl-replay"):
        return rl_replay_artifact(name.removesuffix("-rl-replay"), cache_dir)
    if name.endswith("-replay"):
        return replay_artifact(name.removesuffix("-replay"), cache_dir)
    return artifact(name, cache_dir)


# --- the RL run's replay ------------------------------------------------------------------


def rl_replay_run() -> tuple[str, int]:
    """The run the RL replay shows: REINFORCE with the first seed (model_src/rl_runs.py)."""
    from model_src import rl_runs

    return "REINFORCE", rl_runs.SEEDS[0]


def rl_replay_payload(preset: str) -> dict:
    """What the RL replay shows: model_src/rl_runs.py's REINFORCE run (its first seed),
    snapshot by snapshot: held-out pass@1 and pass@k, the mean reward, and one group."""
    from model_src import rl_runs

    record = rl_runs.get(*rl_replay_run())
    entry = trained_model(preset)
    return {
        "kind": "rl",
        "run": f"REINFORCE, seed {record['seed']}",
        "snapshots": record["replay"],
        "max_iters": rl_runs.STEPS,
        "k": rl_runs.K,
        "prompts": rl_runs.PROMPTS,
        "group": rl_runs.GROUP,
        "start_iters": rl_runs.START_ITERS,
        "vocab": [entry.meta["itos"][i] for i in range(entry.model.config.vocab_size)],
    }


def rl_replay_key(preset: str) -> str:
    """What the RL replay depends on: the run's store entry (named by everything its record
    depends on), the preset's weights (its vocabulary) and this file's code."""
    from model_src import rl_runs

    run = rl_runs.STORED.entries()[rl_replay_run()]
    return digest(preset, run, model_weights(preset), *producer_code(__file__))


def rl_replay_artifact(preset: str, cache_dir: Path) -> Path:
    """The RL replay as a classic script registered as ``<preset>-rl-replay``."""
    key = f"{preset}-rl-replay-{rl_replay_key(preset)}"
    about = f"The {preset} model's RL run"
    return registered_script(
        cache_dir, key, f"{preset}-rl-replay", about, lambda: rl_replay_payload(preset)
    )


def rl_replay_summary(preset: str) -> dict:
    """The static rendering: pass@1, pass@k and mean reward at a few steps, and the first
    recorded group with some right and some wrong answers."""
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


def first_step_reaching(snapshots: list[dict], level: float) -> int:
    """Index of the first snapshot whose held-out accuracy is at least ``level`` (or the last)."""
    return next((i for i, s in enumerate(snapshots) if s["accuracy"] >= level), len(snapshots) - 1)


def replay_summary(preset: str) -> dict:
    """The static rendering: the first and last steps and where accuracy passes 50 % and 90 %."""
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


# --- predict, then check ----------------------------------------------------------------


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
        # whose most decided head it is: the model's, or only the one layer's asked about
        among = "the model's" if len(layers) > 1 else f"layer {layer}'s"
        return {
            "ask": ask,
            "input": text,
            "layer": layer,
            "head": head,
            "query": query,
            "text": f"Reading “{text}”, head {head} of layer {layer} is {among} most decided "
            f"head. When position {query} (“{visible.token(text[query])}”) is the query, which "
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

    runs = tools(preset, prompt)
    on, off = (runs[mode]["text"][len(prompt) :] for mode in ("on", "off"))
    plain = runs["on"]["calls"][0][1] + STOP if runs["on"]["calls"] else on
    return {
        "ask": "tool-off",
        "input": prompt,
        "text": f"With its calculator, the {preset} model completes “{prompt}” with “{on}”. "
        "What does it write with the calculator switched off?",
        "choices": [[text, f"“{text}”"] for text in sorted({on, off, plain})],
        "answer": off,
    }


RL_BAND = 0.02  # rl-pass-k: a change of pass@k smaller than this counts as "stayed"


def rl_trend(before: float, after: float, band: float = RL_BAND) -> str:
    """ "higher", "same" or "lower": how pass@k moved (nanobook_predict.js decides alike)."""
    return "same" if abs(after - before) < band else "higher" if after > before else "lower"


def rl_pass_k_question(preset: str) -> dict:
    """What RL did to pass@k, asked with pass@1's move given; answered from the RL record."""
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
    snapshots = replay_payload(preset)["snapshots"]
    reached = first_step_reaching(snapshots, threshold)
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
    """A share to three significant figures: the reader works the odds out from two of
    them, and one decimal of a 5 % share is already 1 % off."""
    return f"{p * 100:.3g}%"


def temperature_why(tau: float, token: str, runner_up: str, gap: float) -> str:
    """The temperature verdict's reason (nanobook_predict.js says it the same way)."""
    return (
        f"Dividing the logits by {tau:g} multiplies every gap between them by {1 / tau:g}: "
        f"“{token}” leads the runner-up “{runner_up}” by {gap:.2f}, so its odds over it go "
        f"from {exp_text(gap)} to {exp_text(gap / tau)}."
    )


def exp_text(x: float) -> str:
    """e**x to three significant figures, as ``f"{math.exp(x):.3g}"`` writes it, for any x:
    at the lowest temperature (0.01) a logit gap of 7.1 already makes odds beyond a float's
    range, so those are written from x's decimal logarithm (nanobook_predict.js alike)."""
    if x < math.log(sys.float_info.max):
        return f"{math.exp(x):.3g}"
    decimals = x / math.log(10)
    exponent = math.floor(decimals)
    mantissa = f"{10 ** (decimals - exponent):.3g}"
    if mantissa == "10":  # 9.996 rounds up
        mantissa, exponent = "1", exponent + 1
    return f"{mantissa}e+{exponent}"
