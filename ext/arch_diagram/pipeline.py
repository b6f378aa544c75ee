"""Diagrams of the pipeline's parts that are not modules: a fixed drawing per kind, every
number in it taken from running the live code for the preset.

    optimizer   configure_optimizers: the weight-decay and no-decay parameter groups
    get_batch   prepare.get_batch: x and y, the same tokens one position apart
    tokenizer   the preset's vocabulary: characters → ids → characters
    generate    generate: crop, forward, last logits, temperature, top-k, top-p, softmax, sample,
                append, round and round

The presets module gives the config, the sample input, the data set (``dataset``) and
the training config file (``config_file``). The rest of the code is found beside it,
laid out as nanoGPT's: the model class is the one in the config class's module that has
the method (configure_optimizers, generate); ``<package>.prepare`` writes and serves the
data (write, get_batch); ``<package>.train`` resolves the training settings
(resolve_config). generate's settings default to model_src/sample.py's.
"""

from __future__ import annotations

import importlib
import re
import sys
import tempfile
import textwrap

import torch

from model_src import visible

from .._core import Problem, shape_text
from . import draw
from .request import Drawing, Live, Request, defined_classes, run
from .trace import Recorder

MAX_SHOWN_ROWS = 3  # batch rows printed; the shape line says how many there are


def draw_pipeline(request: Request, live: Live) -> Drawing:
    drawings = {
        "optimizer": optimizer,
        "get_batch": get_batch,
        "tokenizer": tokenizer,
        "generate": generate,
    }
    try:
        lines = drawings[request.target](request, live)
        return Drawing(draw.finish(lines), [])
    except draw.DiagramTooWide as err:
        raise Problem(str(err), hint="ask for a shorter :input:") from err


# --- finding the live code ----------------------------------------------------------------


def _sibling(live: Live, name: str):
    package = live.presets.__name__.rpartition(".")[0]
    module_name = f"{package}.{name}" if package else name
    try:
        return importlib.import_module(module_name)
    except ImportError as err:
        raise Problem(
            f"cannot import {module_name} beside the presets module: {err}",
            hint="the non-module diagrams read nanoGPT's layout: model, prepare, train",
        ) from err


def _model(live: Live, method: str):
    """The preset's model, built: the last class beside the config's with ``method``."""
    module = sys.modules[type(live.config).__module__]
    classes = [cls for cls in defined_classes(module) if callable(getattr(cls, method, None))]
    if not classes:
        raise Problem(
            f"no class in {module.__name__} has a {method} method",
            hint="the model class lives beside the preset's config class",
        )
    return live.build(classes[-1])


def _training(live: Live) -> dict:
    """The preset's training settings, as the training script resolves them."""
    train = _sibling(live, "train")
    return run(
        f"{train.__name__}.resolve_config",
        lambda: train.resolve_config(live.presets.config_file(live.preset)),
    )


def _dataset(live: Live):
    return run(f"{live.presets.__name__}.dataset", lambda: live.presets.dataset(live.preset))


def _title(name: str, live: Live, *details: str) -> list[str]:
    return [" · ".join([name, live.name, *details]), *live.config_lines()]


# --- optimizer ----------------------------------------------------------------------------


def optimizer(request: Request, live: Live) -> list[str]:
    model = _model(live, "configure_optimizers")
    model_name = type(model).__name__
    settings = _training(live)
    betas = (settings["beta1"], settings["beta2"])
    optim = run(
        f"{model_name}.configure_optimizers",
        lambda: model.configure_optimizers(
            settings["weight_decay"], settings["learning_rate"], betas, "cpu"
        ),
    )
    names = {id(p): name for name, p in model.named_parameters()}
    groups = []  # (group, {name with block numbers as N: [shape, tensors, parameters]})
    for group in optim.param_groups:
        rows: dict[str, list] = {}
        for p in group["params"]:
            row = rows.setdefault(
                re.sub(r"\.\d+\.", ".N.", names[id(p)]), [shape_text(tuple(p.shape)), 0, 0]
            )
            row[1] += 1
            row[2] += p.numel()
        groups.append((group, rows))
    width = max(len(name) for _, rows in groups for name in rows)
    shape_width = max(len(row[0]) for _, rows in groups for row in rows.values())
    every = list(model.parameters())
    lines = [
        *_title(f"{model_name}.configure_optimizers", live),
        "",
        f"model.parameters(): {len(every)} tensors, {sum(p.numel() for p in every):,} parameters",
        " │",
    ]
    for index, (group, rows) in enumerate(groups):
        params = group["params"]
        dims = {p.dim() for p in params}
        kind = (
            "matrices (dim ≥ 2)"
            if min(dims, default=2) >= 2
            else "vectors (dim < 2)"
            if max(dims, default=0) < 2
            else f"dims {sorted(dims)}"
        )
        lines.append(
            f" ├─► group {index}: weight_decay={group['weight_decay']} · {kind} · "
            f"{len(params)} tensors · {sum(p.numel() for p in params):,}"
        )
        lines += [
            f" │     {name.ljust(width)}  {shape.ljust(shape_width)}"
            f"  {f'×{count}' if count > 1 else '':>3}  {total:>7,}"
            for name, (shape, count, total) in rows.items()
        ]
        lines.append(" │")
    lines.append(" ▼")
    lines.append(
        f"{type(optim).__name__}({len(optim.param_groups)} groups, "
        f"lr={optim.defaults['lr']}, betas={optim.defaults['betas']})"
    )
    tied = [f"{name} is also {other}" for name, other in _tied_names(model)]
    if tied:
        lines += ["", *(f"{line} (tied): one tensor, counted once" for line in tied)]
    return lines


