"""Plumbing shared by the book's Sphinx extensions.

Hashing for artifact names and cache keys, atomic copies, path rules for directive
arguments, located warnings, typed configuration, and the project files a Python
file imports (so cache keys change when a helper module changes).
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib
import math
import signal
import sys
import threading
import types
import typing
from pathlib import Path
from typing import Any, ClassVar

from docutils import nodes
from docutils.parsers.rst import directives
from sphinx.errors import ConfigError
from sphinx.util import logging

from buildlib import keys, processes, store
from buildlib.files import atomic_write

WARNING_TYPE = "nanobook"  # suppress with suppress_warnings = ["nanobook.<subtype>"]
# Every subtype, each named after the directive (or the feature) it speaks for; the
# authoring page lists them (docs/authoring.md, checked by tests/test_failures.py).
SUBTYPES = (
    "manim-clip",
    "manim-film",
    "arch-diagram",
    "annotated-source",
    "live-attention",
    "live-sampling",
    "live-tools",
    "live-chat",
    "training-replay",
    "predict-check",
    "live-training",
    "memory-calculator",
    "math",
    "reader-notebook",
    "notebook",
    "cell-image",
    "claim",
    "training",
)
# The hint of every warning about an artifact the cache could not take (OSError).
STORAGE_HINT = "make the cache folder writable (nanobook_cache_dir), or free space on its disk"
# What running the project's model code may raise without ending the build: any error,
# and SystemExit (a module that calls sys.exit() when imported would otherwise end the
# build with exit status 0, having written nothing). Ctrl+C still stops it.
MODEL_CODE_ERRORS = (Exception, SystemExit)
# Diagrams and shape captures run a forward pass in the build process: refuse a model or
# input whose tensors would hold more numbers than this (~400 MB of float32; the book's
# largest model with its activations needs about 1 M) before anything is allocated.
MAX_MODEL_NUMBERS = 100_000_000
# What that code may use by default, in its own process (processes.call_apart): seconds
# (nanobook_model_timeout) and GB of address space (nanobook_model_memory; torch
# itself takes about 0.7 GB of it, the book's largest diagram 0.8 GB).
MODEL_TIMEOUT, MODEL_MEMORY = 120, 4


def model_size_problem(config, batch: int = 1, time: int | None = None) -> str | None:
    """Why a forward pass of a GPT-shaped ``config`` on batch x time tokens is too big
    to run inside the build, or None. Counts weights and the activations of one pass."""
    C, L = getattr(config, "n_embd", 0), getattr(config, "n_layer", 0)
    V, nh = getattr(config, "vocab_size", 0), getattr(config, "n_head", 1)
    T = time or getattr(config, "block_size", 0)
    weights = 12 * L * C * C + (V + T) * C
    activations = batch * T * (L * (16 * C + nh * T) + V)  # per layer: q, k, v, 4C, T x T
    numbers = weights + activations
    if numbers <= MAX_MODEL_NUMBERS:
        return None
    return (
        f"a forward pass of this model on {batch}x{T} tokens holds about {numbers:.1e} "
        f"numbers ({numbers * 4 / 1e9:.1f} GB), more than the build runs "
        f"({MAX_MODEL_NUMBERS:.0e})"
    )


def defined_classes(module) -> list[type]:
    """The classes ``module`` itself defines, in order (nanoGPT defines the model last)."""
    return [
        obj
        for obj in vars(module).values()
        if isinstance(obj, type) and obj.__module__ == module.__name__
    ]


def own_config_class(model_class: type, given: type) -> type:
    """The config class ``model_class`` takes: its ``config`` argument's annotation when
    that is a dataclass extending ``given``, the preset's (modern.py's ModernConfig,
    ngpt.py's NGPTConfig), else ``given``."""
    try:
        wanted = typing.get_type_hints(model_class.__init__).get("config")
    except Exception:  # an annotation that does not resolve: take the preset's as it is
        return given
    if not (isinstance(wanted, type) and dataclasses.is_dataclass(given)):
        return given
    if wanted is given or not issubclass(wanted, given):
        return given
    return wanted


