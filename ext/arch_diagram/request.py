"""What to draw: the options checked, and the preset they name resolved. Shared by the
directive and the command line; torch is only imported by the model code it runs.

``parse`` checks the options' syntax only (cheap: the directive calls it while a page
is read). ``resolve_live`` imports the presets module and builds the config; ``run``
calls model code, so that whatever it raises is a Problem with a reason and a hint.
"""

from __future__ import annotations

import ast
import dataclasses
import math
import re
import sys
import textwrap
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from buildlib import keys

from .. import _core
from .._core import Problem
from .draw import MAX_WIDTH

KINDS = ("optimizer", "get_batch", "tokenizer", "generate")  # drawn by pipeline.py
# settings a kind takes in :config: besides the model's; generate's are model_src/sample.py's
# defaults, except max_new_tokens: None fills the context window once
KIND_SETTINGS = {
    "generate": {"max_new_tokens": None, "temperature": 0.8, "top_k": None, "top_p": None}
}
# what each of those may be: (test, what it is, the hint)
WHOLE, ABOVE_ZERO = "a whole number, at least 1", "a number above 0"
SETTING_RULES = {
    "max_new_tokens": (
        lambda v: _whole(v) and v >= 1,
        WHOLE,
        "leave it out to fill the context window once",
    ),
    "temperature": (
        lambda v: _number(v) and 0 < v < math.inf,
        ABOVE_ZERO,
        "1 samples as the model learned; lower is more careful",
    ),
    "top_k": (lambda v: _whole(v) and v >= 1, WHOLE, "leave it out to sample from every token"),
    "top_p": (
        lambda v: _number(v) and 0 < v <= 1,
        "a number above 0, at most 1",
        "leave it out to sample from every token",
    ),
}
DEFAULT_DEPTH = 2
# Levels expanded: beyond the nesting of any model, more draws the same.
DEPTH = _core.Number(
    int, 1, 100, str(DEFAULT_DEPTH), "1 draws the model's direct parts, 2 expands them (default)"
)
DEFAULT_PRESETS = "model_src.presets"
MAX_INPUT = 10**9  # batch or time: far beyond any model's, and short enough to read as int

_IDENTIFIER = r"[A-Za-z_]\w*"
_TARGET = re.compile(rf"^{_IDENTIFIER}(\.{_IDENTIFIER})*:{_IDENTIFIER}(\.{_IDENTIFIER})*$")
_FOCUS = re.compile(rf"^{_IDENTIFIER}(\.(\d+|{_IDENTIFIER}))*$")
_INPUT = re.compile(r"^\s*(\d+)\s*[x×]\s*(\d+)\s*$")


@dataclass(frozen=True)
class Request:
    target: str  # "module.path:Name" or one of KINDS
    preset: str | None = None  # None: the presets module's first preset
    overrides: tuple[tuple[str, object], ...] = ()
    focus: str = ""
    depth: int = DEFAULT_DEPTH
    input: tuple[int, int] | None = None  # (batch, time); None: the preset's sample
    presets: str = DEFAULT_PRESETS

    def key(self) -> str:
        """Everything about the request that changes the drawing, as stable text."""
        return repr(dataclasses.astuple(self))


def parse(
    target: str,
    config: str = "",
    focus: str = "",
    depth: str | int = "",
    input: str = "",
    presets: str = DEFAULT_PRESETS,
) -> Request:
    """A Request from option text, or a Problem naming the bad option."""
    target = target.strip()
    if target not in KINDS and not _TARGET.match(target):
        raise Problem(
            f"target {target!r} is neither module.path:Name nor a diagram kind",
            hint=f"e.g. model_src.model:GPT, model_src.model:Block, or one of {', '.join(KINDS)}",
        )
    preset, overrides = parse_config(config)
    focus = focus.strip()
    if focus and not _FOCUS.match(focus):
        raise Problem(
            f"focus {focus!r} is not a dotted module path",
            hint="e.g. transformer.h.0.attn (names as in model.named_modules())",
        )
    return Request(
        target, preset, overrides, focus, parse_depth(depth), parse_input(input), presets
    )


