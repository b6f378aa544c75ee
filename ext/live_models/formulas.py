"""model_src's counting functions as formulas the page can evaluate, without retyping them.

A Symbol stands for an input; arithmetic on Symbols records what was done instead of doing
it. Calling a plain-arithmetic function (model_src/footprint.py) on Symbols therefore
returns its formula as a tree, which the page evaluates (nanobook_memory.js, evaluate):

    number                  a constant
    "name"                  an input
    [op, left, right]       op one of + - * // /

    tree = as_tree(footprint.parameters(*symbols("n_layer n_embd ...")))
    evaluate(tree, {"n_layer": 12, ...}) == footprint.parameters(12, ...)
"""

from __future__ import annotations

import operator

OPERATIONS = {
    "+": operator.add,
    "-": operator.sub,
    "*": operator.mul,
    "//": operator.floordiv,
    "/": operator.truediv,
}


class Symbol:
    """An input, or an operation on inputs: ``tree`` is its formula."""

    def __init__(self, tree):
        self.tree = tree

    def _apply(self, op: str, other, swapped: bool = False) -> Symbol:
        left, right = as_tree(self), as_tree(other)
        return Symbol([op, right, left] if swapped else [op, left, right])

    def __add__(self, other):
        return self._apply("+", other)

    def __radd__(self, other):
        return self._apply("+", other, swapped=True)

    def __sub__(self, other):
        return self._apply("-", other)

    def __rsub__(self, other):
        return self._apply("-", other, swapped=True)

    def __mul__(self, other):
        return self._apply("*", other)

    def __rmul__(self, other):
        return self._apply("*", other, swapped=True)

    def __floordiv__(self, other):
        return self._apply("//", other)

    def __rfloordiv__(self, other):
        return self._apply("//", other, swapped=True)

    def __truediv__(self, other):
        return self._apply("/", other)

    def __rtruediv__(self, other):
        return self._apply("/", other, swapped=True)

    def __bool__(self):
        # a comparison or a branch on an input cannot be recorded: refuse it loudly
        raise TypeError("a formula for the page cannot branch on its inputs")


def symbols(names: str) -> list[Symbol]:
    return [Symbol(name) for name in names.split()]


def as_tree(value):
    """The formula of a Symbol, or a constant (int or float) as it is."""
    if isinstance(value, Symbol):
        return value.tree
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"a formula takes numbers, not {value!r}")
    return value


def evaluate(tree, values: dict):
    """The formula's value for these inputs, as the page computes it."""
    if isinstance(tree, str):
        return values[tree]
    if not isinstance(tree, list):
        return tree
    op, left, right = tree
    return OPERATIONS[op](evaluate(left, values), evaluate(right, values))


def inputs(tree) -> set[str]:
    """The names a formula reads."""
    if isinstance(tree, str):
        return {tree}
    if isinstance(tree, list):
        return inputs(tree[1]) | inputs(tree[2])
    return set()
