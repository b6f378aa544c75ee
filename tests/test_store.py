"""The artifact store (buildlib/store.py) and the keys built on it: early cut-off, settings
that shape an artifact, concurrent and killed builds, entries that point outside."""

from __future__ import annotations

import ast
import json
import multiprocessing
import os
import re
import signal
import subprocess
import sys
import textwrap
import time
import tomllib
from pathlib import Path

import pytest

from buildlib import keys, store
from ext.manim_clip import film, render

REPO = Path(__file__).resolve().parent.parent


# --- keys: code, not comments; every import, wherever it lives ---------------------------


def test_code_digest_ignores_comments_and_docstrings_not_code(tmp_path):
    path = tmp_path / "m.py"
    path.write_text('"""Doc."""\nX = 1  # why\n\n\ndef f():\n    """Doc."""\n    return X\n')
    before = keys.code_digest(path)
    path.write_text('"""Other doc."""\n# a new comment\nX = 1\n\n\ndef f():\n    return X\n')
    assert keys.code_digest(path) == before
    path.write_text('"""Doc."""\nX = 2\n\n\ndef f():\n    return X\n')
    assert keys.code_digest(path) != before


def test_a_comment_edit_of_model_py_keeps_the_training_key(tmp_path):
    """Comment-only edit of model.py: the key of every trained model stays the same."""
    copy = tmp_path / "model_src"
    copy.mkdir()
    for source in (REPO / "model_src").glob("*.py"):
        (copy / source.name).write_bytes(source.read_bytes())
    before = keys.code_inputs(copy / "train.py", search=[tmp_path])
    with open(copy / "model.py", "a") as fh:
        fh.write("\n# a comment at the end changes no weight\n")
    assert keys.code_inputs(copy / "train.py", search=[tmp_path]) == before
    with open(copy / "model.py", "a") as fh:
        fh.write("UNUSED = 1\n")
    assert keys.code_inputs(copy / "train.py", search=[tmp_path]) != before


def test_a_module_saved_while_a_build_runs_is_keyed_by_the_code_the_build_loaded(tmp_path):
    """A producer module edited while a build runs: the build still runs the code it loaded,
    so its keys name that code, and what it makes is not stored under the edit's key. A
    module not loaded yet is keyed by its file, as before."""
    (tmp_path / "made").mkdir()
    (tmp_path / "made" / "__init__.py").write_text("")
    for name in ("kind", "later"):
        (tmp_path / "made" / f"{name}.py").write_text("ANSWER = 1\n")
    script = textwrap.dedent(f"""
        import json, sys
        from pathlib import Path
        root = Path({str(tmp_path)!r})
        sys.path.insert(0, str(root))
        from buildlib import keys
        import importlib.util
        site = Path(importlib.util.find_spec("yaml").origin).parents[1]
        keys.remember_loaded_code(root, site)
        import yaml  # an installed package, even under a root, is keyed by its version
        from made import kind
        assert not any(keys.installed(file) for file in keys._LOADED), keys._LOADED
        def key(name):
            return keys.code_inputs(root / "made" / f"{{name}}.py", search=[root])
        before = key("kind"), key("later")
        for name in ("kind", "later"):
            (root / "made" / f"{{name}}.py").write_text("ANSWER = 2\\n")
        print(json.dumps([before, (key("kind"), key("later")), kind.ANSWER]))
    """)
    run = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, check=True
    )
    (kind_before, later_before), (kind_after, later_after), answer = json.loads(run.stdout)
    assert answer == 1  # the process runs the code it loaded
    assert kind_after == kind_before  # and keys it by that code
    assert later_after != later_before  # a module it never loaded: by the file now