def own_config(model_class: type, config, overrides: dict | None = None):
    """``config`` as ``model_class`` takes it: in its own config class (own_config_class)
    with the preset's values, ``overrides`` of that class's own fields (rmsnorm=True),
    and its defaults for the rest. A Problem for an override the class does not have."""
    overrides = overrides or {}
    given = type(config)
    wanted = own_config_class(model_class, given)
    fields = {f.name for f in dataclasses.fields(wanted)} if wanted is not given else set()
    if unknown := sorted(set(overrides) - fields):
        raise Problem(
            f"{model_class.__name__} takes a {wanted.__name__}, which has no {', '.join(unknown)}",
            hint="draw a model whose own config class has these fields",
        )
    if wanted is given:
        return config
    return wanted(
        **{f.name: getattr(config, f.name) for f in dataclasses.fields(given)}, **overrides
    )


class ModelCodeTimeout(BaseException):
    """Model code ran longer than nanobook_model_timeout. Not an Exception, so the
    handlers that turn the code's own errors into results let it through: a timeout
    says nothing about the code and is never cached."""


@contextlib.contextmanager
def time_limit(seconds: float):
    """Interrupt model code that runs longer than ``seconds`` (main thread only: SIGALRM;
    a C++ operation already running finishes first)."""
    if not seconds or threading.current_thread() is not threading.main_thread():
        yield
        return

    def expire(signum, frame):
        raise ModelCodeTimeout(f"the model code ran longer than {seconds:g} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


_logger = logging.getLogger(__name__)


# --- hashing and atomic copies ------------------------------------------------------


def shape_text(shape) -> str:
    """``1×11×48``: how every extension writes a tensor's shape."""
    return "×".join(map(str, shape)) if len(shape) else "scalar"


def atomic_copy(src: Path, dest: Path) -> None:
    """Copy into place atomically; skip when the same bytes are already there (names
    hash inputs, not outputs, so only the content says two files are the same)."""
    src, dest = Path(src), Path(dest)
    if store.same_content(src, dest):
        return
    atomic_write(dest, src.read_bytes())


# --- warnings -------------------------------------------------------------------------


class Problem(ValueError):
    """What an input cannot do, and what would fix it: every directive's warning is made of
    one (``message`` and ``hint``), wherever it was found."""

    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message)
        self.message, self.hint = message, hint

    # Kept with what a build made (producers.Made, on env, pickled between builds) and
    # compared with the last build's to know which pages to write again.
    def __eq__(self, other) -> bool:
        return type(other) is type(self) and (other.message, other.hint) == (
            self.message,
            self.hint,
        )

    def __hash__(self) -> int:
        return hash((self.message, self.hint))

    def __reduce__(self):
        return type(self), (self.message, self.hint)


def warn(
    logger: logging.SphinxLoggerAdapter,
    message: str,
    *,
    location: Any,
    subtype: str,
    hint: str | None = None,
) -> None:
    """A warning users can locate (docname:line), act on (hint) and suppress (type).

    One said while a page is read is kept with the page and said again on every later
    build that does not re-read it, so a warm ``-W`` build fails like a cold one."""
    if subtype not in SUBTYPES:
        raise ValueError(f"warning subtype {subtype!r} is not one of _core.SUBTYPES")
    text = f"{message}\n  hint: {hint}" if hint else message
    logger.warning(text, location=location, type=WARNING_TYPE, subtype=subtype)
    _said_while_reading.append({"text": text, "line": _line_of(location), "subtype": subtype})


READ_WARNINGS = "nanobook_read_warnings"  # env.metadata[docname] key
_said_while_reading: list[dict] = []  # since the page being read started (this process)


