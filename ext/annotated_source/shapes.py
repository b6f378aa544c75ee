"""Capture, per source line, the shapes of the tensors that line binds, by running the model.

The annotated file itself is imported (under a unique module name, so another
checkout's ``model.py`` is what runs), a GPT is built from the preset's config and a
small driver exercises it: construction, ``forward`` with targets (a second time with
nanoGPT's fused-attention switch off, so the explicit attention lines run too),
``generate`` and ``configure_optimizers``. While it runs, ``sys.settrace`` follows
only the frames of functions defined in that file; after each statement the frame's
locals are compared with their previous values, and every tensor (or tuple/list of
tensors, or int) the statement bound is attributed to the statement's first line. A
line is recorded the first time it runs: the first call of a function called many
times, the first iteration of a loop.

The capture runs in a process of its own (processes.call_apart): whatever the model
code does there, the build goes on. Results are entries of the store in
``cache_root(app)/shapes``, keyed by everything that can change them: the file and the
project files it imports, the preset (its name, resolved config and sample input), the
presets module's source, this module's source and the torch version.
"""

from __future__ import annotations

import ast
import contextlib
import functools
import importlib
import importlib.metadata
import importlib.util
import io
import json
import sys
import time
from dataclasses import asdict, fields, is_dataclass
from pathlib import Path
from typing import Any

from buildlib import keys, processes, store

from .. import producers
from .._core import (
    MODEL_CODE_ERRORS,
    Problem,
    defined_classes,
    model_size_problem,
    out_of_memory,
    own_config,
    project_imports,
    shape_text,
)
from .formulas import RUNS, VARIANT_RUNS, Run, add_formulas, symbol_values
from .locate import bound_names, function_lines, loop_bodies, parse_file, statement_starts

# What the driver runs, in order: a reader of a warning learns what "ran" means.
DRIVER = (
    "GPT(GPTConfig(**preset)) (or the file's own last model class, with its own config "
    "class), model(idx, targets) (again with flash=False where a layer "
    "has that switch), model.generate(idx[:, :4], 2), model.configure_optimizers(0.1, 1e-3, "
    '(0.9, 0.95), "cpu")'
)
_LIST_LIMIT = 4  # longer lists of tensors are summarised as "N tensors"


def cache_key(path: Path, preset: str, presets_module: str, root: Path) -> str:
    """Digest of every input that shapes a capture's result.

    The preset's resolved config and sample input are part of it, not just the presets
    module's source: a preset may read config files that no import reaches.
    """
    parts = [code_and_places(path), preset, _presets_source(presets_module)]
    parts += [keys.code_digest(p) for p in project_imports(path, root)]
    parts += [_preset_fingerprint(presets_module, preset), _torch_version()]
    parts += keys.producer_code(__file__)  # this file and locate.py, which says which line is which
    return keys.digest(*parts)


def code_and_places(path: Path) -> str:
    """Digest of the file's code and where each piece of it is: shapes sit on lines, so
    an edit that moves code counts, a comment that moves none (one at the end) does not."""
    data = Path(path).read_bytes()
    try:
        tree = keys.parse_python(data)
    except (SyntaxError, ValueError):
        return keys.digest(data)
    return keys.digest(ast.dump(tree, include_attributes=True))


def _presets_source(presets_module: str) -> str:
    origin = keys.module_file(presets_module)
    if origin is None:
        raise Problem(f"presets module {presets_module!r} not found")
    return origin.read_text(encoding="utf-8")


@functools.cache
def _preset_fingerprint(presets_module: str, preset: str) -> str:
    try:
        presets = importlib.import_module(presets_module)
    except MODEL_CODE_ERRORS as error:
        raise Problem(
            f"presets module {presets_module!r} does not import: {type(error).__name__}: {error}"
        ) from error
    config, idx = _preset(presets, preset)
    return repr(sorted(_as_dict(config).items())) + repr(idx.tolist())


def _preset(presets, preset: str, run: Run | None = None):
    """The preset's GPTConfig and sample input, as ``run`` varies them (default: the
    preset itself on its sample input); Problem says what went wrong."""
    run = run or Run()
    try:
        config = presets.gpt_config(preset, **run.overrides(presets.gpt_config(preset)))
        if problem := model_size_problem(config, *run.input_size(config.block_size)):
            raise Problem(f"{problem}; capture a smaller preset")
        return config, presets.sample_input(preset, *run.input_size(config.block_size))
    except Problem:
        raise
    except KeyError as error:
        known = ", ".join(getattr(presets, "PRESETS", ()))
        raise Problem(f"unknown preset {preset!r} (presets: {known})") from error
    except MODEL_CODE_ERRORS as error:
        raise Problem(_describe_error(f"preset {preset!r}", error)) from error


