"""Run one forward pass with hooks and record what every module did.

Forward hooks give each module call its input and output tensors; a TorchFunctionMode
sees the handful of tensor operations the layouts care about (the adds of residual
connections, attention's fused kernel, the loss, nGPT's unit() and scales). Tensors are
remembered by identity, so "the input of ln_2 is the output of that add" is a fact about
the run, not a guess; they are kept alive until the trace ends so that no id is reused.
"""

from __future__ import annotations

import ast
import inspect
import textwrap
from dataclasses import dataclass, field
from typing import NamedTuple

import torch
from torch import nn
from torch.overrides import TorchFunctionMode

# the adds of residuals, attention's kernel, the loss; the elementwise ops of nGPT's
# steps on the sphere (unit(): norm, div, mul; a learned scale: mul, perhaps of its view;
# h + α(a − h): sub); and a gated MLP's halves (split, silu, mul)
RECORDED_OPS = {
    "split",
    "silu",
    "add",
    "sub",
    "mul",
    "div",
    "norm",
    "view",
    "cos",  # RoPE's angles: queries and keys turned by position
    "scaled_dot_product_attention",
    "cross_entropy",
}


class Value(NamedTuple):
    id: int
    shape: tuple[int, ...]


@dataclass
class Op:
    name: str
    args: list[Value]
    outputs: list[Value]
    scale: float | None = None  # attention's scale= keyword, when it was given
    constant: float | None = None  # a plain number among the arguments (v * sqrt_C)


@dataclass
class Call:
    """One module call: where it sits, what went in and out, what it owns."""

    path: str  # dotted name from the traced model ("" for the model itself)
    module: nn.Module
    inputs: list[Value] = field(default_factory=list)
    outputs: list[Value] = field(default_factory=list)
    children: list[Call] = field(default_factory=list)  # the module calls it made, in order
    ops: list[Op] = field(default_factory=list)  # recorded ops it ran itself

    @property
    def type_name(self) -> str:
        return type(self.module).__name__

    @property
    def own_params(self) -> int:
        return sum(p.numel() for p in self.module.parameters(recurse=False))

    @property
    def total_params(self) -> int:
        return sum(p.numel() for p in self.module.parameters())  # a shared tensor counts once

    def find(self, path: str) -> Call | None:
        """The first call of the module at ``path`` in this call's subtree."""
        if self.path == path:
            return self
        for child in self.children:
            if found := child.find(path):
                return found
        return None


class Recorder:
    """While active: every module call of ``model`` (hooks) and every op named in ``ops``
    (a TorchFunctionMode), in eval mode and without gradients. Calls nest into trees, one
    per top-level call (``roots``); ops run outside any module go to ``loose_ops``."""

    def __init__(self, model: nn.Module, ops: set[str] = RECORDED_OPS):
        self.model, self.ops = model, ops
        self.paths = {id(module): path for path, module in model.named_modules()}
        self.roots: list[Call] = []
        self.loose_ops: list[Op] = []
        self._stack: list[Call] = []
        self._alive: list[torch.Tensor] = []  # ids stay unique while the recording lives
        self._handles: list = []
        self._mode = _OpMode(self)
        self._no_grad = torch.no_grad()

    def values(self, obj) -> list[Value]:
        if isinstance(obj, torch.Tensor):
            self._alive.append(obj)
            return [Value(id(obj), tuple(obj.shape))]
        if isinstance(obj, tuple | list):
            return [value for item in obj for value in self.values(item)]
        return []

    def _enter_module(self, module, inputs):
        call = Call(self.paths[id(module)], module, inputs=self.values(inputs))
        (self._stack[-1].children if self._stack else self.roots).append(call)
        self._stack.append(call)

    def _leave_module(self, module, inputs, output):
        self._stack.pop().outputs = self.values(output)

    def op(self, name: str, args, result, kwargs: dict) -> None:
        if name in self.ops:
            scale = kwargs.get("scale")
            numbers = [a for a in args if isinstance(a, int | float) and not isinstance(a, bool)]
            constant = float(numbers[0]) if numbers else None
            op = Op(name, self.values(list(args)), self.values(result), scale, constant)
            (self._stack[-1].ops if self._stack else self.loose_ops).append(op)

    def __enter__(self) -> Recorder:
        for module in self.model.modules():
            self._handles.append(module.register_forward_pre_hook(self._enter_module))
            self._handles.append(module.register_forward_hook(self._leave_module))
        self.model.eval()
        self._no_grad.__enter__()
        self._mode.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self._mode.__exit__(*exc)
        self._no_grad.__exit__(*exc)
        for handle in self._handles:
            handle.remove()


class _OpMode(TorchFunctionMode):
    def __init__(self, recorder: Recorder):
        super().__init__()
        self.recorder = recorder

    def __torch_function__(self, func, types, args=(), kwargs=None):
        result = func(*args, **(kwargs or {}))
        self.recorder.op(getattr(func, "__name__", ""), args, result, kwargs or {})
        return result


def trace(model: nn.Module, args: tuple) -> Call:
    """Call ``model(*args)`` once and return the tree of calls it made."""
    with Recorder(model) as recorder:
        model(*args)
    return recorder.roots[0]


def parameter_owners(model: nn.Module) -> dict[int, str]:
    """id(parameter) -> path of the first module that registers it (its home when tied)."""
    owners: dict[int, str] = {}
    for path, module in model.named_modules():
        for param in module.parameters(recurse=False):
            owners.setdefault(id(param), path)
    return owners


def describe(module: nn.Module) -> str:
    """A short, stable description of a module: its type and the sizes that define it."""
    name = type(module).__name__
    if isinstance(module, nn.Linear):
        bias = "" if module.bias is not None else ", no bias"
        return f"{name}({module.in_features:,}→{module.out_features:,}{bias})"
    if isinstance(module, nn.Embedding):
        return f"{name}({module.num_embeddings:,}, {module.embedding_dim:,})"
    if isinstance(module, nn.Dropout):
        return f"{name}({module.p})"
    if isinstance(module, nn.GELU) and module.approximate != "none":
        return f"{name}({module.approximate})"
    weight = getattr(module, "weight", None)
    if isinstance(weight, nn.Parameter) and weight.dim() == 1 and not list(module.children()):
        # a norm layer: its feature size says it all, and whether it has a bias
        bias = ", no bias" if getattr(module, "bias", ...) is None else ""
        return f"{name}({weight.numel():,}{bias})"
    return name


def argument_names(module: nn.Module) -> list[str]:
    """The names of forward()'s parameters: the top label of a diagram says ``idx``, ``x``."""
    try:
        signature = inspect.signature(module.forward)
    except (TypeError, ValueError):
        return []
    return [
        p.name
        for p in signature.parameters.values()
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
    ]


def result_names(module: nn.Module) -> list[str]:
    """The names forward() returns (``return logits, loss``), or [] if it returns an expression."""
    try:
        source = textwrap.dedent(inspect.getsource(type(module).forward))
    except (OSError, TypeError):
        return []
    returns = [node for node in ast.walk(ast.parse(source)) if isinstance(node, ast.Return)]
    returns.sort(key=lambda node: node.lineno)  # the last in the source: walk goes by depth
    if not returns or returns[-1].value is None:
        return []
    value = returns[-1].value
    items = value.elts if isinstance(value, ast.Tuple) else [value]
    if all(isinstance(item, ast.Name) for item in items):
        return [item.id for item in items]
    return []
