"""The project's rule that a function fits on a screen: at most 80 lines, from its ``def``
line to its last line (decorators not counted). ruff has no such rule, so ``nox -s lint``
runs this over the Python; biome runs ``function_length.grit`` over the JavaScript.

    python -m buildlib.function_length [path ...]    (default: the whole repository)
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path

MOST_LINES = 80
# Built pages (docs/_build, the test projects' _build) hold no code of ours.
NOT_OURS = {"_build"}


def long_functions(source: str, path: str) -> list[str]:
    """A "path:line: function name is N lines (at most 80)" line per longer function."""
    functions = [
        node
        for node in ast.walk(ast.parse(source, path))
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
    ]
    return [
        f"{path}:{node.lineno}: function {node.name} is {lines} lines (at most {MOST_LINES})"
        for node in sorted(functions, key=lambda node: node.lineno)
        if (lines := node.end_lineno - node.lineno + 1) > MOST_LINES
    ]


def python_files(paths: Iterable[Path]) -> Iterator[Path]:
    """The .py files under ``paths``, leaving out hidden folders (.nox's virtualenvs, the
    shared .cache, .git) and built pages."""
    for path in paths:
        if path.is_file():
            yield path
            continue
        for file in sorted(path.rglob("*.py")):
            inside = file.relative_to(path).parts[:-1]
            if not any(part.startswith(".") or part in NOT_OURS for part in inside):
                yield file


def main(arguments: list[str]) -> int:
    problems = [
        problem
        for file in python_files(Path(argument) for argument in arguments or ["."])
        for problem in long_functions(file.read_text(encoding="utf-8"), str(file))
    ]
    print("\n".join(problems) or f"No function over {MOST_LINES} lines.")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
