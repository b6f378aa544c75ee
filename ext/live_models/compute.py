"""What the live widgets need from PyTorch, computed while the book builds.

Two things come out of a trained model (``model_src.trained.get(preset)``):

* the web artifact: a classic script ``<preset>-<key>.js`` that hands the config, the
  vocabulary and the float32 weights to ``nanobook._register`` (a script tag, not a
  fetch, so the book also works opened from ``file://``, where Chromium refuses to
  fetch local files). The weights are stored bit for bit: the four bytes of every
  float are split into four planes (the exponent bytes compress, the mantissa bytes
  do not), raw-deflated, and base64'd; the browser inflates them with its own
  ``DecompressionStream("deflate-raw")``.
* the records a widget replays (a model's training run, the RL chapter's run), exported
  the same way.

It also keys each widget's computation on the page's default input (its kind's
``compute``, kinds/<kind>.py; widgets.py stores it), for readers without JavaScript and
for builders without HTML, and holds what the kinds share: the model, the prompt's
rule (handed to the page as data), the sort model's greedy append, the next token's
probabilities. Everything is an entry of the artifact
store (buildlib/store.py) under the cache's ``live/``, keyed on the trained model's
weights digest, the producer's code and the request.
"""

from __future__ import annotations

import base64
import inspect
import itertools
import json
import math
import zlib
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import torch
import torch.nn.functional as F
from sphinx.util import logging
from torch.overrides import TorchFunctionMode

from buildlib.keys import digest, producer_code
from buildlib.store import Store, write_meta
from model_src import visible

from .names import CHAT_PREFIX, TOOL_MODELS

logger = logging.getLogger(__name__)


def trained_model(preset: str):
    from model_src import trained  # the book's models; imported only when needed

    if preset.startswith(CHAT_PREFIX):
        return chat_model(preset.removeprefix(CHAT_PREFIX))
    return tool_model(preset) if preset in TOOL_MODELS else trained.get(preset)


def tool_model(name: str) -> SimpleNamespace:
    """The Tools chapter's calculator model (experiments/arithmetic_runs.py), shaped like
    a trained preset: its tokenizer as meta."""
    from model_src import arithmetic
    from model_src.experiments import arithmetic_runs

    model = arithmetic_runs.get(name, arithmetic_runs.shown_seed(name))["model"]
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
    from model_src import trained
    from model_src.experiments import arithmetic_runs, finetune_runs

    if preset.startswith(CHAT_PREFIX):
        name = chat_runs()[preset.removeprefix(CHAT_PREFIX)]
        return finetune_runs.EXPERIMENT.weights(name, finetune_runs.SEEDS[0])
    if preset in TOOL_MODELS:
        return arithmetic_runs.EXPERIMENT.weights(preset, arithmetic_runs.shown_seed(preset))
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


def layer_norm_eps(model) -> float:
    """The eps `model`'s LayerNorms add to the variance, as they pass it to F.layer_norm
    while the model runs (model.py writes it in that call; no attribute holds it). The page
    is handed it with the model (nanobook_live.js's layerNorm), as the trainer is handed the
    optimiser's eps: one number, written once."""
    heard = _LayerNormCalls()
    # a model in training mode drops out at random: leave the caller's random state as it was
    with torch.random.fork_rng(), torch.no_grad(), heard:
        model(torch.zeros((1, 1), dtype=torch.long))
    if len(set(heard.eps)) != 1:
        raise ValueError(
            f"the model's LayerNorms use eps {sorted(set(heard.eps))}: the page takes one"
        )
    return heard.eps[0]


class _LayerNormCalls(TorchFunctionMode):
    """Notes the eps of every F.layer_norm call made while it is on (given or defaulted)."""

    def __init__(self):
        super().__init__()
        self.eps: list[float] = []

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func is F.layer_norm:
            call = inspect.signature(F.layer_norm).bind(*args, **kwargs)
            call.apply_defaults()
            self.eps.append(call.arguments["eps"])
        return func(*args, **kwargs)


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
            "layer_norm_eps": layer_norm_eps(entry.model),
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


