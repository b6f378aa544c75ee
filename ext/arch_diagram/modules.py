"""Diagrams of an ``nn.Module``: build it from the preset, trace one forward pass, turn
the calls into diagram elements.

A module's flow is, by default, the calls it made, in order: right for MLP and any
plain chain. Three nanoGPT modules do more than chain their children, and for them a
small declarative layout, keyed by class name, says what the forward does:

    GPT                  wte, (+) wpe, drop, h ×N, ln_f, lm_head, [loss]
    Block                residual(ln_1, attn), residual(ln_2, mlp)
    CausalSelfAttention  c_attn, heads, scores, mix (the fused kernel), c_proj, resid_dropout

A layout is only drawn if the trace agrees with it: the calls come in its order, and
every add it draws is an add the forward really ran, on exactly those two tensors. If
the model changes so that it no longer agrees, the module is drawn as a plain chain and
a note says so, rather than drawing a structure the code does not have.
"""

from __future__ import annotations

import inspect
import re
import sys
from dataclasses import dataclass

import torch
from torch import nn

from .. import _core
from .._core import Problem, shape_text
from . import draw
from .request import KINDS, Drawing, Live, Request, defined_classes, run
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
    return Drawing(text, planner.notes)


def import_target(target: str):
    try:
        return _core.import_object(target)
    except (ImportError, AttributeError) as err:
        raise Problem(
            f"cannot import {target!r}: {err}",
            hint="write module.path:Name, importable from the project root "
            "(e.g. model_src.model:GPT)",
        ) from err


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
}


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
        return [self.item(item, level + 1, call) for item in items]

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
        if self._expands(call, level):
            body = self._flow(call, level)
            if body:
                body[-1].out = ""  # the edge below the frame shows it
            own = call.own_params
            if own and own != call.total_params:
                count_text += f" ({own:,} own)"
            return draw.Frame(f"{name}  {kind}", count_text, body, out=out)
        return draw.Node(name, kind, count_text, out=out)

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
        self.items = list(items)
        self.adds = [op for op in call.ops if op.name == "add"]
        self.previous: Item | None = None

    def elements(self, layout) -> list:
        flow = [element for step in layout for element in self._step(step)]
        if self.items:
            raise _Mismatch(f"{self.items[0].path} is called but not in the layout")
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
            return taken
        found = self.items[0].path if self.items else "nothing"
        raise _Mismatch(f"expected a call of {full}, found {found}")

    def _take_one(self, path: str) -> Item:
        taken = self._take(path)
        if len(taken) != 1:
            raise _Mismatch(f"{path} was called {len(taken)} times")
        return taken[0]

    def _add(self, *operands: Value) -> Op:
        wanted = {value.id for value in operands}
        for op in self.adds:
            if {value.id for value in op.args} == wanted:
                self.adds.remove(op)
                return op
        raise _Mismatch("no add of the two tensors the layout joins")

    def _step(self, step) -> list:
        level = self.level + 1
        if isinstance(step, str):
            return [self.planner.item(item, level, self.call) for item in self._take(step)]
        if isinstance(step, SideInput):
            main = self.previous
            side = self._take_one(step.path)
            if main is None:
                raise _Mismatch(f"{step.path} has nothing to be added to")
            add = self._add(main.last.outputs[0], side.last.outputs[0])
            node = self.planner.item(side, level, self.call)
            node.kind += f" → {shape_text(side.last.outputs[0].shape)}"
            return [draw.Join(node, out=shape_text(add.outputs[0].shape))]
        if isinstance(step, Residual):
            taken = [self._take_one(path) for path in step.paths]
            add = self._add(taken[0].first.inputs[0], taken[-1].last.outputs[0])
            body = [self.planner.item(item, level, self.call) for item in taken]
            return [draw.Residual(body, out=shape_text(add.outputs[0].shape))]
        if isinstance(step, Attention):
            return self._attention(level)
        if isinstance(step, Loss):
            losses = [op for op in self.call.ops if op.name == "cross_entropy"]
            if not losses:
                return []
            names = dict(zip(argument_names(self.call.module), self.call.inputs, strict=False))
            targets = f" {shape_text(names['targets'].shape)}" if "targets" in names else ""
            loss = shape_text(losses[0].outputs[0].shape)
            return [draw.Tap(f"cross_entropy(logits, targets{targets}) → loss {loss}")]
        raise TypeError(f"unknown layout step {step!r}")

    def _attention(self, level: int) -> list:
        # torch 2 always has the fused kernel, and nanoGPT always takes it: a model that
        # computes attention by hand is drawn as a plain chain, with a note
        fused = [op for op in self.call.ops if op.name == "scaled_dot_product_attention"]
        if not fused:
            raise _Mismatch("found no fused attention kernel, F.scaled_dot_product_attention")
        q, k, v = (value.shape for value in fused[0].args[:3])
        att = (*q[:-1], k[-2])  # never stored: the kernel streams through it
        y = fused[0].outputs[0].shape
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
            draw.Node(
                f"q·kᵀ/√{head_size}, causal mask, softmax  †",
                free=True,
                out=f"att: {shape_text(att)}",
            ),
            draw.Node("att·v: weighted sum of the values  †", free=True, out=f"y: {shape_text(y)}"),
            draw.Node("heads side by side again", free=True, out=shape_text(merged)),
        ]