def _line_of(location: Any) -> int | None:
    """The line of a (docname, line) pair, a node or a "source:line" string."""
    if isinstance(location, tuple):
        return location[1]
    if isinstance(location, str):
        line = location.rpartition(":")[2]
        return int(line) if line.isdigit() else None
    return getattr(location, "line", None)


def _page_read_starts(app, docname: str, source: list[str]) -> None:
    _said_while_reading.clear()


def _keep_read_warnings(app, doctree) -> None:
    """doctree-read: what was said while reading the page is kept with it (metadata is
    dropped when the page is re-read and merged from parallel readers by Sphinx)."""
    if _said_while_reading:
        app.env.metadata[app.env.docname][READ_WARNINGS] = list(_said_while_reading)
    _said_while_reading.clear()


def _note_pages_read(app, env, docnames) -> None:
    app.nanobook_pages_read = set(docnames)


def _catch_sigterm(app) -> None:
    app.nanobook_sigterm = processes.interrupt_on_sigterm()


def _release_sigterm(app, exception) -> None:
    processes.restore_sigterm(getattr(app, "nanobook_sigterm", None))


def _say_again(app, env) -> None:
    """env-updated: the kept warnings of every page this build did not read."""
    read = getattr(app, "nanobook_pages_read", set())
    for docname in sorted(env.metadata):
        if docname in read or docname not in env.found_docs:
            continue
        for said in env.metadata[docname].get(READ_WARNINGS, []):
            _logger.warning(
                said["text"],
                location=(docname, said["line"]),
                type=WARNING_TYPE,
                subtype=said["subtype"],
            )


class AnyOption(dict):
    """An option_spec that takes every option name (unknown ones as plain text) and every
    value (one its converter refuses becomes a BadValue), so the directive answers a bad
    option itself, located and with a hint, in MyST as in reST (docutils would drop the
    whole directive; MyST would warn without a hint)."""

    def __missing__(self, key):
        return directives.unchanged

    def __getitem__(self, key):
        convert = super().__getitem__(key)

        def checked(value):
            try:
                return convert(value)
            except (ValueError, TypeError) as error:
                text = value or ""  # an empty value is None in reST
                if isinstance(convert, Number):
                    return BadValue(text, convert.refusal(key, text))
                refused = Problem(f":{key}: {text!r} is not a value it takes", f":{key}: {error}")
                return BadValue(text, refused)

        return checked


@dataclasses.dataclass(frozen=True)
class BadValue:
    """An option value its converter refused, and what to say about it (AnyOption)."""

    text: str
    problem: Problem


# The largest whole number a page's widget settings carry exactly (JSON, read by the
# browser as a double): the bound of a whole-number option that has no tighter one.
MAX_EXACT_INTEGER = 2**53 - 1


@dataclasses.dataclass(frozen=True)
class Number:
    """A numeric option's converter (an option_spec value): the one place an option's
    number is read and held to its bounds, ``low`` to ``high`` included. Whole numbers
    (``kind`` int) are compared as Python ints, exact at any length; other numbers must
    be finite floats. Anything else, an empty value included, raises ValueError, which
    AnyOption turns into a BadValue saying ``refusal``. The bounds keep what divides or
    exponentiates by the value finite, and what the page's JSON carries exact."""

    kind: type  # int or float
    low: float
    high: float
    example: str  # a value the hint suggests
    about: str = ""  # what the hint adds: what the values mean

    def __call__(self, text: str | None):
        try:
            value = self.kind((text or "").strip())
        except ValueError:  # not a number, or an int of more digits than Python reads
            raise ValueError(f"not {self.wanted}") from None
        if self.kind is float and not math.isfinite(value):  # nan, inf, 1e400
            raise ValueError(f"not {self.wanted}")
        if not self.low <= value <= self.high:
            raise ValueError(f"not {self.wanted}")
        return value

    @property
    def wanted(self) -> str:
        number = "a whole number" if self.kind is int else "a number"
        return f"{number} from {self.low} to {self.high}"

    def refusal(self, name: str, text: str) -> Problem:
        """What a directive says about a value of its option ``name`` this refuses."""
        hint = f"e.g. :{name}: {self.example}" + (f"; {self.about}" if self.about else "")
        return Problem(f":{name}: {text!r} is not {self.wanted}", hint)