def test_imports_outside_the_project_are_followed_and_packages_named_by_version(tmp_path):
    """Issue 18, item 6: a helper on PYTHONPATH is part of the key, wherever it lives."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "helper.py").write_text("import json\nWIDTH = 48\n")
    scene = tmp_path / "project" / "scene.py"
    scene.parent.mkdir()
    scene.write_text("import helper\nimport numpy\n")
    files, versions = keys.import_files(scene, [scene.parent, elsewhere])
    assert files == [(elsewhere / "helper.py").resolve()]
    assert any(v.startswith("numpy==") for v in versions)
    assert any(v.startswith("python==") for v in versions)  # json, from the standard library
    before = keys.code_inputs(scene, search=[elsewhere])
    (elsewhere / "helper.py").write_text("import json\nWIDTH = 144\n")
    assert keys.code_inputs(scene, search=[elsewhere]) != before


def test_a_remembered_import_answer_follows_an_edit_of_any_file_it_reached(tmp_path):
    """import_files remembers its answers within a process (a build asks 130 times): an
    edit of the file or of anything it reached is seen by the next call."""
    (tmp_path / "a.py").write_text("import b\n")
    (tmp_path / "b.py").write_text("X = 1\n")
    (tmp_path / "c.py").write_text("Y = 2\n")
    files, _ = keys.import_files(tmp_path / "a.py", [tmp_path])
    assert files == [(tmp_path / "b.py").resolve()]
    (tmp_path / "b.py").write_text("import c\nX = 1\n")  # a file it reached now imports c
    files, _ = keys.import_files(tmp_path / "a.py", [tmp_path])
    assert files == [(tmp_path / "b.py").resolve(), (tmp_path / "c.py").resolve()]
    (tmp_path / "a.py").write_text("X = 3\n")  # the file itself stops importing
    assert keys.import_files(tmp_path / "a.py", [tmp_path])[0] == []


def test_a_file_is_parsed_once_for_every_build_that_shares_the_cache(tmp_path):
    """What parsing a file tells (code digest, imports) is kept in the cache by the file's
    bytes: the next process reads it instead of parsing; an edit is parsed again."""
    module = tmp_path / "m.py"
    module.write_text("import os\nX = 1\n")
    ask = textwrap.dedent(
        f"""
        from pathlib import Path
        from buildlib import keys
        parsed = []
        parse = keys.parse_python
        keys.parse_python = lambda *args: parsed.append(1) or parse(*args)
        path = Path({str(module)!r})
        print(keys.code_digest(path), keys.import_files(path, [path.parent])[1], len(parsed))
        """
    )
    env = {**os.environ, "NANOBOOK_CACHE_DIR": str(tmp_path / "cache"), "PYTHONPATH": str(REPO)}

    def answer() -> tuple[str, str]:
        run = subprocess.run([sys.executable, "-c", ask], env=env, capture_output=True, text=True)
        assert run.returncode == 0, run.stderr
        return run.stdout.split(maxsplit=1)[0], run.stdout.rsplit(maxsplit=1)[1]

    first, parses = answer()
    assert parses == "1"  # one parse for both questions
    assert answer() == (first, "0")
    module.write_text("import os\nX = 2\n")
    edited, parses = answer()
    assert edited != first and parses == "1"


def test_the_model_code_keys_alike_installed_from_a_wheel_and_in_the_checkout(
    tmp_path, monkeypatch
):
    """A reader's notebook finds the models the build trained: with model_src and buildlib
    installed in site-packages by the nanobook wheel, the files they import from their
    own distribution (relatively, or buildlib.store from model_src) are keyed by their code,
    as in the checkout, not as one installed version."""
    site = tmp_path / "site-packages"
    packages = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"][
        "packages"
    ]
    for package in packages:  # what the wheel holds, as pyproject.toml lists it
        folder = Path(*package.split("."))
        (site / folder).mkdir(parents=True)
        for source in (REPO / folder).glob("*.py"):
            (site / folder / source.name).write_bytes(source.read_bytes())
    info = site / "nanobook-0.1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: nanobook\nVersion: 0.1.0\n")
    (info / "top_level.txt").write_text("buildlib\nmodel_src\n")
    modules = ("train.py", "experiments/variants.py")
    in_checkout = {m: keys.code_inputs(REPO / "model_src" / m, search=[REPO]) for m in modules}
    monkeypatch.syspath_prepend(str(site))
    keys._distributions.cache_clear()
    keys._package_version.cache_clear()
    try:
        for module in modules:
            from_wheel = keys.code_inputs(site / "model_src" / module, search=[site])
            assert from_wheel == in_checkout[module], module
            assert not any(part.startswith("nanobook==") for part in from_wheel)
        assert any(part.startswith("buildlib/store.py=") for part in from_wheel)
        assert any(part.startswith("model_src/model.py=") for part in from_wheel)
    finally:
        keys._distributions.cache_clear()
        keys._package_version.cache_clear()


def _module_settings(path: Path) -> list[str]:
    """Names of the module-level constants (UPPER_CASE = literal) of a file."""
    tree = ast.parse(path.read_text())
    return [
        target.id
        for node in tree.body
        if isinstance(node, ast.Assign)
        for target in node.targets
        if isinstance(target, ast.Name) and target.id.isupper()
    ]


@pytest.mark.parametrize(
    ("producer", "source", "settings"),
    [
        (
            "clip",
            "media.py",
            ["GIF_WIDTH", "GIF_FPS", "GIF_COLOURS", "H264_OPTIONS", "CODEC_OPTIONS"],
        ),
        ("film", "media.py", ["H264_OPTIONS"]),
        ("film", "film.py", ["CARD_SECONDS", "BACKGROUND"]),
    ],
)
def test_every_setting_that_shapes_an_artifact_is_in_its_key(tmp_path, producer, source, settings):
    """Editing a setting's value changes the producer's key, so the artifact is remade."""
    package = REPO / "ext" / "manim_clip"
    keyed = render.producer_code() if producer == "clip" else keys.producer_code(film.__file__)
    name = f"ext/manim_clip/{source}="
    assert any(part.startswith(name) for part in keyed), f"{source} is not in the {producer} key"
    original = (package / source).read_text()
    assert set(settings) <= set(_module_settings(package / source))
    copy = tmp_path / source
    for setting in settings:
        edited = re.sub(rf"^{setting} = ", f"{setting} = 1 or ", original, count=1, flags=re.M)
        assert edited != original
        copy.write_text(edited)
        assert keys.code_digest(copy) != keys.code_digest(package / source), setting


_PARSE_IN_THREADS = """
import gc, sys, threading
from pathlib import Path
from buildlib import store
sources = [p.read_bytes() for p in sorted(Path("ext").rglob("*.py"))[:10]]
gc.set_threshold(50)  # Python code runs mid-construction, so threads switch there
gc.callbacks.append(lambda phase, info: sum(range(200)))
sys.setswitchinterval(1e-6)
failures = []
def parse_all():
    for _ in range(5):
        for source in sources:
            try:
                keys.parse_python(source)
            except SystemError as err:
                failures.append(str(err))
