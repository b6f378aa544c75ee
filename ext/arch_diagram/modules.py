"""Diagrams of an ``nn.Module``: build it from the preset, trace one forward pass, turn
the calls into diagram elements.

A module's flow is, by default, the calls it made, in order: right for MLP and any
plain chain. A module called with no input (a learned scale) is drawn beside the path,
joined by the op that takes its output. Nine modules do more than chain their children,
and for them a small declarative layout, keyed by class name, says what the forward does:

    GPT                  wte, (+) wpe, drop, h ×N, ln_f, lm_head, [loss]
    Block                residual(ln_1, attn), residual(ln_2, mlp)
    CausalSelfAttention  c_attn, heads, scores, mix (the fused kernel), c_proj, resid_dropout
    NGPT                 wte, [(+) wpe, unit], h ×N, lm_head, (×) s_z, [loss]
    NormBlock            for attn, then mlp: unit(h + alpha (unit(sublayer(h)) − h))
    NormAttention        c_attn, heads, [RoPE], unit, (×) s_qk, scores, mix, c_proj
    NormMLP              c_fc, split into u and v, (×) s_u, (×) s_v, u × SiLU(v·√C), c_proj
    ModernGPT            wte, [(+) wpe], h ×N, ln_f, lm_head, [loss]
    ModernBlock          as Block (its norm, attention and MLP are what its config picks)

A layout is only drawn if the trace agrees with it: the calls come in its order, and
every op it draws is an op the forward really ran, on exactly those tensors. If
the model changes so that it no longer agrees, the module is drawn as a plain chain and
a note says so, rather than drawing a structure the code does not have.
"""

from __future__ import annotations

import inspect
import math
import re
import sys
from dataclasses import dataclass, replace

import torch
from torch import nn

from .._core import Problem, shape_text
from . import draw
from .request import KINDS, Drawing, Live, Part, Request, defined_classes, import_target, run
from .trace import (
    Call,
    Op,
    Value,
    argument_names,
    describe,
    parameter_owners,
    result_names,
    trace,
)


def draw_module(request: Request, live: Live) -> Drawing:
    """Build the target with the live config, trace it and lay it out."""
    model, instance = build_model(request.target, import_target(request.target), live)
    idx = live.sample(request.input)
    # with targets the model computes logits for every position, as in training; any
    # ids will do as targets, only shapes are drawn
    args = (idx, idx.contiguous()) if "targets" in argument_names(model) else (idx,)
    torch.manual_seed(0)
    root = run(
        f"the forward pass of {type(model).__name__}",
        lambda: trace(model, args),
        hint="the diagram is drawn from a real forward pass: fix the model or the config",
    )
    call = find_call(model, root, instance) if instance else root
    focus = ".".join(filter(None, [instance, request.focus]))
    focused = find_call(model, root, focus) if request.focus else None
    planner = Planner(model, request.depth, focus if focused else "")
    flow = planner.plan(call)
    params = f"{call.total_params:,} parameters"
    if call.path:
        header = [
            f"{call.path} · {call.type_name} · {params}",
            f"in {type(model).__name__} · {live.name}",
        ]
    else:
        header = [f"{call.type_name} · {live.name} · {params}"]
    if focused:
        header.append(
            f"focus: {focused.path} · {focused.type_name} · {focused.total_params:,} parameters"
        )
    header += live.config_lines()
    try:
        text = draw.render(header, flow, planner.footnotes)
    except draw.DiagramTooWide as err:
        raise Problem(
            str(err), hint="draw less at once: a smaller :depth: or a submodule as the target"
        ) from err
    return Drawing(text, planner.notes, header, draw.sources(flow), planner.footnotes)