class OneArgument:
    """For a directive of one argument, checked in ``run`` like its options: a missing or
    second argument, or a body where it takes none, is then a located warning with a hint,
    said again on warm builds. docutils refuses those itself before ``run``, once, with
    no hint, and drops the directive."""

    required_arguments, optional_arguments, final_argument_whitespace = 0, 1, True
    has_content = True  # a body is refused in argument_problem unless takes_body
    takes_body: ClassVar[bool] = False
    argument_example: ClassVar[str]  # a valid argument, for the hints

    @property
    def argument(self) -> str:
        return self.arguments[0].strip() if self.arguments else ""

    def argument_problem(self) -> Problem | None:
        example = f"write it after the name: {{{self.name}}} {self.argument_example}"
        if not self.argument:
            return Problem("the argument is missing", example)
        if len(self.argument.split()) > 1:
            return Problem("it takes one argument, and this is more than one", example)
        if self.content and not self.takes_body:
            return Problem("it takes no body", "leave the fence empty but for its options")
        return None


def option_problems(directive) -> list[tuple[tuple[str, ...], Problem]]:
    """What is wrong with ``directive``'s options, each with the option names it is about:
    the unknown names together, then each value its converter refused (AnyOption)."""
    problems = []
    unknown = tuple(sorted(set(directive.options) - set(directive.option_spec)))
    if unknown:
        said = ", ".join(f":{name}:" for name in unknown)
        takes = ", ".join(f":{name}:" for name in directive.option_spec)
        problems.append(
            (unknown, Problem(f"unknown option(s) {said}", f"{directive.name} takes {takes}"))
        )
    for name, value in sorted(directive.options.items()):
        if isinstance(value, BadValue):
            problems.append(((name,), value.problem))
    return problems


def taken_options(options: dict) -> dict:
    """The options whose values their converters took (what is left for the directive once
    drop_bad_options has warned about the others; unknown names are ignored by it)."""
    return {name: value for name, value in options.items() if not isinstance(value, BadValue)}


def drop_bad_options(directive, logger, subtype: str) -> None:
    """Warn about the options ``directive`` does not know or whose value it refuses,
    then ignore them (a refused value leaves the option's default)."""
    location = (directive.env.docname, directive.lineno)
    for names, problem in option_problems(directive):
        warn(
            logger,
            f"{directive.name}: {problem.message}",
            location=location,
            subtype=subtype,
            hint=problem.hint,
        )
        for name in names:
            del directive.options[name]


NAMES = "nanobook_names"  # env.metadata[docname] key: {:name: of a directive: its line}


def add_name(directive, node, logger, subtype: str) -> bool:
    """``directive.add_name(node)`` for its :name:, unless it is empty or another target
    of the page or of another page has that name already: then a warning (docutils would
    say the second without type or hint, Sphinx the third not at all), and False, so the
    caller gives the node an anchor of its own."""
    name = nodes.fully_normalize_name(directive.options["name"] or "")
    location = (directive.env.docname, directive.lineno)
    if not name:
        warn(
            logger,
            f"{directive.name}: :name: is empty",
            location=location,
            subtype=subtype,
            hint="give the target a name (a :ref: names it), or leave :name: out",
        )
        return False
    if name in directive.state.document.nameids:
        warn(
            logger,
            f"{directive.name}: :name: {name!r} is already the name of another target on this page",
            location=location,
            subtype=subtype,
            hint="give each :name: once per page (a :ref: must know which one it means)",
        )
        return False
    elsewhere = _named_elsewhere(directive.env, name)
    if elsewhere:
        warn(
            logger,
            f"{directive.name}: :name: {name!r} is already the name of a target in {elsewhere}",
            location=location,
            subtype=subtype,
            hint="give each :name: once in the book: a :ref: to it reaches only one of them, "
            "and a clip's files named after it would overwrite the other's",
        )
        return False
    directive.env.metadata[directive.env.docname].setdefault(NAMES, {})[name] = directive.lineno
    directive.add_name(node)
    return True