def _tied_names(model) -> list[tuple[str, str]]:
    first: dict[int, str] = {}
    pairs = []
    for name, p in model.named_parameters(remove_duplicate=False):
        if id(p) in first:
            pairs.append((first[id(p)], name))
        first.setdefault(id(p), name)
    return pairs


# --- get_batch ----------------------------------------------------------------------------


def get_batch(request: Request, live: Live) -> list[str]:
    prepare = _sibling(live, "prepare")
    settings = _training(live)
    batch, time = request.input or (settings["batch_size"], live.config.block_size)
    with tempfile.TemporaryDirectory() as data_dir:
        dataset = _dataset(live)
        run(f"{prepare.__name__}.write", lambda: prepare.write(dataset, data_dir))
        generator = torch.Generator().manual_seed(settings["seed"])
        x, y = run(
            f"{prepare.__name__}.get_batch",
            lambda: prepare.get_batch("train", data_dir, batch, time, generator),
        )
        itos = prepare.load_meta(data_dir)["itos"]
    call = f'{prepare.__name__}.get_batch("train", data_dir, {batch}, {time}, generator)'
    lines = [*_title("get_batch", live, f"dataset {settings['dataset']}"), ""]
    lines += textwrap.wrap(call, draw.MAX_WIDTH, subsequent_indent="  ")
    lines.append(
        f"→ x {shape_text(tuple(x.shape))} {str(x.dtype).removeprefix('torch.')}: "
        f"what the model reads · y {shape_text(tuple(y.shape))}: what comes next"
    )
    lines.append("")
    cell = max(2, *(len(str(i)) for i in itos)) + 1
    shown = min(time + 1, (draw.MAX_WIDTH - 16) // cell)  # positions that fit in 80 columns
    lines.append("   position".ljust(16) + "".join(f"{t:>{cell}}" for t in range(shown)))
    ignored = False
    for row in range(min(batch, MAX_SHOWN_ROWS)):
        xs, ys = x[row].tolist(), y[row].tolist()
        # the window get_batch cut: x, then the one token only y has (y[-1] is never ignored)
        window = [*xs, ys[-1]]
        ignored |= -1 in ys
        lines.append(
            f" row {row}  tokens".ljust(16)
            + "".join(f"{visible.token(itos[t]):>{cell}}" for t in window[:shown])
        )
        lines.append(f"         x[{row}]".ljust(16) + "".join(f"{t:>{cell}}" for t in xs[:shown]))
        lines.append(
            f"         y[{row}]".ljust(16)
            + " " * cell
            + "".join(f"{'·' if t == -1 else t:>{cell}}" for t in ys[: shown - 1])
        )
    if batch > MAX_SHOWN_ROWS:
        lines.append(f" … {batch - MAX_SHOWN_ROWS} more rows")
    lines.append("")
    lines.append("y[t] = tokens[t + 1]: the same window one position later, so each x[:t + 1]")
    lines.append("is a lesson whose answer is y[t]")
    if shown < time + 1:
        lines.append(f"(first {shown} of {time + 1} positions shown)")
    if ignored:
        lines.append("· = −1 in y: the loss skips it (cross_entropy ignore_index=-1)")
    return lines


# --- tokenizer ----------------------------------------------------------------------------


def tokenizer(request: Request, live: Live) -> list[str]:
    settings = _training(live)
    meta = _dataset(live).meta
    itos, stoi = meta["itos"], meta["stoi"]
    batch, time = request.input or (1, min(live.config.block_size, 12))
    ids = live.sample((batch, time))[0].tolist()
    text = [itos[i] for i in ids]
    lines = [
        *_title(
            "tokenizer", live, f"dataset {settings['dataset']}", f"{meta['vocab_size']} tokens"
        ),
        "",
    ]
    vocabulary = "  ".join(f"{i} {visible.token(itos[i])}" for i in sorted(itos))
    lines += textwrap.wrap(
        f"itos (id → character): {vocabulary}",
        draw.MAX_WIDTH,
        subsequent_indent="  ",
        break_on_hyphens=False,
    )
    lines.append("")
    cell = max(2, *(len(str(i)) for i in ids), *(len(visible.token(c)) for c in text)) + 1
    encode, decode = "  stoi[ch]: character → id", "  itos[i]: id → character"
    label = 10
    shown = min(len(ids), (draw.MAX_WIDTH - label - len(encode)) // cell)
    stems = "".join(f"{'│':>{cell}}" for _ in range(shown))
    arrows = " " * label + "".join(f"{'▼':>{cell}}" for _ in range(shown))

    def row(name: str, values) -> str:
        return name.ljust(label) + "".join(f"{v:>{cell}}" for v in values)

    lines += [
        row(" text", [visible.token(c) for c in text[:shown]]),
        " " * label + stems + encode,
        arrows,
        row(" ids", [stoi[c] for c in text[:shown]]),
        " " * label + stems + decode,
        arrows,
        row(" text", [visible.token(itos[stoi[c]]) for c in text[:shown]]),
    ]
    note = f"{live.presets.__name__}.sample_input({live.preset!r}, {batch}, {time})"
    lines += ["", f"the text is {note}, decoded"]
    if shown < len(ids):
        lines.append(f"(first {shown} of {len(ids)} tokens shown)")
    return lines


# --- generate -----------------------------------------------------------------------------


def generate(request: Request, live: Live) -> list[str]:
    model = _model(live, "generate")
    model_name = type(model).__name__
    block_size = live.config.block_size
    settings = live.settings
    if request.input:
        batch, prompt_len = request.input
    else:
        batch, prompt_len = 1, _dataset(live).meta.get("prompt_len", block_size // 2)
    new_tokens = settings["max_new_tokens"] or block_size + 1 - prompt_len
    temperature, top_k, top_p = (settings[k] for k in ("temperature", "top_k", "top_p"))
    said = f"max_new_tokens={new_tokens} temperature={temperature} top_k={top_k} top_p={top_p}"
    if new_tokens < 1 or temperature <= 0 or (top_k is not None and top_k < 1):
        raise Problem(said, hint="max_new_tokens ≥ 1, temperature > 0, top_k ≥ 1 or None")
    prompt = live.sample((batch, prompt_len))
    ops = {"div", "softmax", "multinomial", "cat"}
    torch.manual_seed(0)
    with Recorder(model, ops) as recorder:
        run(
            f"{model_name}.generate",
            lambda: model.generate(prompt, new_tokens, temperature, top_k=top_k, top_p=top_p),
        )

    def shapes(values) -> str:
        texts = list(dict.fromkeys(shape_text(v) for v in values))
        return texts[0] if len(texts) == 1 else f"{texts[0]} … {texts[-1]}"

    def outputs(name: str) -> str:
        return shapes(op.outputs[0].shape for op in recorder.loose_ops if op.name == name)

    roots = recorder.roots
    appended = [op for op in recorder.loose_ops if op.name == "cat"]
    vocab = roots[0].outputs[0].shape[-1]
    body = [
        draw.Node(
            f"idx[:, -{block_size}:]: crop to block_size",
            free=True,
            out="context " + shapes(r.inputs[0].shape for r in roots),
        ),
        draw.Node(
            f"{model_name}(context): forward, no targets",
            free=True,
            out="logits " + shapes(r.outputs[0].shape for r in roots),
        ),
        draw.Node(f"logits[:, -1, :] / temperature {temperature}", free=True, out=outputs("div")),
        draw.Node(  # masks the scaled logits in place: the same tensor goes on
            f"top-k, k = min({top_k}, {vocab}): below the k-th best → −inf"
            if top_k is not None
            else "top-k: off (top_k=None), every id stays possible",
            free=True,
            out=outputs("div"),
        ),
        draw.Node(  # a new tensor of the same shape, the ids beyond p at −inf
            f"top-p, p = {top_p}: beyond the likeliest holding p → −inf"
            if top_p is not None
            else "top-p: off (top_p=None), every id stays possible",
            free=True,
            out=outputs("div"),
        ),
        draw.Node("softmax: scores → probabilities", free=True, out="probs " + outputs("softmax")),
        draw.Node(
            "multinomial: sample one id per row", free=True, out="next " + outputs("multinomial")
        ),
        draw.Node("cat((idx, next), dim=1): append", free=True, out="idx " + outputs("cat")),
    ]
    flow = [
        draw.Label(f"idx {shape_text(tuple(prompt.shape))}: the prompt"),
        draw.Loop(body, f"×{len(roots)} (max_new_tokens)"),
        draw.Label("idx " + shape_text(appended[-1].outputs[0].shape), arrow=True),
    ]
    header = _title(f"{model_name}.generate", live)
    header.insert(1, said)
    return draw.render(header, flow).splitlines()