def _symbols(presets_module: str, preset: str, run: Run) -> dict[str, int]:
    config, idx = _preset(importlib.import_module(presets_module), preset, run)
    return symbol_values(config, *idx.shape)


def _torch_version() -> str:
    try:
        return importlib.metadata.version("torch")
    except importlib.metadata.PackageNotFoundError:
        return "no torch"


def cached_capture(
    path: Path,
    preset: str,
    presets_module: str,
    root: Path,
    cache: Path,
    *,
    timeout: float = 0,
    memory: int | None = None,
    log=None,
) -> dict:
    """The capture for (file, preset) outside a build (tests, tools): from the store in
    ``cache``, or by running the model in a process of its own (``timeout`` seconds,
    ``memory`` bytes; ``log`` says when a damaged entry is made again). A capture that
    raised is returned (with its errors) but not stored, as in a build."""
    captures = Captures()
    made = producers.obtain(
        captures,
        store.Store(cache, log=log),
        cache_key(path, preset, presets_module, root),
        lambda folder: captures.written(
            capture_apart(path, preset, presets_module, timeout, memory), folder
        ),
    )
    return made.value or {"lines": {}, "errors": [p.message for p in made.problems]}


RESULT = "capture.json"


class Captures(producers.Producer):
    """How a capture is stored and read back; a capture that raised is shown with its
    errors, never stored (transforms.Shapes: what pages ask for and where to say it)."""

    name, thing = "shapes", "the capture"

    def write(self, result: dict, folder: Path) -> None:
        (folder / RESULT).write_text(json.dumps(result, indent=1, ensure_ascii=False))
        store.write_meta(folder, {"files": {"capture": RESULT}})

    def read(self, entry: Path, meta: dict) -> dict:
        """A stored capture; a ValueError when it is not one (the entry is damaged)."""
        result = json.loads((entry / RESULT).read_text(encoding="utf-8"))
        if not (isinstance(result, dict) and isinstance(result.get("lines"), dict)):
            raise ValueError(f"{RESULT} holds no capture")
        return result

    def problems(self, result: dict) -> list[Problem]:
        return [Problem(error, CAPTURE_HINT) for error in result["errors"]]


CAPTURE_HINT = f"check nanobook_presets and :shapes:; the capture runs {DRIVER}"


def lines_in(result: dict, start: int, end: int) -> dict:
    """The captured lines from ``start`` to ``end`` that bound a value."""
    return {
        line: entry
        for line, entry in result["lines"].items()
        if start <= int(line) <= end and entry["values"]
    }


def capture_apart(path: Path, preset: str, presets_module: str, timeout, memory) -> dict:
    """The capture, run in a process of its own: what ends or outlasts it is an error."""
    apart = processes.call_apart(
        f"{__name__}:capture_with_formulas",
        {"path": str(path), "preset": preset, "presets_module": presets_module},
        timeout=timeout,
        memory=memory,
        imports=("torch",),
    )
    if apart.ok:
        return apart.value
    problem = (
        f"the model code ran longer than {timeout:g} s and was stopped"
        if apart.timed_out
        else f"the capture stopped: {apart.failure}"
    )
    return {"lines": {}, "errors": [problem], "seconds": 0.0}


def capture_with_formulas(path: str, preset: str, presets_module: str) -> dict:
    """The capture, with each line's shapes as formulas of the config (runs in the
    worker of ``capture_apart``)."""
    result = capture(Path(path), preset, presets_module)
    if not result["errors"]:
        try:
            variants = [capture(Path(path), preset, presets_module, run) for run in VARIANT_RUNS]
            tables = [_symbols(presets_module, preset, run) for run in RUNS]
        except Problem as error:
            return {**result, "errors": [str(error)]}
        add_formulas(result, variants, tables)
        result["symbols"], result["second_size"] = tables[0], variants[0]["lines"]
    return result


# --- running the model ----------------------------------------------------------------