def build_model(name: str, target, live: Live) -> tuple[nn.Module, str]:
    """The model to trace, and the path of the target inside it ("" for the model itself).

    A class is built from the preset's config when it is the model; a building block
    (Block, LayerNorm, ...) is drawn where it sits in the model that contains it: the
    last-defined class of its module that takes the config and holds one (nanoGPT defines
    the whole model last). Nothing else is called: a diagram runs model code, not
    whatever is importable.
    """
    hint = f"target a model class (module.path:Class), or one of {', '.join(KINDS)}"
    if not inspect.isclass(target):
        raise Problem(
            f"{name} is a {type(target).__name__}, not a torch.nn.Module subclass", hint=hint
        )
    if not issubclass(target, nn.Module):
        raise Problem(f"{name} is a class, but not a torch.nn.Module", hint=hint)
    module = sys.modules[target.__module__]
    for candidate in reversed(defined_classes(module)):
        if issubclass(candidate, nn.Module) and _accepts(candidate, live.config):
            model = live.build(candidate)
            for path, submodule in model.named_modules():
                if type(submodule) is target:
                    return model, path
    raise Problem(
        f"no model in {module.__name__} that can be built from the preset's config "
        f"contains a {target.__name__}",
        hint="target the model class that contains it",
    )


def _accepts(model_class, config) -> bool:
    try:
        inspect.signature(model_class).bind(config)
    except (TypeError, ValueError):
        return False
    return True


def find_call(model: nn.Module, root: Call, path: str) -> Call:
    """The call of the module at ``path``, or a Problem listing what does exist."""
    parts = path.split(".")
    parent, parent_path = model, ""
    for depth, part in enumerate(parts):
        children = dict(parent.named_children())
        if part not in children:
            where = parent_path or f"the {type(model).__name__}"
            raise Problem(
                f"{type(model).__name__} has no submodule {path}",
                hint=f"{where} has: {', '.join(children) or 'no submodules'}",
            )
        parent, parent_path = children[part], ".".join(parts[: depth + 1])
    call = root.find(path)
    if call is None:
        container = root.find(path.rpartition(".")[0]) or root
        called = ", ".join(child.path for child in container.children)
        raise Problem(
            f"{path} ({type(parent).__name__}) is never called by the forward pass",
            hint=f"focus on a module the forward calls: {called}",
        )
    return call


# --- layouts --------------------------------------------------------------------------


# a step of a layout: a module's path (its calls, as rows or frames), or one of these


@dataclass(frozen=True)
class SideInput:
    """The next module's output is added to the main path: ``x = a + side(...)``."""

    path: str


@dataclass(frozen=True)
class Residual:
    """``x = x + body(x)``: the modules in ``paths`` run on a branch that rejoins with an add."""

    paths: tuple[str, ...]


@dataclass(frozen=True)
class Attention:
    """Queries, keys and values, the attention matrix and the weighted sum: tensor ops
    between c_attn and c_proj, read from the fused kernel's arguments."""


@dataclass(frozen=True)
class Loss:
    """The cross-entropy against targets, when the forward was given them."""


@dataclass(frozen=True)
class Scaled:
    """``x = side() * x``: a learned scale, a module called with no input, multiplies the
    main path. It is drawn beside the path, not on it: nothing flows through it."""

    path: str


@dataclass(frozen=True)
class Unit:
    """``x = unit(x)``: every position's vector scaled to length 1, onto nGPT's sphere."""


@dataclass(frozen=True)
class SphereStep:
    """nGPT's ``h = unit(h + alpha() * (unit(body(h)) - h))``: h moves towards the body's
    proposal by a learned amount per channel, then goes back onto the sphere."""

    path: str
    alpha: str


@dataclass(frozen=True)
class SphereAttention:
    """Attention as in ``Attention``, with nGPT's queries and keys: unit per head, times
    the learned ``scale``."""

    scale: str


@dataclass(frozen=True)
class Gated:
    """A gated MLP's middle: the path split into halves u and v, each times its learned
    scale (``u_scale``, ``v_scale``), then ``u * silu(v * c)`` for a constant c."""

    u_scale: str
    v_scale: str


@dataclass(frozen=True)
class IfCalled:
    """``steps``, when the forward calls the module at ``path`` (nGPT's optional wpe)."""

    path: str
    steps: tuple


