"""buildlib/function_length.py: `nox -s lint` fails on a Python function over 80 lines."""

from __future__ import annotations

from buildlib import function_length


def _function(name: str, lines: int, indent: str = "") -> str:
    """A function of exactly ``lines`` lines: its def line and lines - 1 statements."""
    body = "".join(f"{indent}    x{i} = {i}\n" for i in range(lines - 1))
    return f"{indent}def {name}():\n{body}"


def test_an_81_line_function_is_flagged_at_its_def_line_and_an_80_line_one_passes():
    source = "import os\n\n" + _function("fits", 80) + "\n" + _function("too_long", 81)

    assert function_length.long_functions(source, "m.py") == [
        "m.py:84: function too_long is 81 lines (at most 80)"
    ]


def test_methods_and_async_functions_count_and_decorators_do_not():
    method = "    @staticmethod\n    @property\n" + _function("beat", 80, indent="    ")
    source = "class Scene:\n" + method + "\nasync " + _function("fetch", 81)

    assert function_length.long_functions(source, "s.py") == [
        "s.py:85: function fetch is 81 lines (at most 80)"
    ]


def test_the_command_walks_folders_past_built_pages_and_hidden_ones(tmp_path, capsys):
    for folder in ("src", "docs/_build", ".nox/lib"):
        (tmp_path / folder).mkdir(parents=True)
        (tmp_path / folder / "long.py").write_text(_function("long", 81))
    (tmp_path / "src" / "short.py").write_text(_function("short", 80))

    assert function_length.main([str(tmp_path)]) == 1
    assert capsys.readouterr().out.splitlines() == [
        f"{tmp_path / 'src' / 'long.py'}:1: function long is 81 lines (at most 80)"
    ]
    assert function_length.main([str(tmp_path / "src" / "short.py")]) == 0