def capture(path: Path, preset: str, presets_module: str, run: Run | None = None) -> dict:
    """Run the driver over the file's GPT and return what each line bound.

    ``{"lines": {"<line>": {"values": [[name, shape], ...], "loop": label|None}},
    "errors": [...], "seconds": float}``. Problems with the preset are errors too, so
    the caller can warn where the block is.
    """
    began = time.perf_counter()
    path = Path(path).resolve()
    tree, file_lines = parse_file(path)
    recorder = LineRecorder(
        str(path),
        statement_starts(tree, file_lines),
        loop_bodies(tree),
        function_lines(tree),
        bound_names(tree),
    )
    errors: list[str] = []
    try:
        presets = importlib.import_module(presets_module)
        with _imported(path) as module, contextlib.redirect_stdout(io.StringIO()):
            _drive(module, presets, preset, recorder, errors, run)
    except Problem as error:
        errors.append(str(error))
    except MODEL_CODE_ERRORS as error:
        errors.append(_describe_error("setting up", error))
    return {
        "lines": {str(line): entry for line, entry in sorted(recorder.lines.items())},
        "errors": errors,
        "seconds": round(time.perf_counter() - began, 3),
    }


def _drive(module, presets, preset, recorder: LineRecorder, errors: list[str], run) -> None:
    import torch

    config, idx = _preset(presets, preset, run)
    model_class = _file_model(module)
    if model_class is getattr(module, "GPT", None):  # nanoGPT's file (any checkout's)
        config = module.GPTConfig(**_config_kwargs(config, module.GPTConfig))
    targets = torch.roll(idx, -1, dims=1)
    # Seeded for the same run every build; forked so the build's own RNG state is untouched.
    with torch.random.fork_rng(), recorder:
        torch.manual_seed(0)
        model = model_class(own_config(model_class, config))
        model.eval()  # the same answer every build, whatever the dropout
        steps = [
            ("forward", lambda: model(idx, targets)),
            ("forward", lambda: _explicit_attention(model) and model(idx, targets)),
            ("generate", lambda: model.generate(idx[:, : min(4, idx.size(1))], 2)),
            (
                "configure_optimizers",
                lambda: model.configure_optimizers(0.1, 1e-3, (0.9, 0.95), "cpu"),
            ),
        ]
        for name, step in steps:
            if not hasattr(model, name):
                continue  # another checkout may lack a helper; its lines just stay empty
            try:
                step()
            except MODEL_CODE_ERRORS as error:
                errors.append(_describe_error(f"GPT.{name}", error))


def _file_model(module) -> type:
    """The model the file runs: its GPT if it defines one (nanoGPT's model.py), else the
    last nn.Module class it defines (modern.py's ModernGPT, ngpt.py's NGPT)."""
    import torch.nn as nn

    models = [c for c in defined_classes(module) if issubclass(c, nn.Module)]
    gpt = getattr(module, "GPT", None)
    if gpt is not None and (not models or gpt in models):
        return gpt
    return models[-1] if models else gpt


def _explicit_attention(model) -> bool:
    """Switch nanoGPT's attention layers off the fused kernel, so the explicit lines run.

    With PyTorch 2, nanoGPT's ``flash`` path never builds the attention matrix and the
    lines the book explains (scores, mask, softmax) would have no shapes. True when
    some layer was switched; such a layer also gets the causal mask it then reads.
    """
    import torch

    switched = False
    size = model.config.block_size
    for layer in model.modules():
        if getattr(layer, "flash", None) is True:
            layer.flash = False
            if not hasattr(layer, "bias"):
                mask = torch.tril(torch.ones(size, size)).view(1, 1, size, size)
                layer.register_buffer("bias", mask, persistent=False)
            switched = True
    return switched


def _as_dict(config: Any) -> dict:
    return asdict(config) if is_dataclass(config) else dict(vars(config))


def _config_kwargs(config: Any, target: type) -> dict:
    """The preset's GPTConfig fields that the annotated file's GPTConfig accepts."""
    values = _as_dict(config)
    if is_dataclass(target):
        accepted = {field.name for field in fields(target)}
        values = {name: value for name, value in values.items() if name in accepted}
    return values


def _describe_error(step: str, error: BaseException) -> str:
    why = " (more memory than nanobook_model_memory gives it)" if out_of_memory(error) else ""
    return f"{step} raised {type(error).__name__}: {error}{why}"