LAYOUTS = {
    "GPT": (
        "transformer.wte",
        SideInput("transformer.wpe"),
        "transformer.drop",
        "transformer.h",
        "transformer.ln_f",
        "lm_head",
        Loss(),
    ),
    "Block": (Residual(("ln_1", "attn")), Residual(("ln_2", "mlp"))),
    "CausalSelfAttention": ("c_attn", Attention(), "c_proj", "resid_dropout"),
    "NGPT": (
        "transformer.wte",
        IfCalled("transformer.wpe", (SideInput("transformer.wpe"), Unit())),
        "transformer.h",
        "lm_head",
        Scaled("s_z"),
        Loss(),
    ),
    "NormBlock": (SphereStep("attn", "alpha_a"), SphereStep("mlp", "alpha_m")),
    "NormAttention": ("c_attn", SphereAttention("s_qk"), "c_proj"),
    "NormMLP": ("c_fc", Gated("s_u", "s_v"), "c_proj"),
    "ModernGPT": (
        "transformer.wte",
        IfCalled("transformer.wpe", (SideInput("transformer.wpe"),)),
        "transformer.h",
        "transformer.ln_f",
        "lm_head",
        Loss(),
    ),
}
LAYOUTS["ModernBlock"] = LAYOUTS["Block"]
# how a side input joins the path, by the op that takes its output
JOIN_OPS = {"add": "+", "mul": "×"}
UNIT_TEXT = ("unit(·)", "to length 1")


# --- repeated siblings -----------------------------------------------------------------


@dataclass
class Item:
    """One child call, or a run of identical siblings (the N blocks), drawn once."""

    calls: list[Call]
    path: str  # the container's path for a run: "transformer.h"

    @property
    def first(self) -> Call:
        return self.calls[0]

    @property
    def last(self) -> Call:
        return self.calls[-1]


_INDEXED = re.compile(r"^(?P<container>.+)\.(?P<index>\d+)$")


def group_repeats(children: list[Call], focus: str = "") -> list[Item]:
    """Runs of consecutive siblings ``c.0, c.1, ...`` of one type, size and shape, each
    feeding the next, become one Item. A call on the way to ``focus`` stays on its own."""
    items: list[Item] = []
    for call in children:
        previous = items[-1].last if items else None
        match = _INDEXED.match(call.path)
        if (
            previous is not None
            and not _on_path(call.path, focus)
            and not _on_path(previous.path, focus)
            and match
            and (prev_match := _INDEXED.match(previous.path))
            and prev_match["container"] == match["container"]
            and int(match["index"]) == int(prev_match["index"]) + 1
            and type(previous.module) is type(call.module)
            and previous.total_params == call.total_params
            and [v.shape for v in previous.inputs] == [v.shape for v in call.inputs]
            and [v.shape for v in previous.outputs] == [v.shape for v in call.outputs]
            and call.inputs[:1] == previous.outputs[:1]
        ):
            items[-1].calls.append(call)
            items[-1].path = match["container"]
        else:
            items.append(Item([call], call.path))
    return items


def _on_path(path: str, focus: str) -> bool:
    """Whether ``path`` is ``focus`` or contains it."""
    return bool(focus) and (focus == path or focus.startswith(path + ".") or not path)


# --- planning ---------------------------------------------------------------------------


class _Mismatch(Exception):
    pass


