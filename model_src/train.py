"""Train a GPT the nanoGPT way, on a CPU.

    python -m model_src.train sort                                  # a preset ...
    python -m model_src.train model_src/config/char.py              # ... or a config file
    python -m model_src.train sort --max_iters=500 --out_dir=out-x  # plus overrides

Settings come in three layers, later ones winning: DEFAULTS below, a config file of
plain `name = value` lines, and `--name=value` overrides. A setting must already exist
in DEFAULTS and keep its type, so a typo is an error instead of being silently ignored.
Values are read with ast.literal_eval; nothing is executed.

From Python, train({"dataset": "sort", ...}) runs the same loop and returns a summary;
fit(model, cfg, batches) is the loop alone, for other models and other batches.

It writes to out_dir: ckpt.pt (the checkpoint with the best val loss so far, or the
latest with always_save_checkpoint), meta.pkl (the tokenizer) and log.jsonl (one JSON
object per logged step: iter, loss, lr, time; evaluation steps add train_loss and
val_loss). One line per evaluation goes to stderr.
"""

import ast
import contextlib
import difflib
import json
import math
import os
import shutil
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path

import torch

from . import prepare
from .experiments import seeds
from .model import GPT, GPTConfig

CONFIG_DIR = Path(__file__).parent / "config"

# nanoGPT's settings and, for the model and optimiser, its GPT-2 values; the config
# files scale everything down to what a CPU trains in a minute.
DEFAULTS = dict(
    # output and evaluation
    out_dir="out",
    eval_interval=2000,  # evaluate (and maybe checkpoint) every this many steps
    log_interval=1,  # write a log.jsonl line every this many steps
    eval_iters=200,  # batches per split in each evaluation
    always_save_checkpoint=False,  # False: save only when val loss improves (nanoGPT: True)
    init_from="scratch",  # 'scratch' or 'resume' (from out_dir/ckpt.pt)
    # data
    dataset="char",  # 'sort' or 'char'
    data_dir="",  # '' means data/<dataset>, prepared on first use
    gradient_accumulation_steps=1,  # micro-batches averaged into each optimiser step
    batch_size=12,
    block_size=1024,
    # model
    n_layer=12,
    n_head=12,
    n_embd=768,
    dropout=0.0,
    bias=True,  # as in GPT-2 itself; nanoGPT's train.py turns biases off
    # AdamW
    learning_rate=6e-4,
    max_iters=600000,
    weight_decay=1e-1,
    beta1=0.9,
    beta2=0.95,
    grad_clip=1.0,  # clip gradients to this global norm; 0.0 turns clipping off
    # learning-rate schedule
    decay_lr=True,
    warmup_iters=2000,
    lr_decay_iters=600000,
    min_lr=6e-5,
    # system
    device="cpu",
    compile=False,
    # the arithmetic of steps and evaluations: 'float32' (the weights' own), or 'float64'
    # over float32 weights (see arithmetic())
    dtype="float32",
    seed=1337,
    threads=0,  # torch threads while training; 0 leaves torch's choice alone
)