@contextlib.contextmanager
def _imported(path: Path):
    """Import ``path`` as a fresh module (its folder on sys.path); forget it afterwards."""
    name = f"_annotated_source_{keys.digest(str(path), keys.file_digest(path))}"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up while the file runs
    folders = [str(path.parent)]
    if (path.parent / "__init__.py").exists():  # a package's file: its relative imports work
        module.__package__ = path.parent.name
        folders.append(str(path.parent.parent))
    sys.path[:0] = folders
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        for folder in folders:
            sys.path.remove(folder)
        sys.modules.pop(name, None)


# --- tracing --------------------------------------------------------------------------


class LineRecorder:
    """A ``sys.settrace`` hook recording what each line of one file binds, first run only.

    Use it as a context manager: the previous trace function is back in place on exit,
    whatever happened inside.
    """

    def __init__(
        self,
        filename: str,
        starts: dict[int, int],
        loops: dict[int, frozenset[int]],
        functions: dict[int, int],
        bound: dict[int, tuple[str, ...]],
    ):
        self.filename = filename
        self.starts = starts
        self.loops = loops
        self.functions = functions  # code object's first line -> its def line
        self.bound = bound
        self.lines: dict[int, dict] = {}
        self._previous = None

    def __enter__(self) -> LineRecorder:
        self._previous = sys.gettrace()
        sys.settrace(self._on_call)
        return self

    def __exit__(self, *exc_info) -> None:
        sys.settrace(self._previous)

    def _on_call(self, frame, event: str, arg):
        code = frame.f_code
        if code.co_filename != self.filename or code.co_firstlineno not in self.functions:
            return None  # torch, the driver, comprehensions: not ours to record
        return _FrameTracer(self, frame).trace

    def record(self, line: int, values: list[list[str]], loop: str | None) -> None:
        if line not in self.lines:
            self.lines[line] = {"values": values, "loop": loop}


class _FrameTracer:
    """Follows one call: diffs its locals at each statement boundary."""

    def __init__(self, recorder: LineRecorder, frame):
        self.recorder = recorder
        self.statement: int | None = None
        self.iterations: dict[int, int] = {}  # loop header -> iteration being run
        self.seen = dict(frame.f_locals)
        def_line = recorder.functions[frame.f_code.co_firstlineno]
        arguments = [
            [name, shape]
            for name, value in self.seen.items()
            if name != "self" and (shape := describe(value))
        ]
        recorder.record(def_line, arguments, None)

    def trace(self, frame, event: str, arg):
        if event == "line":
            statement = self.recorder.starts.get(frame.f_lineno, frame.f_lineno)
            if statement != self.statement:
                self._finish(frame)
                self._count_iteration(statement)
                self.statement = statement
        elif event == "return":
            self._finish(frame, returned=describe(arg))
        return self.trace

    def _finish(self, frame, returned: str | None = None) -> None:
        """Attribute what the statement just run bound to its first line."""
        if self.statement is None:
            return
        now = dict(frame.f_locals)
        assigned = self.recorder.bound.get(self.statement, ())
        values = [
            [name, shape]
            for name, value in now.items()
            if (name in assigned or name not in self.seen or self.seen[name] is not value)
            and (shape := describe(value))
        ]
        if returned:
            values.append(["return", returned])
        self.seen = now
        self.recorder.record(self.statement, values, self._loop_label(self.statement))

    def _count_iteration(self, statement: int) -> None:
        body = self.recorder.loops.get(statement)
        if body is None:
            return
        if self.statement in body:
            self.iterations[statement] = self.iterations.get(statement, 0) + 1
        else:
            self.iterations[statement] = 1  # entering the loop afresh

    def _loop_label(self, line: int) -> str | None:
        loops = self.recorder.loops.items()
        enclosing = [header for header, body in loops if line in body or line == header]
        if not enclosing:
            return None
        if all(self.iterations.get(h, 1) == 1 for h in enclosing):
            return "1st iteration"
        return "a later iteration"


def describe(value: Any) -> str | None:
    """``1×3×11×16`` for a tensor (dtype added unless float32), None for what we skip."""
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(value, torch.Tensor):
        shape = shape_text(value.shape)
        if value.dtype != torch.float32:
            shape += f" {str(value.dtype).removeprefix('torch.')}"
        return shape
    if torch is not None and isinstance(value, torch.Size):
        return "size " + shape_text(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    tensors = torch is not None and isinstance(value, tuple | list) and value
    if tensors and all(isinstance(item, torch.Tensor) for item in value):
        if len(value) > _LIST_LIMIT:
            return f"{len(value)} tensors"
        return "(" + ", ".join(describe(item) for item in value) + ")"
    return None