def _named_elsewhere(env, name: str) -> str | None:
    """Where another page of the book names a target ``name`` ("docname:line", or the
    docname of a label), or None. Directive names are kept in the page's metadata, so
    a later build that re-reads only one of the two pages still sees the other."""
    for docname in sorted(env.found_docs - {env.docname}):
        line = env.metadata.get(docname, {}).get(NAMES, {}).get(name)
        if line is not None:
            return f"{docname}:{line}"
    labelled = env.domaindata["std"]["anonlabels"].get(name)
    if labelled and labelled[0] != env.docname and labelled[0] in env.found_docs:
        return labelled[0]
    return None


# --- per-page state -------------------------------------------------------------------


def per_page_state(app, *names: str) -> None:
    """Keep ``env.<name>`` = {docname: what the page's directives recorded} for each name:
    made empty before the first read, dropped for a page read again or removed, merged
    from parallel readers (the specs every after-reading step works from)."""

    def make(app, env, docnames) -> None:
        for name in names:
            if not hasattr(env, name):
                setattr(env, name, {})

    def purge(app, env, docname: str) -> None:
        for name in names:  # removed pages are purged before any page is read
            getattr(env, name, {}).pop(docname, None)

    def merge(app, env, docnames, other) -> None:
        for name in names:
            theirs = getattr(other, name)
            getattr(env, name).update({d: theirs[d] for d in docnames if d in theirs})

    app.connect("env-before-read-docs", make, priority=400)
    app.connect("env-purge-doc", purge)
    app.connect("env-merge-info", merge)


# --- paths ----------------------------------------------------------------------------


class PathOutsideProject(ValueError):
    pass


def project_root(app) -> Path:
    """The tree directive paths may point into: ``nanobook_project_root`` or srcdir."""
    root = app.config.nanobook_project_root or app.srcdir
    return Path(app.confdir, root).resolve()


def resolve_path(app, docname: str, argument: str) -> Path:
    """Resolve a directive path: ``/x`` from the source root, ``x`` from the page's folder.

    Raises PathOutsideProject for anything that escapes the project root.
    """
    srcdir = Path(app.srcdir)
    if argument.startswith("/"):
        path = srcdir / argument.lstrip("/")
    else:
        path = (srcdir / docname).parent / argument
    path = path.resolve()
    root = project_root(app)
    if not path.is_relative_to(root):
        raise PathOutsideProject(
            f"path {argument!r} resolves to {path}, outside the project root {root}"
        )
    return path


# --- project imports ------------------------------------------------------------------


def project_imports(path: Path, root: Path, search: list[Path] | None = None) -> list[Path]:
    """Python files that ``path`` imports, directly or through each other, wherever they
    live: found on ``search`` (default: the file's folder, then ``root``), then sys.path.

    Installed packages and the standard library are left out: they change only with
    their version, which cache keys record (keys.code_inputs).
    """
    search = [*(search or [Path(path).parent, root]), *(Path(p) for p in sys.path if p)]
    files, _ = keys.import_files(path, search)
    return files


CODE_DEPENDENCIES = "nanobook_code"  # env.metadata key: {path: code digest} per page


def note_code_dependency(env, path: Path) -> None:
    """Re-read the page when the code of ``path`` changes, not its comments (unlike
    env.note_dependency, which follows the file's mtime)."""
    try:
        digest = keys.code_digest(Path(path))
    except OSError:
        digest = ""
    env.metadata[env.docname].setdefault(CODE_DEPENDENCIES, {})[str(path)] = digest