def result_entry(spec) -> str:
    """A widget's result: keyed on what it reads (its model, or a record), its producer's
    code with all that imports (the kind's module, directive.LiveSpec.producer) and its
    request."""
    request = spec.request()
    code = producer_code(spec.producer)
    key = digest(spec.reads(), *code, json.dumps(request, sort_keys=True))
    return f"{spec.preset}-{request['kind']}-{key}"


def prompt_rule(entry) -> dict:
    """What a prompt the model can read is made of: the characters it knows (its
    tokens), and how many of them it reads at the least and at the most. The page is
    handed it (its widgets' problemWith applies it to what the reader types) and
    check_prompt applies it here: one rule, written once."""
    config = entry.model.config
    vocab = [entry.meta["itos"][i] for i in range(config.vocab_size)]
    return {"characters": vocab, "shortest": 1, "longest": config.block_size}


def check_prompt(rule: dict, prompt: str) -> str | None:
    """Why a model with this ``prompt_rule`` cannot read ``prompt``, or None."""
    if len(prompt) < rule["shortest"]:
        return "the prompt is empty" if not prompt else f"fewer than {rule['shortest']} characters"
    unknown = sorted(set(prompt) - set(rule["characters"]))
    if unknown:
        return f"characters outside the vocabulary: {', '.join(map(repr, unknown))}"
    if len(prompt) > rule["longest"]:
        return f"{len(prompt)} characters, more than block_size {rule['longest']}"
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


# --- the chat models of the fine-tuning chapter (experiments/finetune_runs.py) -------------


def chat_runs() -> dict[str, str]:
    """Every fine-tuning run, {slug: name}: "hash" -> "#", "lora-r8" -> "LoRA r=8"."""
    from model_src.experiments import finetune_runs, runner

    return {runner.slug(name): name for name in finetune_runs.RUNS}


def chat_model(run: str) -> SimpleNamespace:
    """A fine-tuning run's model (its first seed), shaped like a trained preset. A LoRA
    run's adapters are merged into its weights: the browser runs a plain GPT."""
    from model_src import chat, lora
    from model_src.experiments import finetune_runs

    name = chat_runs()[run]
    model = finetune_runs.get(name)["model"]
    if finetune_runs.RUNS[name]["rank"]:
        model = lora.merge_lora(model)
    meta = {"vocab_size": len(chat.VOCAB), "itos": dict(enumerate(chat.VOCAB)), "task": "chat"}
    return SimpleNamespace(model=model, meta=meta)


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


# --- the RL run's replay ------------------------------------------------------------------


def rl_replay_run() -> tuple[str, int]:
    """The run the RL replay shows: REINFORCE with the first seed (experiments/rl_runs.py)."""
    from model_src.experiments import rl_runs

    return "REINFORCE", rl_runs.SEEDS[0]


def rl_replay_payload(preset: str) -> dict:
    """What the RL replay shows: experiments/rl_runs.py's REINFORCE run (its first seed),
    snapshot by snapshot: held-out pass@1 and pass@k, the mean reward, and one group."""
    from model_src.experiments import rl_runs

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
    from model_src.experiments import rl_runs

    run = rl_runs.EXPERIMENT.entries()[rl_replay_run()]
    return digest(preset, run, model_weights(preset), *producer_code(__file__))


def rl_replay_artifact(preset: str, cache_dir: Path) -> Path:
    """The RL replay as a classic script registered as ``<preset>-rl-replay``."""
    key = f"{preset}-rl-replay-{rl_replay_key(preset)}"
    about = f"The {preset} model's RL run"
    return registered_script(
        cache_dir, key, f"{preset}-rl-replay", about, lambda: rl_replay_payload(preset)
    )