def check_setting(key: str, value):
    """Return value if DEFAULTS has key and value has its type (an int is a fine float)."""
    if key not in DEFAULTS:
        close = difflib.get_close_matches(key, DEFAULTS, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ValueError(f"unknown config key {key!r}{hint}")
    expected = type(DEFAULTS[key])
    if expected is float and type(value) is int:
        value = float(value)
    if type(value) is not expected:
        raise ValueError(
            f"config key {key!r} expects {expected.__name__}, "
            f"got {value!r} ({type(value).__name__})"
        )
    return value


def read_config_file(path: str | Path) -> dict:
    """The `name = value` assignments of a config file (comments and a docstring allowed)."""
    path = Path(path)
    settings = {}
    for node in ast.parse(path.read_text(), filename=str(path)).body:
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
            continue  # a docstring
        if not (
            isinstance(node, ast.Assign)
            and len(node.targets) == 1
            and isinstance(node.targets[0], ast.Name)
        ):
            raise ValueError(f"{path}:{node.lineno}: expected a `name = value` line")
        try:
            settings[node.targets[0].id] = ast.literal_eval(node.value)
        except ValueError as err:
            raise ValueError(f"{path}:{node.lineno}: the value must be a literal") from err
    return settings


def parse_override(arg: str) -> tuple[str, object]:
    """'--key=value' -> (key, value). Values are Python literals, except that a text
    setting takes the text as it is, so --device=cpu needs no quotes."""
    if not arg.startswith("--") or "=" not in arg:
        raise ValueError(f"expected --key=value, got {arg!r}")
    key, text = arg[2:].split("=", 1)
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        value = text
    if isinstance(DEFAULTS.get(key), str) and not isinstance(value, str):
        value = text
    return key, value


def resolve_config(config_file: str | Path | None = None, overrides: Mapping | None = None):
    """DEFAULTS, then the config file's settings, then overrides: every one checked."""
    config = dict(DEFAULTS)
    layers = [read_config_file(config_file) if config_file else {}, overrides or {}]
    for layer in layers:
        for key, value in layer.items():
            config[key] = check_setting(key, value)
    return config


def config_file_for(name_or_path: str) -> Path:
    """A preset name (a file in model_src/config/) or a path to a config file."""
    preset = CONFIG_DIR / f"{name_or_path}.py"
    path = preset if preset.is_file() else Path(name_or_path)
    if not path.is_file():
        presets = sorted(p.stem for p in CONFIG_DIR.glob("*.py"))
        raise ValueError(f"no config file {name_or_path!r}; presets: {', '.join(presets)}")
    return path


def get_lr(it: int, config: Mapping) -> float:
    """Learning rate for step `it`: a linear warmup from near zero to learning_rate, then
    half a cosine down to min_lr at lr_decay_iters, then min_lr for good."""
    lr, min_lr = config["learning_rate"], config["min_lr"]
    warmup, decay_end = config["warmup_iters"], config["lr_decay_iters"]
    if not config["decay_lr"]:
        return lr
    if it < warmup:
        return lr * (it + 1) / (warmup + 1)
    if it >= decay_end:
        return min_lr
    progress = (it - warmup) / (decay_end - warmup)  # 0 -> 1
    return min_lr + 0.5 * (1.0 + math.cos(math.pi * progress)) * (lr - min_lr)


@contextlib.contextmanager
def arithmetic(model, optimizer, dtype: str):
    """Run a step's (or, with no optimizer, an evaluation's) arithmetic in `dtype`, the
    weights and the optimiser's moments keeping their own dtype (float32) between steps:
    nanoGPT's autocast turned upwards (on a GPU it runs the forward pass in bfloat16 over
    float32 weights), with the optimiser's step inside. With 'float64' a run almost
    always comes out the same on any machine: another CPU, thread count or the page's
    JavaScript sums in another order, which moves a float64 result in its last bits, far
    below float32's precision of about 1e-7, so rounding each weight back to float32
    lands on the same value; only a result a hair from halfway can round the other way.
    (The attention's key biases excepted: their exact gradient is 0, so AdamW steps them
    by rounding noise, which moves no loss.) In float32 every such difference lands in
    the weights and grows from step to step. 'float32' casts nothing: a float64 model
    computes in float64."""
    if dtype not in ("float32", "float64"):
        raise ValueError(f"dtype must be 'float32' or 'float64', not {dtype!r}")
    kept = next(model.parameters()).dtype
    if dtype == "float32":
        yield
        return
    _cast(model, optimizer, torch.float64)
    try:
        yield
    finally:
        _cast(model, optimizer, kept)  # for float32 weights, the rounding to the nearest


def _cast(model, optimizer, dtype: torch.dtype) -> None:
    model.to(dtype)  # the same Parameter objects, so the optimiser still holds them
    for state in optimizer.state.values() if optimizer else ():
        for key, value in state.items():
            if key != "step" and torch.is_tensor(value) and value.is_floating_point():
                state[key] = value.to(dtype)


@torch.no_grad()
def estimate_loss(model, batches: Callable, config: Mapping) -> dict[str, float]:
    """Mean loss over eval_iters batches of each split. One training batch is a noisy
    estimate; the same seeded batches every time make evaluations comparable."""
    model.eval()
    losses = {}
    with arithmetic(model, None, config["dtype"]):
        for split in ("train", "val"):
            generator = torch.Generator().manual_seed(config["seed"])
            total = 0.0
            for _ in range(config["eval_iters"]):
                total += model(*batches(split, generator))[1].item()
            losses[split] = total / config["eval_iters"]
    model.train()
    return losses


def file_batches(data_dir: Path, config: Mapping) -> Callable:
    """batches(split, generator) -> (x, y) drawn from DIR/{split}.bin, for fit()."""

    def batches(split: str, generator: torch.Generator):
        size, block = config["batch_size"], config["block_size"]
        return prepare.get_batch(split, data_dir, size, block, generator, config["device"])

    return batches


def memory_batches(data: prepare.Dataset, config: Mapping) -> Callable:
    """batches(split, generator) -> (x, y) drawn from a dataset in memory, for fit()."""

    def batches(split: str, generator: torch.Generator):
        rows = data.train if split == "train" else data.val
        return prepare.sample_batch(
            rows, data.meta, config["batch_size"], config["block_size"], generator
        )

    return batches


def save_checkpoint(out_dir: Path, checkpoint: dict) -> None:
    """Write ckpt.pt in one piece: a crash mid-write leaves the previous one intact."""
    partial = out_dir / "ckpt.pt.partial"
    torch.save(checkpoint, partial)
    os.replace(partial, out_dir / "ckpt.pt")


def train(config: Mapping, observe: Callable | None = None) -> dict:
    """Train as `config` (DEFAULTS overridden by its entries) says; return a summary:
    iters, best_val_loss, train_loss, val_loss (last evaluation), num_params,
    train_seconds (wall time) and tokens_per_second (during optimiser steps).

    observe(model, iter_num, loss), if given, is called before the first step (loss
    None) and after every step; it may look at the model but must not change it."""
    cfg = resolve_config(overrides=config)
    out_dir = Path(cfg["out_dir"])
    out_dir.mkdir(parents=True, exist_ok=True)
    data_dir = Path(cfg["data_dir"] or Path("data") / cfg["dataset"])
    if not (data_dir / "meta.pkl").exists():
        print(f"preparing {cfg['dataset']} data in {data_dir}", file=sys.stderr)
        prepare.write(prepare.build(cfg["dataset"]), data_dir)
    shutil.copy(data_dir / "meta.pkl", out_dir / "meta.pkl")  # keep the tokenizer at hand

    # seeded, and the caller's process left as it was: same thread count, same random state
    with seeds.seeded(cfg["seed"], cfg["threads"]):
        return _train(cfg, out_dir, data_dir, observe)


def init_model(cfg: dict, out_dir: Path, vocab_size: int) -> tuple[GPT, dict, dict | None]:
    """The model to train, its model_args, and the checkpoint it was rebuilt from
    (None when init_from is 'scratch')."""
    model_args = {k: cfg[k] for k in ("n_layer", "n_head", "n_embd", "block_size", "bias")}
    model_args.update(vocab_size=vocab_size, dropout=cfg["dropout"])
    checkpoint = None
    if cfg["init_from"] == "scratch":
        model = GPT(GPTConfig(**model_args))
    elif cfg["init_from"] == "resume":
        checkpoint = torch.load(out_dir / "ckpt.pt", map_location=cfg["device"])
        # the architecture is the checkpoint's, whatever the config says; dropout may change
        model_args = {**checkpoint["model_args"], "dropout": cfg["dropout"]}
        model = GPT.from_checkpoint({**checkpoint, "model_args": model_args})
    else:
        raise ValueError(f"init_from must be 'scratch' or 'resume', not {cfg['init_from']!r}")
    if cfg["block_size"] < model.config.block_size:
        model.crop_block_size(cfg["block_size"])
        model_args["block_size"] = cfg["block_size"]
    return model.to(cfg["device"]), model_args, checkpoint


def _train(cfg: dict, out_dir: Path, data_dir: Path, observe: Callable | None) -> dict:
    device_type = "cuda" if "cuda" in cfg["device"] else "cpu"
    vocab_size = prepare.load_meta(data_dir)["vocab_size"]
    model, model_args, checkpoint = init_model(cfg, out_dir, vocab_size)
    optimizer = model.configure_optimizers(
        cfg["weight_decay"], cfg["learning_rate"], (cfg["beta1"], cfg["beta2"]), device_type
    )
    start_iter, best_val_loss = 0, math.inf
    if checkpoint is not None:
        optimizer.load_state_dict(checkpoint["optimizer"])
        start_iter, best_val_loss = checkpoint["iter_num"], checkpoint["best_val_loss"]
        del checkpoint  # free the memory before training

    def save(iter_num: int, best: float) -> None:
        state = {"model": model.state_dict(), "optimizer": optimizer.state_dict()}
        info = {"model_args": model_args, "iter_num": iter_num, "best_val_loss": best}
        save_checkpoint(out_dir, {**state, **info, "config": cfg})

    summary = fit(
        model,
        cfg,
        file_batches(data_dir, cfg),
        optimizer=optimizer,
        observe=observe,
        save=save,
        start_iter=start_iter,
        best_val_loss=best_val_loss,
    )
    with open(out_dir / "log.jsonl", "a" if cfg["init_from"] == "resume" else "w") as log:
        log.writelines(json.dumps(record) + "\n" for record in summary.pop("log"))
    return summary


def fit(
    model,
    cfg: Mapping,
    batches: Callable,
    *,
    optimizer=None,
    observe: Callable | None = None,
    save: Callable | None = None,
    start_iter: int = 0,
    best_val_loss: float = math.inf,
) -> dict:
    """The training loop, for any model(x, y) -> (logits, loss) and any batches(split,
    generator) -> (x, y); a target of -1 is not scored, which is how a caller masks the
    loss. Trains `model` in place from step start_iter to cfg["max_iters"]: schedule,
    gradient accumulation, clipping, evaluation every eval_interval steps.

    optimizer defaults to the model's AdamW over the parameters that require grad.
    observe(model, iter_num, loss) is called before the first step (loss None) and
    after every step. save(iter_num, best_val_loss), if given, is called when an
    evaluation improves on the best val loss (or always, with always_save_checkpoint).
    Returns the summary train() returns, plus "log": the records log.jsonl holds."""
    device_type = "cuda" if "cuda" in cfg["device"] else "cpu"
    if optimizer is None:
        betas = (cfg["beta1"], cfg["beta2"])
        optimizer = model.configure_optimizers(
            cfg["weight_decay"], cfg["learning_rate"], betas, device_type
        )
    forward = torch.compile(model) if cfg["compile"] else model
    # seeded by the first step: a resumed run draws new batches, not its first ones again
    generator = torch.Generator().manual_seed(cfg["seed"] + start_iter)
    accum = cfg["gradient_accumulation_steps"]
    tokens_per_iter = accum * cfg["batch_size"] * cfg["block_size"]
    start, step_seconds, iter_num = time.perf_counter(), 0.0, start_iter
    losses, log = {}, []
    if observe:
        observe(model, iter_num, None)
    while iter_num < cfg["max_iters"]:
        lr = get_lr(iter_num, cfg)
        for group in optimizer.param_groups:
            group["lr"] = lr * group.get("lr_scale", 1.0)  # muon.py: Muon's own multiple
        t0, loss_sum = time.perf_counter(), 0.0
        with arithmetic(model, optimizer, cfg["dtype"]):
            for _ in range(accum):
                _, loss = forward(*batches("train", generator))
                # gradients add up over micro-batches; dividing makes the sum a mean
                (loss / accum).backward()
                loss_sum += loss.item()
            if cfg["grad_clip"]:
                torch.nn.utils.clip_grad_norm_(model.parameters(), cfg["grad_clip"])
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
        step_seconds += time.perf_counter() - t0
        iter_num += 1

        record = {"iter": iter_num, "loss": loss_sum / accum, "lr": lr}
        if observe:
            observe(model, iter_num, record["loss"])
        if iter_num % cfg["eval_interval"] == 0 or iter_num == cfg["max_iters"]:
            losses = estimate_loss(model, batches, cfg)
            record.update(train_loss=losses["train"], val_loss=losses["val"])
            _report(cfg, iter_num, losses, time.perf_counter() - start)
            if losses["val"] < best_val_loss or cfg["always_save_checkpoint"]:
                best_val_loss = min(best_val_loss, losses["val"])
                if save:
                    save(iter_num, best_val_loss)
        if "val_loss" in record or iter_num % cfg["log_interval"] == 0:
            record["time"] = time.perf_counter() - start
            log.append(record)

    steps_done = iter_num - start_iter
    return {
        "iters": iter_num,
        "best_val_loss": best_val_loss,
        "train_loss": losses.get("train"),
        "val_loss": losses.get("val"),
        "num_params": model.get_num_params(),
        "train_seconds": time.perf_counter() - start,
        "tokens_per_second": steps_done * tokens_per_iter / step_seconds if steps_done else 0.0,
        "log": log,
    }


def _report(cfg: Mapping, iter_num: int, losses: dict, seconds: float) -> None:
    print(
        f"[{cfg['dataset']}] iter {iter_num}/{cfg['max_iters']}: "
        f"train loss {losses['train']:.4f}, val loss {losses['val']:.4f}, {seconds:.1f}s",
        file=sys.stderr,
    )


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    config_file = config_file_for(args[0]) if args and not args[0].startswith("--") else None
    overrides = dict(parse_override(a) for a in args[1 if config_file else 0 :])
    summary = train(resolve_config(config_file, overrides))
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