def code_outdated(app, env, added, changed, removed) -> list[str]:
    """Pages one of whose code dependencies changed (env-get-outdated)."""
    digests: dict[str, str] = {}

    def current(path: str) -> str:
        if path not in digests:
            try:
                digests[path] = keys.code_digest(Path(path))
            except OSError:
                digests[path] = "gone"
        return digests[path]

    return [
        docname
        for docname, metadata in pages_read_before(env, changed, removed)
        if any(current(p) != d for p, d in metadata.get(CODE_DEPENDENCIES, {}).items())
    ]


EXTENSION_CODE = "nanobook_extension_code"  # env attribute: the code the pages were read with


def extension_code() -> str:
    """One digest of the code (not the comments) of every module of ext/ and of buildlib/,
    the library it runs (the store, the keys)."""
    ext = Path(__file__).parent
    files = sorted([*ext.rglob("*.py"), *(ext.parent / "buildlib").glob("*.py")])
    parts = (f"{p.relative_to(ext.parent)}={keys.running_code_digest(p)}" for p in files)
    return keys.digest(*parts)


def extension_outdated(app, env, added, changed, removed) -> list[str]:
    """Every page, unless the pages were read with the same ext/ and buildlib/ code as now
    (env-get-outdated): what a directive or transform made of a page is kept in its
    doctree. Sphinx itself re-reads every page only when an extension's env_version
    changes, not its code. Pages read before this was recorded are read again once."""
    now, before = extension_code(), getattr(env, EXTENSION_CODE, None)
    setattr(env, EXTENSION_CODE, now)
    if before == now:
        return []
    return [docname for docname in env.found_docs if docname not in added | changed | removed]


def pages_read_before(env, changed, removed):
    """(docname, metadata) of the pages an env-get-outdated handler may add: still in
    the project, and not already to be read again or removed."""
    for docname, metadata in env.metadata.items():
        if docname in env.found_docs and docname not in changed | removed:
            yield docname, metadata


def import_object(target: str, extra_paths: list[Path] = ()):
    """Import ``module.path:attr.path``; extra_paths are put on sys.path first."""
    module_name, _, attr_path = target.partition(":")
    if not module_name or not attr_path:
        raise ImportError(f"{target!r} is not of the form 'module.path:Name'")
    for extra in extra_paths:
        if str(extra) not in sys.path:
            sys.path.insert(0, str(extra))
    obj = importlib.import_module(module_name)
    for attr in attr_path.split("."):
        obj = getattr(obj, attr)
    return obj


# --- typed configuration --------------------------------------------------------------


def typed_config(app, cls: type, prefix: str):
    """Build the dataclass ``cls`` from ``app.config.<prefix><field>`` and check types.

    Fields may carry ``metadata={"choices": (...)}``; a bad value is a ConfigError that
    names the setting, what it got and what it accepts.
    """
    values = {}
    hints = typing.get_type_hints(cls)
    for field in dataclasses.fields(cls):
        name = prefix + field.name
        value = getattr(app.config, name)
        expected = hints[field.name]
        is_union = typing.get_origin(expected) in (typing.Union, types.UnionType)
        allowed = typing.get_args(expected) if is_union else (expected,)
        allowed = tuple(typing.get_origin(t) or t for t in allowed)
        if value is not None and not isinstance(value, allowed):
            raise ConfigError(
                f"{name} = {value!r}: expected {_type_names(allowed)}, got {type(value).__name__}"
            )
        choices = field.metadata.get("choices")
        items = value if isinstance(value, (list, tuple)) else [value]
        if choices and any(item not in choices for item in items):
            raise ConfigError(f"{name} = {value!r}: choose from {', '.join(map(str, choices))}")
        values[field.name] = value
    return cls(**values)


def _type_names(types: tuple[type, ...]) -> str:
    return " or ".join("None" if t is type(None) else t.__name__ for t in types)


def add_typed_config(app, cls: type, prefix: str, rebuild: str = "env") -> None:
    """Register every field of ``cls`` as a Sphinx config value ``<prefix><field>``."""
    for field in dataclasses.fields(cls):
        default = field.default
        if field.default_factory is not dataclasses.MISSING:
            default = field.default_factory()
        app.add_config_value(prefix + field.name, default, rebuild)