threads = [threading.Thread(target=parse_all) for _ in range(4)]
[t.start() for t in threads]
[t.join() for t in threads]
print(len(failures), failures[:1])
"""


def test_keys_computed_in_threads_parse_one_at_a_time():
    """CI failure: the diagrams' threads parsed at once and CPython 3.11 raised "AST
    constructor recursion depth mismatch". Bare ast.parse fails this script; ours not."""
    run = subprocess.run(
        [sys.executable, "-c", _PARSE_IN_THREADS],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    assert run.stdout.startswith("0 "), run.stdout


def test_the_shape_capture_key_includes_locate_py():
    from ext.annotated_source import shapes

    assert any(
        p.startswith("ext/annotated_source/locate.py=") for p in keys.producer_code(shapes.__file__)
    )


# --- the store: validation, concurrency, crashes -----------------------------------------


def _write_entry(folder: Path, text: str = "clip") -> None:
    (folder / "clip.mp4").write_text(text)
    store.write_meta(folder, {"files": {"mp4": "clip.mp4"}})


@pytest.mark.parametrize(
    "name", ["../../../../etc/hostname", "/etc/hostname", "..", "", "sub/clip.mp4", "link.mp4"]
)
def test_an_entry_naming_files_outside_itself_is_never_read(tmp_path, name):
    """Issue 18, item 7: a restored cache is input; its entries are checked first."""
    entry = tmp_path / "key"
    entry.mkdir()
    (entry / "link.mp4").symlink_to("/etc/hostname")
    store.write_meta(entry, {"files": {"mp4": name}})
    with pytest.raises(store.InvalidEntry):
        store.validate(entry)
    assert store.Store(tmp_path).get("key") is None  # never read
    made = store.Store(tmp_path).get_or_make("key", _write_entry)  # remade, not served
    assert made == {"files": {"mp4": "clip.mp4"}}


@pytest.mark.parametrize(
    "damage",
    ["cut short", "a byte flipped", "removed", "meta.json cut short", "unrecorded", "a field"],
)
def test_a_damaged_entry_is_removed_and_made_again_with_one_line_in_the_log(tmp_path, damage):
    """Issue 31, item 2: the store checks what its files hold, not only their names."""
    root = tmp_path / "clips"
    store.Store(root).get_or_make("key", lambda tmp: _write_entry(tmp, "the whole clip"))
    clip, meta = root / "key" / "clip.mp4", root / "key" / "meta.json"
    if damage == "cut short":
        clip.write_bytes(clip.read_bytes()[:5])
    elif damage == "a byte flipped":
        data = bytearray(clip.read_bytes())
        data[3] ^= 0xFF
        clip.write_bytes(bytes(data))
    elif damage == "removed":
        clip.unlink()
    elif damage == "meta.json cut short":
        meta.write_bytes(meta.read_bytes()[:20])
    elif damage == "unrecorded":  # written by a store that recorded nothing: it cannot be checked
        meta.write_text(json.dumps({"files": {"mp4": "clip.mp4"}}))
    else:  # what meta.json itself says (a diagram's drawing lives there) changed
        fields = json.loads(meta.read_text())
        meta.write_text(json.dumps({**fields, "text": "a drawing nobody made"}))
    with pytest.raises(store.InvalidEntry):
        store.validate(root / "key")
    assert store.Store(root).get("key") is None
    lines = []
    made = store.Store(root, log=lines.append).get_or_make("key", _write_entry)
    assert made == {"files": {"mp4": "clip.mp4"}} and clip.read_text() == "clip"
    assert len(lines) == 1, lines
    assert re.fullmatch(r"clips/key: the cache entry was damaged \(.+\); remade", lines[0])
    assert store.Store(root, log=lines.append).get("key") == made and len(lines) == 1


def test_an_entry_its_producer_cannot_parse_is_damaged_and_made_again(tmp_path):
    """Issue 31: a result that cannot be parsed is a damaged entry, not the author's error."""
    root = tmp_path / "live"

    def parse(entry: Path, meta: dict) -> dict:
        return json.loads((entry / "clip.mp4").read_text())

    store.Store(root).get_or_make("key", lambda tmp: _write_entry(tmp, "{oops"))
    lines = []
    made = store.Store(root, log=lines.append).get_or_make(
        "key", lambda tmp: _write_entry(tmp, '{"ok": true}'), parse
    )
    assert made == {"ok": True}
    assert len(lines) == 1 and "its contents do not parse: JSONDecodeError" in lines[0]


def _make_slowly(root: str, key: str, log: str) -> dict:
    def make(tmp: Path) -> None:
        with open(log, "a") as fh:
            fh.write(f"{os.getpid()}\n")
        time.sleep(0.5)
        _write_entry(tmp)

    return store.Store(Path(root)).get_or_make(key, make)


def test_two_builds_sharing_a_cache_make_an_entry_once(tmp_path):
    log = tmp_path / "made.log"
    context = multiprocessing.get_context("spawn")
    with context.Pool(2) as pool:
        results = pool.starmap(_make_slowly, [(str(tmp_path / "c"), "k", str(log))] * 2)
    assert results[0] == results[1] == {"files": {"mp4": "clip.mp4"}}
    assert len(log.read_text().splitlines()) == 1  # the second build waited, then read
    assert sorted(p.name for p in (tmp_path / "c").iterdir()) == [".k.lock", "k"]


def test_a_build_killed_while_making_leaves_no_half_entry(tmp_path):
    root = tmp_path / "c"
    code = textwrap.dedent(f"""
        import time
        from pathlib import Path
        from buildlib import store

        def make(tmp):
            (tmp / "clip.mp4").write_text("half")
            print("making", flush=True)
            time.sleep(60)

        store.Store(Path({str(root)!r})).get_or_make("k", make)
    """)
    child = subprocess.Popen(
        [sys.executable, "-c", code], cwd=REPO, stdout=subprocess.PIPE, text=True
    )
    assert child.stdout.readline().strip() == "making"
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    leftovers = [p.name for p in root.iterdir()]
    assert "k" not in leftovers and any(p.startswith(".tmp-k-") for p in leftovers)
    assert store.Store(root).get("k") is None
    meta = store.Store(root).get_or_make("k", _write_entry)  # resumes: stale temp cleared
    assert meta == {"files": {"mp4": "clip.mp4"}}
    assert sorted(p.name for p in root.iterdir()) == [".k.lock", "k"]
    assert store.validate(root / "k") == meta


def test_prune_removes_what_no_build_used_for_days(tmp_path):
    cache = tmp_path / "cache"
    clips, shapes = store.Store(cache / "clips"), cache / "shapes"
    for key in ("old", "used", "new"):
        clips.get_or_make(key, _write_entry)
    shapes.mkdir()
    (shapes / "capture.json").write_text("{}")
    (cache / "clips" / ".tmp-x-1-").mkdir()  # a store's own business
    month_ago = time.time() - 31 * 86400
    for old in ("clips/old", "clips/used", "shapes/capture.json"):
        os.utime(cache / old, (month_ago, month_ago))
    assert clips.get("used") is not None  # a build reads it: stamped used
    assert [(e.name, size > 0) for e, size in store.prune(cache, 30, dry_run=True)] == [
        ("old", True),
        ("capture.json", True),
    ]
    assert (cache / "clips" / "old").is_dir()  # a dry run removes nothing

    code = "from buildlib import store; import sys; sys.exit(store.main(['prune']))"
    env = {**os.environ, "NANOBOOK_CACHE_DIR": str(cache)}
    run = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines()[-1].startswith(f"2 entries unused for 30 days in {cache}")
    assert sorted(p.name for p in (cache / "clips").iterdir()) == [
        ".new.lock",
        ".tmp-x-1-",
        ".used.lock",
        "new",
        "used",
    ]
    assert list(shapes.iterdir()) == []


def test_atomic_copy_compares_content_not_size(tmp_path):
    from ext._core import atomic_copy

    source, target = tmp_path / "a.png", tmp_path / "out" / "a.png"
    source.write_bytes(b"new!")
    target.parent.mkdir()
    target.write_bytes(b"old!")  # same name, same size, other bytes
    atomic_copy(source, target)
    assert target.read_bytes() == b"new!"


# --- structure ---------------------------------------------------------------------------


def _ext_import_graph() -> dict[str, set[str]]:
    """module -> ext and buildlib modules it imports (at any depth of the file: deferred
    ones too)."""
    modules = {}
    for path in [*(REPO / "ext").rglob("*.py"), *(REPO / "buildlib").rglob("*.py")]:
        parts = path.relative_to(REPO).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        modules[name] = path
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        edges = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                prefix = ".".join(base) if node.level else ""
                module = ".".join(filter(None, [prefix, node.module]))
                names = [f"{module}.{alias.name}" for alias in node.names]
                # `from .. import compute` imports the submodule; the package itself only
                # when a name is not one of its modules
                if not all(name in modules for name in names):
                    names.append(module)
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            else:
                continue
            edges.update(n for n in names if n in modules and n != name and n != package)
        graph[name] = edges
    return graph


def test_no_import_cycle_among_ext_modules():
    graph = _ext_import_graph()
    assert "ext.arch_diagram.pipeline" in graph["ext.arch_diagram"]  # a deferred import
    state: dict[str, str] = {}

    def visit(module: str, path: list[str]) -> None:
        state[module] = "open"
        for imported in sorted(graph[module]):
            if state.get(imported) == "open":
                cycle = [*path[path.index(imported) :], imported]
                pytest.fail("import cycle: " + " -> ".join(cycle))
            if imported not in state:
                visit(imported, [*path, imported])
        state[module] = "done"

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])