class Planner:
    """Turns the call tree of one trace into diagram elements.

    Without a focus, modules are expanded ``depth`` levels below the drawn one. With a
    focus, the modules on the way to it are expanded, their other parts drawn as rows,
    and the focus itself ``depth`` levels deep: the part in detail, the whole around it.
    """

    def __init__(self, model, depth: int, focus: str = ""):
        self.owners = parameter_owners(model)
        self.depth = depth
        self.focus = focus
        self.focus_level = 0
        self.footnotes: list[str] = []  # printed below the diagram
        self.notes: list[str] = []  # warnings for whoever asked

    def plan(self, call: Call) -> list:
        """The diagram elements of ``call``, between its input and output labels."""
        if self.focus:
            self.focus_level = _level_of(call, self.focus)
        flow = self._flow(call, level=0)
        if not flow:  # a leaf module: the module itself is the one step
            flow = [self.item(Item([call], call.path), level=1, parent=call)]
        flow[-1].out = ""  # the output label below repeats it
        top = (argument_names(call.module) or ["input"])[0]
        names = result_names(call.module) or ["output"]
        outputs = [
            f"{name} {shape_text(v.shape)}" for name, v in zip(names, call.outputs, strict=False)
        ]
        if len(names) < len(call.outputs) or not outputs:
            outputs = [f"output {shape_text(v.shape)}" for v in call.outputs]
        return [
            draw.Label(f"{top} {shape_text(call.inputs[0].shape)}"),
            *flow,
            draw.Label(" · ".join(outputs), arrow=True),
        ]

    def _expands(self, call: Call, level: int) -> bool:
        if not (call.children or call.type_name in LAYOUTS):
            return False
        if not self.focus:
            return level < self.depth
        if _on_path(call.path, self.focus):
            return True
        return call.path.startswith(self.focus + ".") and level - self.focus_level < self.depth

    def _flow(self, call: Call, level: int) -> list:
        items = group_repeats(call.children, self.focus)
        layout = LAYOUTS.get(call.type_name)
        if layout:
            try:
                return _LayoutMatch(self, call, items, level).elements(layout)
            except _Mismatch as why:
                self.notes.append(
                    f"{call.path or call.type_name}: the forward pass does not match the "
                    f"{call.type_name} layout ({why}); drawn as a plain chain of its calls"
                )
        return [self._chained(item, level + 1, call) for item in items]

    def _chained(self, item: Item, level: int, parent: Call):
        """An item of a plain chain: a learned value that an add or a multiply takes is a
        side input of that op, not a stage the data flows through."""
        drawn = self.item(item, level, parent)
        if not _learned_value(item):
            return drawn
        value = item.first.outputs[0]
        views = {value.id} | {
            op.outputs[0].id
            for op in parent.ops
            if op.name == "view" and op.args and op.args[0].id == value.id
        }
        for op in parent.ops:
            if op.name in JOIN_OPS and views & {arg.id for arg in op.args}:
                drawn.kind += f" → {shape_text(value.shape)}"
                return draw.Join(drawn, out=shape_text(op.outputs[0].shape), op=JOIN_OPS[op.name])
        return drawn

    def item(self, item: Item, level: int, parent: Call):
        """A child as one row, or as a frame with its own flow while depth allows."""
        call = item.first
        if item.path == parent.path:  # a leaf drawn on its own
            name = item.path.rpartition(".")[2] or call.type_name
        else:
            name = item.path[len(parent.path) + 1 :] if parent.path else item.path
        count = sum(c.total_params for c in item.calls)
        out = shape_text(item.last.outputs[0].shape) if item.last.outputs else ""
        if len(item.calls) > 1:
            last_index = item.last.path.rsplit(".", 1)[1]
            name = f"{name}.{call.path.rsplit('.', 1)[1]}…{last_index}"
            kind = f"{describe(call.module)} ×{len(item.calls)}"
            count_text = f"{len(item.calls)} × {call.total_params:,} = {count:,}"
        else:
            kind = describe(call.module)
            count_text = f"{count:,}" + self._tied_marker(call)
        part = Part(name, describe(call.module), len(item.calls), out, call.total_params)
        if self._expands(call, level):
            body = self._flow(call, level)
            if body:
                body[-1].out = ""  # the edge below the frame shows it
            own = call.own_params
            if own and own != call.total_params:
                count_text += f" ({own:,} own)"
            part = replace(part, parts=tuple(draw.sources(body)), own=own)
            return draw.Frame(f"{name}  {kind}", count_text, body, out=out, source=part)
        return draw.Node(name, kind, count_text, out=out, source=part)

    def _tied_marker(self, call: Call) -> str:
        marks = ""
        for name, param in call.module.named_parameters(recurse=False):
            home = self.owners.get(id(param), call.path)
            if home != call.path:
                marks = "*"
                self.footnote(
                    f"* {call.path}.{name} is {home}.{name} (tied): counted once in totals"
                )
        return marks

    def footnote(self, text: str) -> None:
        if text not in self.footnotes:
            self.footnotes.append(text)


def _score_scale(scale: float | None, head_size: int) -> str:
    """How the kernel scales q·kᵀ: its default 1/√hs, √hs (nGPT's cosines) or a number."""
    if scale is None or math.isclose(scale, head_size**-0.5):
        return f"/√{head_size}"
    if math.isclose(scale, head_size**0.5):
        return f"·√{head_size}"
    return f"·{scale:g}"