def _check_shared_config(app, config) -> None:
    """The settings every extension shares, checked once (Sphinx only warns of a wrong
    type, and goes on with it)."""
    for name in ("nanobook_model_timeout", "nanobook_model_memory"):
        value = getattr(config, name)
        number = isinstance(value, int | float) and not isinstance(value, bool)
        if not (number and value >= 0 and math.isfinite(value)):
            raise ConfigError(f"{name} = {value!r}: expected a finite number ≥ 0 (0: no limit)")
    for name, may_be_unset in SHARED_TEXT_SETTINGS.items():
        value = getattr(config, name)
        if not (isinstance(value, str) or (value is None and may_be_unset)):
            expected = "a path (text) or None" if may_be_unset else "a module's name (text)"
            raise ConfigError(f"{name} = {value!r}: expected {expected}")


# the shared settings that are text: whether None (unset) is allowed
SHARED_TEXT_SETTINGS = {
    "nanobook_cache_dir": True,
    "nanobook_project_root": True,
    "nanobook_presets": False,
}


def presets_module(name: str):
    """The module ``nanobook_presets`` names; a Problem when it cannot be imported."""
    try:
        return importlib.import_module(name)
    except MODEL_CODE_ERRORS as error:
        raise Problem(
            f"cannot import the presets module {name!r}: {type(error).__name__}: {error}",
            hint="set nanobook_presets in conf.py to an importable module",
        ) from error


def out_of_memory(error: BaseException) -> bool:
    """Whether model code failed for want of memory (Python's error, or torch's)."""
    return isinstance(error, MemoryError) or "can't allocate memory" in str(error)


def memory_bytes(gigabytes: float) -> int | None:
    """A memory limit in GB (nanobook_model_memory) in bytes, None for no limit."""
    return int(gigabytes * 1e9) or None


def cache_root(app) -> Path:
    """Where every extension keeps its rendered artifacts between builds."""
    configured = app.config.nanobook_cache_dir
    if configured:
        return Path(app.confdir, configured).resolve()
    # beside the output folder, never inside it (it would be published)
    return Path(app.outdir).parent / "nanobook-cache"


def setup_core(app) -> None:
    """Config values every extension shares; safe to call from each setup()."""
    if "nanobook_cache_dir" not in app.config.values:
        app.add_config_value("nanobook_cache_dir", None, "", types=[str, type(None)])
        app.add_config_value("nanobook_project_root", None, "env", types=[str, type(None)])
        app.add_config_value("nanobook_presets", "model_src.presets", "env", types=[str])
        # seconds a diagram's trace or a shape capture may run the model code (0: no limit)
        app.add_config_value("nanobook_model_timeout", MODEL_TIMEOUT, "env", types=[int, float])
        # GB of address space the process running that model code may use (0: no limit)
        app.add_config_value("nanobook_model_memory", MODEL_MEMORY, "env", types=[int, float])
        app.connect("config-inited", _check_shared_config)
        app.connect("env-get-outdated", code_outdated)
        app.connect("env-get-outdated", extension_outdated)
        app.connect("env-before-read-docs", _note_pages_read)
        app.connect("source-read", _page_read_starts, priority=100)  # before anyone warns
        app.connect("doctree-read", _keep_read_warnings, priority=900)  # after all have
        app.connect("env-updated", _say_again)
        # a build stopped with SIGTERM cleans up (workers, temp folders) as after Ctrl+C
        app.connect("builder-inited", _catch_sigterm)
        app.connect("build-finished", _release_sigterm)
        # A digest of the trained models' weights and the model configs, which scenes
        # read without importing them (set by ext/book.py before pages are read).
        # Part of clip keys only: pages are re-read for what they read, not for this.
        app.add_config_value("nanobook_inputs_digest", "", "", types=[str])