def parse_config(text: str) -> tuple[str | None, tuple[tuple[str, object], ...]]:
    """``sort`` / ``n_layer=2,n_embd=32`` / ``sort,n_layer=1``: a preset name (at most one)
    and key=value overrides, values read as Python literals (2, 0.1, True) or else text."""
    preset, overrides = None, {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        key, equals, value = (part.strip() for part in item.partition("="))
        if not equals:
            if preset is not None:
                raise Problem(
                    f"config {text!r} names two presets, {preset!r} and {item!r}",
                    hint="one preset, then key=value overrides: sort,n_layer=1",
                )
            preset = item
            continue
        if not re.fullmatch(_IDENTIFIER, key) or not value:
            raise Problem(
                f"config item {item!r} is not key=value", hint="e.g. sort,n_layer=2,n_embd=32"
            )
        overrides[key] = _literal(value)
    return preset, tuple(sorted(overrides.items()))


def _literal(text: str):
    """A config value as the Python literal it spells, else the text; also the text for a
    literal whose repr does not read back (1e400 is inf), since the request travels to
    the drawing's process as its repr (Request.key)."""
    try:
        value = ast.literal_eval(text)
        ast.literal_eval(repr(value))
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return text
    return value


def parse_depth(text: str | int) -> int:
    if text in ("", None):
        return DEFAULT_DEPTH
    try:
        return DEPTH(str(text))
    except ValueError:
        raise DEPTH.refusal("depth", str(text)) from None


def parse_input(text: str) -> tuple[int, int] | None:
    if not text or not text.strip():
        return None
    match = _INPUT.match(text)
    if not match or not all(1 <= int(size) <= MAX_INPUT for size in match.groups()):
        raise Problem(
            f"input {text!r} is not batch x time",
            hint=f"e.g. 1x11: one sequence of 11 tokens (each at most {MAX_INPUT:,})",
        )
    return int(match[1]), int(match[2])


# --- the files a drawing depends on ----------------------------------------------------


def source_files(request: Request, root: Path) -> list[Path]:
    """The Python files a drawing is made from, found without importing them, wherever
    they live: the target's module and the presets module, all they import (but the
    standard library and installed packages), and every file of the presets' package
    (its config files, and the char corpus is the package's own source)."""
    files: set[Path] = set()
    for name in [
        request.presets,
        *([] if request.target in KINDS else [request.target.partition(":")[0]]),
    ]:
        origin = keys.module_file(name)
        if origin is None:
            continue  # drawing reports it
        if keys.installed(origin):
            continue  # keyed by version: torch's is part of every drawing's key
        # inside the project root or not: a changed file must never leave a stale drawing
        files.add(origin)
        files.update(_core.project_imports(origin, root))
        if name == request.presets and "." in name:
            files.update(origin.parent.rglob("*.py"))
    return sorted(files)


# --- resolving what the request names --------------------------------------------------


@dataclass(frozen=True)
class Part:
    """A module as a diagram draws it, its numbers from the trace: what the drawing's text
    equivalent says of it, for readers who cannot see the drawing."""

    name: str  # as drawn: its path below the frame it is in; a run of siblings ``h.0…2``
    kind: str  # its type and the sizes that define it: ``Linear(48→144)``
    calls: int  # the identical siblings it stands for (a run of blocks), else 1
    shape: str  # the shape of its output
    params: int  # the parameters of one of its calls
    parts: tuple[Part, ...] = ()  # its own, in the drawing's order, when it is expanded
    own: int = 0  # when it is expanded: the parameters it holds itself, not its parts

    @classmethod
    def from_json(cls, data: dict) -> Part:
        return cls(**{**data, "parts": tuple(map(cls.from_json, data["parts"]))})


@dataclass
class Drawing:
    text: str
    notes: list[str]  # worth a warning, though the diagram was drawn
    # a module's diagram, again as text (none for the pipeline's kinds): the lines above
    # the drawing (what is drawn, the preset, the total, the focus), the modules drawn and
    # the footnotes (a tied weight counted once)
    header: list[str] = dataclasses.field(default_factory=list)
    parts: list[Part] = dataclasses.field(default_factory=list)
    footnotes: list[str] = dataclasses.field(default_factory=list)  # below the drawing

    def as_json(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> Drawing:
        """The drawing ``as_json`` gave; a ValueError, KeyError or TypeError for anything else."""
        text, notes, header = data["text"], data["notes"], data["header"]
        footnotes = data["footnotes"]
        lists = (notes, header, footnotes)
        if not (isinstance(text, str) and all(isinstance(lines, list) for lines in lists)):
            raise ValueError("the drawing is not text, notes, header lines and footnotes")
        parts = [Part.from_json(part) for part in data["parts"]]
        notes, header, footnotes = ([str(line) for line in lines] for lines in lists)
        return cls(text, notes, header, parts, footnotes)


@dataclass
class Live:
    """The preset's objects, as the live code builds them."""

    presets: object
    preset: str
    config: object
    overrides: tuple[tuple[str, object], ...]  # of the preset's config fields
    settings: dict  # the kind's own settings (KIND_SETTINGS), overrides applied
    # of the fields the model's own config class adds to the preset's (ModernConfig's
    # rmsnorm, ...): applied when the model is built (own_config)
    own: tuple[tuple[str, object], ...] = ()

    @property
    def name(self) -> str:
        """``preset sort`` or ``preset sort, n_layer=1``."""
        chosen = "".join(f", {key}={value!r}" for key, value in self.overrides)
        return f"preset {self.preset}{chosen}"

    def config_lines(self) -> list[str]:
        """``block_size=11 vocab_size=3 ... rmsnorm=True``, wrapped to the diagram's width:
        the preset's config, then the model's own fields it sets."""
        values = [*config_fields(self.config).items(), *self.own]
        fields = " ".join(f"{key}={value!r}" for key, value in values)
        return textwrap.wrap(fields, MAX_WIDTH, break_on_hyphens=False)

    def check_input(self, batch_time: tuple[int, int] | None) -> None:
        """A Problem if batch x time is longer than the model reads."""
        batch, time = batch_time or (1, None)
        block_size = getattr(self.config, "block_size", None)
        if time is not None and block_size is not None and time > block_size:
            raise Problem(
                f"input {batch}x{time} is longer than block_size {block_size} "
                f"of preset {self.preset}",
                hint=f"use a time of at most {block_size}, e.g. :input: {batch}x{block_size}",
            )

    def sample(self, batch_time: tuple[int, int] | None):
        self.check_input(batch_time)
        batch, time = batch_time or (1, None)
        return run(
            f"{self.presets.__name__}.sample_input({self.preset!r}, batch={batch}, time={time})",
            lambda: self.presets.sample_input(self.preset, batch=batch, time=time),
            hint="check :input: against the preset",
        )

    def build(self, model_class):
        """``model_class(config)``, seeded: the same weights on every drawing (the
        config in the model's own class, if it extends the preset's)."""
        import torch

        torch.manual_seed(0)
        return run(
            f"building {model_class.__name__} for preset {self.preset}",
            lambda: model_class(_core.own_config(model_class, self.config, dict(self.own))),
            hint="check the config overrides",
        )


def config_fields(config) -> dict[str, object]:
    if dataclasses.is_dataclass(config):
        return {f.name: getattr(config, f.name) for f in dataclasses.fields(config)}
    return dict(vars(config))


def resolve_live(request: Request) -> Live:
    presets = _core.presets_module(request.presets)
    missing = [name for name in ("PRESETS", "gpt_config") if not hasattr(presets, name)]
    if missing:
        raise Problem(
            f"the presets module {request.presets!r} has no {' or '.join(missing)}",
            hint="name a presets module like model_src.presets (PRESETS, gpt_config, sample_input)",
        )
    names = tuple(presets.PRESETS)
    preset = request.preset or names[0]
    if preset not in names:
        raise Problem(
            f"unknown preset {preset!r}", hint=f"presets in {request.presets}: {', '.join(names)}"
        )
    preset_config = run(
        f"{request.presets}.gpt_config({preset!r})", lambda: presets.gpt_config(preset)
    )
    base = config_fields(preset_config)
    settings = dict(KIND_SETTINGS.get(request.target, {}))
    own_name, own = "", {}
    if any(key not in base and key not in settings for key, _ in request.overrides):
        own_name, own = own_fields(request.target, preset_config, preset)
    model_overrides, own_overrides = [], []
    for key, value in request.overrides:
        if key in settings:
            valid, what, hint = SETTING_RULES[key]
            if not valid(value):
                raise Problem(f"{key}={value!r}: {key} is {what}", hint=hint)
            settings[key] = value
            continue
        if key not in base and key not in own:
            theirs = f"; {own_name}'s own: {', '.join(own)}" if own else ""
            raise Problem(
                f"unknown config key {key!r} for preset {preset}",
                hint=f"valid keys: {', '.join([*base, *settings])}{theirs}",
            )
        if key in base:
            check_override(key, value, base[key], "the preset's value")
            model_overrides.append((key, value))
        else:
            check_override(key, value, own[key], f"{own_name}'s value for preset {preset}")
            own_overrides.append((key, value))
    config = run(
        f"{request.presets}.gpt_config({preset!r}, ...)",
        lambda: presets.gpt_config(preset, **dict(model_overrides)),
        hint="check the config overrides",
    )
    live = Live(presets, preset, config, tuple(model_overrides), settings, tuple(own_overrides))
    live.check_input(request.input)  # first: a long input is not a size problem
    # before the model is built: its weights alone could take the machine down
    if problem := _core.model_size_problem(config, *(request.input or (1, None))):
        raise Problem(
            problem, hint="draw a smaller config (n_embd, n_layer) or :input: (e.g. 1x11)"
        )
    return live


def check_override(key: str, value, expected, whose: str) -> None:
    """A Problem unless ``value`` may replace ``expected``, ``whose`` value (the preset's,
    or that of a field the model's own config class adds): the same type, and a size or
    a count from 1 to what a diagram's model may hold."""
    said = f"{whose} is {expected!r}"
    if not _fits(value, expected):
        raise Problem(
            f"config key {key} expects {type(expected).__name__}, got {value!r}", hint=said
        )
    if _is_count(expected) and value < 1:  # a size or a count: n_layer, n_embd, ...
        raise Problem(f"config key {key} is a size, at least 1, not {value!r}", hint=said)
    if _is_count(expected) and value > _core.MAX_MODEL_NUMBERS:  # a float could not say it
        raise Problem(
            f"config key {key} is a size of at most {_core.MAX_MODEL_NUMBERS:,} (the most "
            f"numbers a diagram's model may hold), not {value!r}",
            hint=said,
        )


def own_fields(target: str, config, preset: str) -> tuple[str, dict[str, object]]:
    """The config class the target's module builds its model from, when it extends the
    preset's ``config`` (modern.py's ModernConfig, ngpt.py's NGPTConfig), and the fields
    it adds, valued as for the preset (its __post_init__ run: ModernConfig's wpe is a bool then);
    ("", {}) when there is none. The model is the last class of the module that takes
    one, as build_model looks for it (nanoGPT defines the whole model last)."""
    if target in KINDS:
        return "", {}
    import_target(target)
    module = sys.modules[target.partition(":")[0]]
    given = type(config)
    model = next(
        (
            cls
            for cls in reversed(defined_classes(module))
            if _core.own_config_class(cls, given) is not given
        ),
        None,
    )
    if model is None:
        return "", {}
    wanted = _core.own_config_class(model, given)
    values = config_fields(
        run(f"{wanted.__name__}(...) for preset {preset}", lambda: _core.own_config(model, config))
    )
    base = config_fields(config)
    return wanted.__name__, {key: value for key, value in values.items() if key not in base}


def import_target(target: str):
    """The object ``module.path:Name`` names, or a Problem saying why it cannot be imported."""
    try:
        return _core.import_object(target)
    except (ImportError, AttributeError) as err:
        raise Problem(
            f"cannot import {target!r}: {err}",
            hint="write module.path:Name, importable from the project root "
            "(e.g. model_src.model:GPT)",
        ) from err


def _whole(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _number(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _is_count(default) -> bool:
    """A config value that counts something (layers, heads, sizes): a positive int."""
    return isinstance(default, int) and not isinstance(default, bool) and default >= 1


def _fits(value, default) -> bool:
    """Whether an override has the type of the preset's value (an int is a fine float)."""
    if default is None:
        return True
    if isinstance(default, bool) or isinstance(value, bool):
        return isinstance(value, bool) and isinstance(default, bool)
    if isinstance(default, float):
        return isinstance(value, int | float)
    return isinstance(value, type(default))


defined_classes = _core.defined_classes


# --- running model code ------------------------------------------------------------------


def run(what: str, call: Callable, hint: str | None = None):
    """``call()``, which runs model code: whatever that raises becomes a Problem
    naming ``what`` and the project line that raised."""
    try:
        return call()
    except Problem:
        raise
    except _core.MODEL_CODE_ERRORS as err:
        if _core.out_of_memory(err):
            hint = (
                "the model code ran out of the memory the build gives it: draw a smaller "
                "config, or raise nanobook_model_memory (GB) in conf.py"
            )
        raise Problem(
            f"{what} raised {type(err).__name__}: {err}{where_raised(err)}",
            hint=hint or "the diagram is drawn from a real run: fix the code",
        ) from err


def where_raised(err: BaseException) -> str:
    """`` (at model_src/model.py:123)``: the innermost frame of the project's own code."""
    frames = [
        f
        for f in traceback.extract_tb(err.__traceback__)
        if "site-packages" not in f.filename and "/ext/arch_diagram/" not in f.filename
    ]
    if not frames:
        return ""
    frame = frames[-1]
    try:
        filename = Path(frame.filename).resolve().relative_to(Path.cwd())
    except ValueError:
        filename = Path(frame.filename).name
    return f" (at {filename}:{frame.lineno})"
