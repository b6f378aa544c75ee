"""What a failed claim measured: an IPython extension loaded by the book's kernels.

A chapter states what its runs show and checks it with an assert in the cell that
computes it. When one fails, the build warns with the claim's text and the values it
was decided on (ext/claims.py), so this extension adds to the AssertionError's message
the value of every name the assert reads:

    AssertionError: the prose says: masked ahead in both seeds
    (assert min(early_m) > max(early_u); measured: early_m = [0.0, 0.0], early_u = [...])

Nothing else changes: the error still stops the notebook, and a reader's own kernel,
without this extension, raises the same assert with its own message.
"""

from __future__ import annotations

import ast
import builtins
import linecache
import types

SHOWN = 120  # characters of a value's repr: enough for a few seeds' numbers


def load_ipython_extension(shell) -> None:
    shell.set_custom_exc((AssertionError,), _show_with_values)


def _show_with_values(shell, etype, value, tb, tb_offset=None):
    # IPython discards what a handler returns when it runs a cell: show it ourselves
    value.args = (with_values(str(value), tb),)
    shell.showtraceback((etype, value, tb), tb_offset=tb_offset)
    return []


def with_values(message: str, tb) -> str:
    """``message`` followed by the failing assert's source and its names' values."""
    while tb.tb_next is not None:
        tb = tb.tb_next
    frame = tb.tb_frame
    statement = _assert_at(linecache.getlines(frame.f_code.co_filename), tb.tb_lineno)
    if statement is None:
        return message
    source, test = statement
    scope = {**frame.f_globals, **frame.f_locals}
    names = sorted({node.id for node in ast.walk(test) if isinstance(node, ast.Name)})
    values = [
        f"{name} = {_short(scope[name])}"
        for name in names
        if name in scope and not _is_code(scope[name]) and not hasattr(builtins, name)
    ]
    detail = f"assert {source}" + (f"; measured: {', '.join(values)}" if values else "")
    return f"{message} ({detail})" if message else detail


def _assert_at(lines: list[str], lineno: int) -> tuple[str, ast.expr] | None:
    """The test of the assert statement on line ``lineno`` of a cell, with its source."""
    try:
        tree = ast.parse("".join(lines))
    except SyntaxError:
        return None
    for node in ast.walk(tree):
        if isinstance(node, ast.Assert) and node.lineno <= lineno <= node.end_lineno:
            return ast.get_source_segment("".join(lines), node.test), node.test
    return None


def _is_code(value) -> bool:
    return isinstance(value, (types.ModuleType, types.FunctionType, type))


def _short(value) -> str:
    text = " ".join(repr(value).split())
    return text if len(text) <= SHOWN else text[: SHOWN - 1] + "…"