def test_the_library_the_model_code_shares_depends_on_no_extension():
    """Issue 30: model_src, the noxfile and the bench share buildlib; neither it nor the
    model code imports the Sphinx extensions (ext) or Sphinx."""
    graph = _ext_import_graph()
    assert {"buildlib.store", "buildlib.processes", "buildlib.book_build"} <= set(graph)
    for module, imported in graph.items():
        if module.startswith("buildlib"):
            assert not {m for m in imported if m.startswith("ext")}, module
    for path in [*(REPO / "buildlib").glob("*.py"), *(REPO / "model_src").rglob("*.py")]:
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and not node.level:
                names = [node.module]
            tops = {name.partition(".")[0] for name in names}
            assert not tops & {"ext", "sphinx", "docutils"}, (path.name, tops)


def test_one_default_cache_folder_for_the_book_the_model_code_and_prune(monkeypatch):
    """Issue 30: $NANOBOOK_CACHE_DIR, else the checkout's .cache, wherever it is asked."""
    from model_src import trained

    for value, expected in [("", REPO / ".cache"), ("/elsewhere/cache", Path("/elsewhere/cache"))]:
        monkeypatch.setenv("NANOBOOK_CACHE_DIR", value)
        assert store.default_cache() == expected
        assert trained.models().root == expected / "models"