def _constant_text(value: float) -> str:
    """A factor as the code most likely wrote it: √n for the root of a whole number."""
    square = round(value * value)
    return f"√{square}" if square and math.isclose(value * value, square) else f"{value:.4g}"


def _learned_value(item: Item) -> bool:
    """A single call that takes no tensor: a learned value such as nGPT's Scale."""
    return len(item.calls) == 1 and not item.first.inputs and bool(item.first.outputs)


def _level_of(root: Call, path: str, level: int = 0) -> int:
    """How many calls down from ``root`` the call of ``path`` is (-1: not in this tree)."""
    if root.path == path:
        return level
    for child in root.children:
        if (found := _level_of(child, path, level + 1)) >= 0:
            return found
    return -1


class _LayoutMatch:
    """Walks a layout against one call's children and ops; raises _Mismatch on a difference."""

    def __init__(self, planner: Planner, call: Call, items: list[Item], level: int):
        self.planner, self.call, self.level = planner, call, level
        # modules called with no input (learned scales) are not on the path: Python may
        # call one before the module whose output it scales, so they wait here by path
        self.scales = {item.path: item for item in items if _learned_value(item)}
        self.items = [item for item in items if not _learned_value(item)]
        self.ops = list(call.ops)  # each is matched once, then removed
        self.previous: Item | None = None
        self.current: Value | None = None  # what the main path carries so far

    def elements(self, layout) -> list:
        flow = [element for step in layout for element in self._step(step)]
        if self.items or self.scales:
            path = self.items[0].path if self.items else next(iter(self.scales))
            raise _Mismatch(f"{path} is called but not in the layout")
        return flow

    def _take(self, path: str) -> list[Item]:
        """The next calls of the module at ``path``: itself, or the items of a container
        (``transformer.h``: one run ×N, or the focused block and the runs around it)."""
        full = f"{self.call.path}.{path}" if self.call.path else path
        taken = []
        while self.items and (
            self.items[0].path == full or self.items[0].path.startswith(full + ".")
        ):
            taken.append(self.items.pop(0))
        if taken:
            self.previous = taken[-1]
            self.current = self.previous.last.outputs[0] if self.previous.last.outputs else None
            return taken
        found = self.items[0].path if self.items else "nothing"
        raise _Mismatch(f"expected a call of {full}, found {found}")

    def _take_one(self, path: str) -> Item:
        taken = self._take(path)
        if len(taken) != 1:
            raise _Mismatch(f"{path} was called {len(taken)} times")
        return taken[0]

    def _take_scale(self, path: str) -> Item:
        full = f"{self.call.path}.{path}" if self.call.path else path
        if full not in self.scales:
            raise _Mismatch(f"expected a call of {full} with no input")
        return self.scales.pop(full)

    def _op(self, name: str, *operands: Value, first: Value | None = None) -> Op:
        """The op ``name`` on exactly ``operands`` (any order), or whose first is ``first``."""
        wanted = {value.id for value in operands}
        for op in self.ops:
            if op.name != name or not op.args:
                continue
            if (first is not None and op.args[0].id == first.id) or (
                operands and {value.id for value in op.args} == wanted
            ):
                self.ops.remove(op)
                return op
        raise _Mismatch(f"no {name} of the tensors the layout joins")

    def _add(self, *operands: Value) -> Op:
        return self._op("add", *operands)

    def _unit(self, value: Value) -> Value:
        """unit(value)'s result: value / its norm, times the length it is given (1)."""
        self._op("norm", first=value)
        divided = self._op("div", first=value).outputs[0]
        return self._op("mul", first=divided).outputs[0]

    def _unit_node(self, value: Value) -> draw.Node:
        self.current = self._unit(value)
        return draw.Node(*UNIT_TEXT, out=shape_text(self.current.shape))

    def _product(self, scale: Item, main: Value) -> Value:
        """The product of ``main`` and a learned scale (or a view of it, shaped per head)."""
        value = scale.first.outputs[0]
        views = {value.id} | {
            op.outputs[0].id for op in self.ops if op.name == "view" and op.args[0].id == value.id
        }
        for op in self.ops:
            ids = {arg.id for arg in op.args}
            if op.name == "mul" and main.id in ids and ids & views:
                self.ops.remove(op)
                return op.outputs[0]
        raise _Mismatch(f"{scale.path} does not multiply the path")

    def _scale_join(self, scale: Item, product: Value, level: int) -> draw.Join:
        node = self.planner.item(scale, level, self.call)
        node.kind += f" → {shape_text(scale.first.outputs[0].shape)}"
        self.current = product
        return draw.Join(node, out=shape_text(product.shape), op="×")

    def _scale(self, scale: Item, main: Value, level: int) -> draw.Join:
        """A learned scale multiplying ``main``, drawn as a side input."""
        return self._scale_join(scale, self._product(scale, main), level)

    def _sphere_step(self, step: SphereStep, level: int) -> list:
        alpha = self._take_scale(step.alpha)
        body = self._take_one(step.path)
        h, proposal = body.first.inputs[0], body.last.outputs[0]
        drawn = [self.planner.item(body, level, self.call), self._unit_node(proposal)]
        towards = self._op("sub", self.current, h).outputs[0]  # unit(proposal) − h
        drawn.append(draw.RailJoin("−", out=shape_text(towards.shape)))
        drawn.append(self._scale(alpha, towards, level))
        moved = self._add(h, self.current).outputs[0]
        residual = draw.Residual(drawn, out=shape_text(moved.shape), label="h")
        return [residual, self._unit_node(moved)]

    def _step(self, step) -> list:
        level = self.level + 1
        if isinstance(step, str):
            return [self.planner.item(item, level, self.call) for item in self._take(step)]
        if isinstance(step, SideInput):
            main = self.current
            side = self._take_one(step.path)
            if main is None:
                raise _Mismatch(f"{step.path} has nothing to be added to")
            add = self._add(main, side.last.outputs[0])
            self.current = add.outputs[0]
            node = self.planner.item(side, level, self.call)
            node.kind += f" → {shape_text(side.last.outputs[0].shape)}"
            return [draw.Join(node, out=shape_text(add.outputs[0].shape))]
        if isinstance(step, Scaled | Unit | SphereStep | IfCalled):
            return self._sphere(step, level)
        if isinstance(step, Residual):
            taken = [self._take_one(path) for path in step.paths]
            add = self._add(taken[0].first.inputs[0], taken[-1].last.outputs[0])
            body = [self.planner.item(item, level, self.call) for item in taken]
            return [draw.Residual(body, out=shape_text(add.outputs[0].shape))]
        if isinstance(step, Attention):
            return self._attention(level)
        if isinstance(step, SphereAttention):
            return self._attention(level, step)
        if isinstance(step, Gated):
            return self._gated(step, level)
        if isinstance(step, Loss):
            losses = [op for op in self.call.ops if op.name == "cross_entropy"]
            if not losses:
                return []
            names = dict(zip(argument_names(self.call.module), self.call.inputs, strict=False))
            targets = f" {shape_text(names['targets'].shape)}" if "targets" in names else ""
            loss = shape_text(losses[0].outputs[0].shape)
            return [draw.Tap(f"cross_entropy(logits, targets{targets}) → loss {loss}")]
        raise TypeError(f"unknown layout step {step!r}")

    def _sphere(self, step, level: int) -> list:
        """nGPT's steps: a learned scale, unit(), a step along the sphere, an optional part."""
        if isinstance(step, IfCalled):
            full = f"{self.call.path}.{step.path}" if self.call.path else step.path
            called = any(item.path == full for item in self.items)
            return (
                [element for inner in step.steps for element in self._step(inner)] if called else []
            )
        if isinstance(step, SphereStep):
            return self._sphere_step(step, level)
        if self.current is None:
            raise _Mismatch(f"{step} has nothing to act on")
        if isinstance(step, Scaled):
            return [self._scale(self._take_scale(step.path), self.current, level)]
        return [self._unit_node(self.current)]  # Unit

    def _gated(self, step: Gated, level: int) -> list:
        """The halves of a gated MLP, each scaled, and the product that joins them.
        Checked: the product is of the scaled u and SiLU of the scaled v, times a constant."""
        if self.current is None:
            raise _Mismatch("a gated MLP has nothing to split")
        halves = self._op("split", first=self.current).outputs
        if len(halves) != 2:
            raise _Mismatch(f"the gated MLP's split made {len(halves)} parts, not u and v")
        u_scale, v_scale = self._take_scale(step.u_scale), self._take_scale(step.v_scale)
        u, v = self._product(u_scale, halves[0]), self._product(v_scale, halves[1])
        u_join = self._scale_join(u_scale, u, level)
        v_join = self._scale_join(v_scale, v, level)
        widened = self._op("mul", first=v)  # the constant: a cosine back to SiLU's range
        if widened.constant is None:
            raise _Mismatch("v's scale is not followed by a constant factor")
        gate = self._op("silu", first=widened.outputs[0]).outputs[0]
        self.current = self._op("mul", u, gate).outputs[0]
        u_join.out, v_join.out = f"u: {u_join.out}", f"v: {v_join.out}"
        return [
            draw.Node("split in two: u and v", free=True, out=f"u, v: {shape_text(u.shape)}"),
            u_join,
            v_join,
            draw.Node(
                f"u × SiLU(v × {_constant_text(widened.constant)})",
                free=True,
                out=shape_text(self.current.shape),
            ),
        ]

    def _attention(self, level: int, sphere: SphereAttention | None = None) -> list:
        # torch 2 always has the fused kernel, and nanoGPT always takes it: a model that
        # computes attention by hand is drawn as a plain chain, with a note
        fused = [op for op in self.call.ops if op.name == "scaled_dot_product_attention"]
        if not fused:
            raise _Mismatch("found no fused attention kernel, F.scaled_dot_product_attention")
        q, k, v = (value.shape for value in fused[0].args[:3])
        att = (*q[:-1], k[-2])  # never stored: the kernel streams through it
        y = fused[0].outputs[0].shape
        turned = sphere and self._sphere_heads(sphere, fused[0], level)
        if not self.items:
            raise _Mismatch("no module takes the attention's output")
        merged = self.items[0].first.inputs[0].shape  # the heads side by side: c_proj's input
        heads, head_size = q[1], q[-1]
        qkv = (
            f"q, k, v: {shape_text(q)}"
            if q == k == v
            else f"q {shape_text(q)} · k {shape_text(k)} · v {shape_text(v)}"
        )
        self.planner.footnote(
            "† one fused kernel, F.scaled_dot_product_attention: att is never stored"
        )
        return [
            draw.Node(f"split q, k, v into {heads} heads of {head_size}", free=True, out=qkv),
            *(turned or []),
            draw.Node(
                f"q·kᵀ{_score_scale(fused[0].scale, head_size)}, causal mask, softmax  †",
                free=True,
                out=f"att: {shape_text(att)}",
            ),
            draw.Node("att·v: weighted sum of the values  †", free=True, out=f"y: {shape_text(y)}"),
            draw.Node("heads side by side again", free=True, out=shape_text(merged)),
        ]

    def _sphere_heads(self, sphere: SphereAttention, fused: Op, level: int) -> list:
        """nGPT's queries and keys: RoPE if the trace turned them, unit() per head, times
        s_qk. Checked: the kernel's q and k are exactly those products."""
        scale = self._take_scale(sphere.scale)
        drawn = []
        if any(op.name == "cos" for op in self.call.ops):
            drawn.append(draw.Node("RoPE: q and k turned by position", free=True, out="q, k"))
        normed = [op.args[0] for op in self.ops if op.name == "norm"]
        products = [self._product(scale, self._unit(value)) for value in normed]
        if sorted(value.id for value in products) != sorted(value.id for value in fused.args[:2]):
            raise _Mismatch("the kernel's q and k are not unit(·) × s_qk")
        out = shape_text(products[0].shape)
        if drawn:
            drawn[0].out += f": {out}"
        drawn.append(draw.Node(UNIT_TEXT[0], "q and k, each head's", out=out))
        drawn.append(self._scale_join(scale, products[0], level))
        return drawn
