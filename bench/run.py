"""Measure the book's build performance, side by side with the references (`nox -s bench`).

Every scenario runs in a scratch copy of the repository with its own caches, so the
working tree and its .cache/ are never touched. Each is repeated (``--repeat``) and
reported as median, min and max; ratios are computed pair by pair (repeat i of one
scenario against repeat i of the other). Results go to bench/results.json and to
docs/performance.md, which the book publishes.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import functools
import http.server
import json
import os
import platform
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from buildlib import book_build  # noqa: E402  (the book's sphinx-build command, shared)

SKIP = shutil.ignore_patterns(".git", ".nox", ".cache", "_build", "__pycache__", "media")
CLIP_SUMMARY = re.compile(r"manim-clip: (\d+) rendered, (\d+) reused, (\d+) failed")
NOTEBOOK_FAILED = re.compile(r"WARNING: Executing notebook failed")  # MyST-NB
# How the renders themselves ran: from the first start to the last end, and their CPU.
RENDERS = re.compile(r"manim-clip: \d+ renders in ([\d.]+) s \(([\d.]+) CPU-s")
EXECUTED = re.compile(r"Executed notebook in")  # MyST-NB, one notebook while reading
EXECUTED_EARLY = re.compile(r"^executed (\d+) notebooks in", re.M)  # ext/notebooks.py
TRAINED = re.compile(r"training (\w+)")  # model_src.trained announces each training run
READ = re.compile(r"^reading sources\.\.\. \[\s*\d+%\] (\S+)", re.M)
HASHED_NAME = re.compile(r"-[0-9a-f]{16}\.mp4$")  # a clip or film named by its cache key
CHEAP_RUNS = 2  # no-op and prose-edit rebuilds per round: seconds each, so more samples
# main when issue 13 was filed: its cold publish build is re-measured beside this tree's
# (with this checkout's Python packages), so the two figures share one machine and load.
BASELINE = "f0f6dec"
# main just before issue 30's engine merged (its 16 chapters, Part III included): its cold
# publish build and rebuilds are re-measured beside this tree's
ENGINE_BEFORE = "d0aee45"
NOW_BESIDE, BEFORE = f"this tree beside {ENGINE_BEFORE}", f"engine before, {ENGINE_BEFORE}"
ENGINE_REBUILDS = ("no-op rebuild", "prose edit rebuild", "model.py comment edit rebuild")
EDITS = {  # issue 13's edits, each made to a workspace
    # appended after every object a page shows: no page is read again
    "comment-edit": lambda book: book.touch(
        "model_src/model.py", "\n# a comment only: no number changes\n"
    ),
    # reworded inside CausalSelfAttention.forward, which the attention chapter shows
    "shown-comment-edit": lambda book: book.reword(
        "model_src/model.py", "# each row now sums to 1", "# each row sums to 1 now"
    ),
    "sample-edit": lambda book: book.touch(
        "model_src/sample.py", "\nEDITED_FOR_THE_BENCH = True\n"
    ),
}
# The book's directive blocks (MyST fences), removed to build the plain-Sphinx floor.
DIRECTIVE_BLOCK = re.compile(
    r"^(`{3,})\{(manim-clip|manim-film|arch-diagram|annotated-source)\}.*?^\1[ \t]*$\n?",
    re.M | re.S,
)


def keep_label(block: re.Match) -> str:
    """A removed directive leaves its :name: behind, so references to it still resolve."""
    name = re.search(r"^:name:\s*(\S+)", block.group(0), re.M)
    return f"({name.group(1)})=\n" if name else ""


@dataclass
class Build:
    seconds: float
    rendered: int | None = 0
    reused: int = 0
    failed: int = 0
    executed: int = 0
    trained: int = 0
    cpu_seconds: float = 0.0  # of the build and every process it waited for
    read: list[str] = field(default_factory=list)  # the pages Sphinx (re-)read
    renders: tuple[float, float] | None = None  # the clip renders' wall and CPU seconds
    failed_notebooks: int = 0  # only a lenient workspace's build goes on past one

    def utilisation(self) -> float:
        """CPU-seconds / wall / cores: 100 % is every core busy the whole time."""
        return self.cpu_seconds / self.seconds / (os.cpu_count() or 1)


@dataclass
class Scenario:
    name: str
    builds: list[Build] = field(default_factory=list)

    @property
    def times(self) -> list[float]:
        return [b.seconds for b in self.builds]

    def summary(self) -> dict:
        t = self.times
        return {
            "median": statistics.median(t),
            "min": min(t),
            "max": max(t),
            "n": len(t),
            "rendered": [b.rendered for b in self.builds],
            "executed": [b.executed for b in self.builds],
            "trained": [b.trained for b in self.builds],
            "pages read": [len(b.read) for b in self.builds],
            "utilisation": [round(b.utilisation(), 3) for b in self.builds],
        }


class Workspace:
    """A scratch copy of the repository with its own cache and build folders."""

    def __init__(
        self,
        parent: Path,
        name: str,
        *,
        plain: bool = False,
        cache: Path | None = None,
        clips: bool = False,
        commit: str | None = None,
        lenient: bool = False,
    ):
        """``lenient``: a notebook that fails is a warning and a build that finishes with
        warnings counts (for an older commit whose chapters assert claims that this
        machine's rounding may break: its build is timed, not judged)."""
        self.root, self.lenient = parent / name, lenient
        if commit:  # that commit's files, as `git archive` exports them
            self.root.mkdir(parents=True)
            archive = subprocess.run(
                ["git", "-C", str(ROOT), "archive", commit], capture_output=True, check=True
            ).stdout
            subprocess.run(["tar", "-x", "-C", str(self.root)], input=archive, check=True)
        else:
            shutil.copytree(ROOT, self.root, ignore=SKIP)
        if cache:
            skip = shutil.ignore_patterns("*.lock", *([] if clips else ["clips"]))
            shutil.copytree(cache, self.root / ".cache", ignore=skip)
        if plain:
            for page in (self.root / "docs").rglob("*.md"):
                page.write_text(DIRECTIVE_BLOCK.sub(keep_label, page.read_text()))

    @property
    def docs(self) -> Path:
        return self.root / "docs"

    def build(self, quality: str, *options: str) -> Build:
        env = {**os.environ, **book_build.environment(self.root / ".cache", quality)}
        cmd = [
            sys.executable,
            "-m",
            "sphinx",
            *book_build.sphinx_args(self.docs / "_build", docs=self.docs),
            *options,
            *(["-D", "nb_execution_raise_on_error=0"] if self.lenient else []),
        ]
        start, cpu = time.perf_counter(), _children_cpu()
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
        seconds, cpu = time.perf_counter() - start, _children_cpu() - cpu
        log = proc.stdout + proc.stderr
        finished = self.lenient and "build finished with problems" in log
        if proc.returncode and not finished:
            raise SystemExit(f"build failed in {self.root}:\n{log[-6000:]}")
        clips = [tuple(map(int, m)) for m in CLIP_SUMMARY.findall(log)]
        rendered, reused, failed = map(sum, zip(*clips, strict=False)) if clips else (0, 0, 0)
        renders = RENDERS.search(log)
        return Build(
            seconds,
            rendered,
            reused,
            failed,
            len(EXECUTED.findall(log)) + sum(map(int, EXECUTED_EARLY.findall(log))),
            len(TRAINED.findall(log)),
            cpu,
            READ.findall(log),
            tuple(map(float, renders.groups())) if renders else None,
            len(NOTEBOOK_FAILED.findall(log)),
        )

    def forget(self, *what: str) -> None:
        """Drop caches: 'build' (Sphinx outputs), 'clips', or 'all' (everything)."""
        if "build" in what or "all" in what:
            shutil.rmtree(self.docs / "_build", ignore_errors=True)
        if "all" in what:
            shutil.rmtree(self.root / ".cache", ignore_errors=True)
        if "clips" in what:
            shutil.rmtree(self.root / ".cache" / "clips", ignore_errors=True)

    def touch(self, relpath: str, text: str) -> None:
        path = self.root / relpath
        path.write_text(path.read_text() + text)

    def reword(self, relpath: str, old: str, new: str) -> None:
        path = self.root / relpath
        text = path.read_text()
        if old not in text:
            raise SystemExit(f"bench: {relpath} no longer holds {old!r}; update EDITS")
        path.write_text(text.replace(old, new, 1))


def ratio(a: Scenario, b: Scenario) -> dict:
    pairs = [x / y for x, y in zip(a.times, b.times, strict=False)]
    return {"median": statistics.median(pairs), "min": min(pairs), "max": max(pairs)}


def manim_directive_project(
    parent: Path, name: str, scenes: list[tuple[str, Path]], ours: bool
) -> Path:
    """A small Sphinx project showing the same scenes with our directive or Manim's.

    Both get a copy of docs/scenes/ (the scenes import its palette and helpers) and the
    book's trained models; ours names each scene file, Manim's takes its code inline.
    """
    src = parent / name
    shutil.copytree(ROOT / "docs" / "scenes", src / "scenes", ignore=SKIP)
    ext = '"ext.manim_clip"' if ours else '"manim.utils.docbuild.manim_directive"'
    (src / "conf.py").write_text(
        "import sys\n"
        f"sys.path[:0] = [{str(ROOT)!r}, {str(src / 'scenes')!r}]\n"
        f"extensions = [{ext}]\n"
        f"nanobook_project_root = {str(src)!r}\n"
        f"nanobook_cache_dir = {str(src / '.cache')!r}\n"
    )
    body = ["Scenes\n======\n"]
    for cls, path in scenes:
        body.append(f"\n{cls}\n{'-' * len(cls)}\n\nSome prose about {cls}.\n\n")
        if ours:
            body.append(f".. manim-clip:: {cls}\n   :file: /scenes/{path.name}\n")
        else:
            code = "\n".join("   " + line if line else "" for line in path.read_text().splitlines())
            body.append(f".. manim:: {cls}\n   :quality: medium\n   :hide_source:\n\n{code}\n")
    (src / "index.rst").write_text("".join(body))
    return src


def build_project(src: Path, models: Path, quality: str = "publish") -> Build:
    """Build a comparison project: warnings fail it, so a clip that did not render counts.

    ``models`` is a cache that already holds the trained sort model, the same for both.
    """
    env = {**os.environ, "NANOBOOK_CLIP_QUALITY": quality, "NANOBOOK_CACHE_DIR": str(models)}
    cmd = [
        sys.executable,
        "-m",
        "sphinx",
        "-b",
        "html",
        "-W",
        "-d",
        str(src / "_build/doctrees"),
        str(src),
        str(src / "_build/html"),
    ]
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=src, check=False)
    seconds = time.perf_counter() - start
    log = proc.stdout + proc.stderr
    if proc.returncode:
        raise SystemExit(f"build of {src} failed:\n{log[-6000:]}")
    clips = [tuple(map(int, m)) for m in CLIP_SUMMARY.findall(log)]
    # Manim's directive reports nothing: its clips count as unknown, not as zero.
    return Build(seconds, rendered=sum(c[0] for c in clips) if clips else None)


def site_weight(html: Path) -> dict:
    files = [p for p in html.rglob("*") if p.is_file()]
    # The film of every clip is one long video of its own, not a clip; and each clip and
    # film is also copied under its stable :name: (ch-…): counted once, by its hashed name.
    videos = sorted(p for p in html.rglob("_clips/*.mp4") if HASHED_NAME.search(p.name))
    clips = {p.name: p.stat().st_size for p in videos if not p.name.startswith("film-")}
    films = {p.name: p.stat().st_size for p in videos if p.name.startswith("film-")}
    return {
        "total_bytes": sum(p.stat().st_size for p in files),
        "clip_mp4_bytes": clips,
        "film_mp4_bytes": films,
    }


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def describe(build: Build) -> dict:
    described = {
        "seconds": round(build.seconds, 1),
        "cpu_seconds": round(build.cpu_seconds, 1),
        "utilisation": round(build.utilisation(), 3),
        "trained": build.trained,
        "executed": build.executed,
        "rendered": build.rendered,
        "read": len(build.read),
        "pages_read": build.read,
    }
    if build.renders:
        described["render_seconds"], described["render_cpu_seconds"] = build.renders
    return described


def clip_renders(book: Workspace) -> dict[int, Build]:
    """The clips rendered again from an empty clip cache, with 1 and then 2 render jobs,
    on a warm book (nothing else to do). Build.renders times the renders themselves:
    the build's fixed costs and the film's join would blur the ratio."""
    builds = {}
    for jobs in (1, 2):
        book.forget("clips")
        builds[jobs] = book.build("draft", "-D", f"manim_clip_jobs={jobs}")
    return builds


def edit_scenarios(scratch: Path, which: list[str]) -> dict:
    """Issue 13's edits on a warm book (a copy of this checkout's .cache, clips too):
    a prose edit (the yardstick), a comment-only edit of model.py, a code edit of
    sample.py. Each says what it retrained, executed, rendered and re-read."""
    book = Workspace(scratch, "edits", cache=ROOT / ".cache", clips=True)
    book.build("draft")  # warm: this tree's own keys
    book.touch("docs/chapters/attention.md", "\nProse.\n")
    results = {"prose edit": describe(book.build("draft"))}
    for name in which:
        EDITS[name](book)
        results[name] = describe(book.build("draft"))
        results[name]["/ prose edit"] = round(
            results[name]["seconds"] / results["prose edit"]["seconds"], 2
        )
    shutil.rmtree(book.root, ignore_errors=True)
    return results


def cheap_rebuilds(book: Workspace, plain: Workspace, record) -> None:
    """No-op and prose-edit rebuilds of the book and of its plain-Sphinx floor (the same
    pages without our directives), one after the other: ``record(name, build)``."""
    for _ in range(CHEAP_RUNS):
        record("no-op rebuild", book.build("draft"))
        record("no-op rebuild, plain Sphinx", plain.build("draft"))
    for _ in range(CHEAP_RUNS):
        book.touch("docs/chapters/attention.md", "\nOne more sentence of prose.\n")
        record("prose edit rebuild", book.build("draft"))
        plain.touch("docs/chapters/attention.md", "\nOne more sentence of prose.\n")
        record("prose edit rebuild, plain Sphinx", plain.build("draft"))


def floor(scratch: Path) -> dict:
    """The cheap rebuilds on a warm book (a copy of this checkout's .cache) and its
    plain-Sphinx floor: what the engine adds to Sphinx on the same pages."""
    book = Workspace(scratch, "floor", cache=ROOT / ".cache", clips=True)
    book.build("draft")  # warm: this tree's own keys
    plain = Workspace(scratch, "floor-plain", plain=True, cache=book.root / ".cache")
    plain.build("draft")
    scenarios: dict[str, Scenario] = {}
    cheap_rebuilds(
        book, plain, lambda name, b: scenarios.setdefault(name, Scenario(name)).builds.append(b)
    )
    results = {name: scenario.summary() for name, scenario in scenarios.items()}
    for label in ("no-op rebuild", "prose edit rebuild"):
        pair = ratio(scenarios[label], scenarios[f"{label}, plain Sphinx"])
        results[f"{label} / plain Sphinx"] = round(pair["median"], 2)
    return results


# a page whose notebook runs in both trees here (a failed one would run again on each edit)
PROSE_PAGE = "docs/chapters/sampling.md"


def engine_before(scratch: Path, record, cache: Path) -> None:
    """A cold publish build of ENGINE_BEFORE (its own pages and models, from an empty
    cache), then no-op, prose-edit and comment-edit rebuilds of it and of this tree (on a
    copy of ``cache``), at publish quality, taken in turn so that a change in the
    machine's speed hits both: ``record(name, build)``."""
    now = Workspace(scratch, "now", cache=cache, clips=True)
    now.build("publish")  # warm: renders nothing when ``cache`` holds publish clips
    before = Workspace(scratch, "before", commit=ENGINE_BEFORE, lenient=True)
    record(f"cold build, publish, {BEFORE}", before.build("publish"))
    edits = [
        ("no-op rebuild", lambda book: None),
        ("no-op rebuild", lambda book: None),
        ("prose edit rebuild", lambda book: book.touch(PROSE_PAGE, "\nProse.\n")),
        ("prose edit rebuild", lambda book: book.touch(PROSE_PAGE, "\nMore.\n")),
        ("model.py comment edit rebuild", EDITS["comment-edit"]),
    ]
    for name, edit in edits:
        for tree, book in ((NOW_BESIDE, now), (BEFORE, before)):
            edit(book)
            record(f"{name}, {tree}", book.build("publish"))
    for book in (now, before):
        shutil.rmtree(book.root, ignore_errors=True)


def cold_publish(scratch: Path) -> dict:
    """Cold publish builds from an empty cache, this tree's and the baseline's one after
    the other: wall time, and how busy the cores were."""
    results = {}
    for label, commit in (("this tree", None), (f"baseline {BASELINE}", BASELINE)):
        book = Workspace(scratch, "cold-publish", commit=commit)
        results[label] = describe(book.build("publish"))
        shutil.rmtree(book.root, ignore_errors=True)
    ours, baseline = results["this tree"], results[f"baseline {BASELINE}"]
    results["wall / baseline"] = round(ours["seconds"] / baseline["seconds"], 3)
    return results


def parts(names: list[str], html: Path) -> None:
    """Run only the named scenarios (`python bench/run.py --only comment-edit`); print
    their figures as JSON. The machine may be shared: these never run the full bench."""
    scratch = Path(tempfile.mkdtemp(prefix="nanobook-bench-"))
    try:
        results = {}
        edits = [name for name in names if name in EDITS]
        if edits:
            results.update(edit_scenarios(scratch, edits))
        if "floor" in names:
            results["floor"] = floor(scratch)
        if "engine-before" in names:  # as the full run does: this tree's cold publish first
            before: dict[str, Scenario] = {}

            def record(name: str, build: Build) -> None:
                before.setdefault(name, Scenario(name)).builds.append(build)

            book = Workspace(scratch, "publish")
            record("cold build, publish", book.build("publish"))
            engine_before(scratch, record, cache=book.root / ".cache")
            results["engine before"] = {name: sc.summary() for name, sc in before.items()}
        if "cold-publish-cpu" in names:
            results["cold publish"] = cold_publish(scratch)
        if "clip-renders" in names:
            book = Workspace(scratch, "clip-renders", cache=ROOT / ".cache")
            book.build("draft")  # warm: this tree's own keys
            builds = clip_renders(book)
            results["clip renders"] = {f"{jobs} job(s)": describe(b) for jobs, b in builds.items()}
            results["clip renders"]["2 jobs / 1 job"] = round(
                builds[2].renders[0] / builds[1].renders[0], 3
            )
        if "replay" in names:
            results["replay"] = replay_figures()
        if "live" in names:
            results["live"] = live_figures(scratch)
        if "page-weight" in names:
            results["page_weight"] = page_weight(html)
        if "training" in names:
            results["training"] = training_figures(scratch / "cache")
        if "trainings" in names:
            results["trainings"] = training_groups(scratch / "all-trainings")
        print(json.dumps(results, indent=2))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


PARTS = (
    "floor",
    "engine-before",
    "comment-edit",
    "shown-comment-edit",
    "sample-edit",
    "cold-publish-cpu",
    "clip-renders",
    "replay",
    "live",
    "page-weight",
    "training",
    "trainings",
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--only",
        nargs="+",
        choices=PARTS,
        help="run just these scenarios of issue 13 and print their figures",
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=2,
        help=f"rounds of the draft scenarios (default 2); cheap rebuilds run {CHEAP_RUNS}x a round",
    )
    parser.add_argument(
        "--publish-repeat",
        type=int,
        default=1,
        help="runs of the slow publish-quality scenarios (default 1)",
    )
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results.json")
    parser.add_argument(
        "--html",
        type=Path,
        default=ROOT / "docs" / "_build" / "html",
        help="the built book that --only page-weight measures (default: nox -s docs's)",
    )
    args = parser.parse_args()
    if args.only:
        parts(args.only, args.html)
        return
    scratch = Path(tempfile.mkdtemp(prefix="nanobook-bench-"))
    results: dict = {"machine": machine(), "scenarios": {}, "ratios": {}, "targets": []}
    s: dict[str, Scenario] = {}

    def record(name: str, build: Build) -> None:
        s.setdefault(name, Scenario(name)).builds.append(build)
        print(
            f"  {name}: {build.seconds:.1f}s rendered={build.rendered} "
            f"executed={build.executed} trained={build.trained}",
            flush=True,
        )

    for i in range(args.repeat):
        print(f"[draft round {i + 1}/{args.repeat}]", flush=True)
        book = Workspace(scratch, f"book-{i}")
        record("cold build, draft", book.build("draft"))
        # The floor: the same pages without our directives, on the same trained models
        # and executed notebooks (copied, so its set-up build trains and executes nothing).
        plain = Workspace(scratch, f"plain-{i}", plain=True, cache=book.root / ".cache")
        plain.build("draft")
        cheap_rebuilds(book, plain, record)
        # code, not a comment: scenes are keyed on their syntax tree, so a comment
        # re-renders nothing
        book.touch("docs/scenes/attention.py", "\nEDITED_FOR_THE_BENCH = True\n")
        record("scene edit rebuild", book.build("draft"))
        EDITS["comment-edit"](book)
        record("model.py comment edit rebuild", book.build("draft"))
        EDITS["shown-comment-edit"](book)
        record("model.py shown comment edit rebuild", book.build("draft"))
        EDITS["sample-edit"](book)
        record("sample.py code edit rebuild", book.build("draft"))
        for jobs, build in clip_renders(book).items():
            record(f"clip renders, {jobs} job(s)", build)
            themselves = dataclasses.replace(build, seconds=build.renders[0])
            record(f"clip renders themselves, {jobs} job(s)", themselves)
        shutil.rmtree(book.root), shutil.rmtree(plain.root)

    scenes = [
        ("AttentionScene", ROOT / "docs/scenes/attention.py"),
        ("LossCurveScene", ROOT / "docs/scenes/training.py"),
        ("MLPScene", ROOT / "docs/scenes/mlp.py"),
    ]
    models = scratch / "train-cache"
    results["training"] = training_figures(models)  # also warms the comparison's models
    results["trainings"] = training_groups(scratch / "all-trainings")
    results["replay"] = replay = replay_figures()
    results["targets"].append(
        {
            "target": "recording the training replay adds <= 10% to training",
            "value": replay["overhead"],
            "pass": replay["overhead"] <= 0.10,
        }
    )
    results["targets"].append(
        {
            "target": "training replay <= 1 MB",
            "value": replay["replay_bytes"],
            "pass": replay["replay_bytes"] <= 1_000_000,
        }
    )
    results["live"] = live = live_figures(scratch)
    sort_ms, char_ms = (live["forward"][name]["median_ms"] for name in ("sort", "char"))
    results["targets"] += [
        {"target": "sort forward <= 1 ms (chromium)", "value": sort_ms, "pass": sort_ms <= 1},
        {"target": "char forward, full context, <= 20 ms", "value": char_ms, "pass": char_ms <= 20},
        {
            "target": "first live result <= 300 ms after the first interaction",
            "value": live["first_result_ms"],
            "pass": live["first_result_ms"] <= 300,
        },
        {
            "target": "live artifacts: sort <= 400 kB, char <= 2 MB",
            "value": live["artifact_bytes"],
            "pass": live["artifact_bytes"]["sort"] <= 400_000
            and live["artifact_bytes"]["char"] <= 2_000_000,
        },
    ]
    for i in range(args.publish_repeat):
        print(f"[publish round {i + 1}/{args.publish_repeat}]", flush=True)
        book = Workspace(scratch, f"publish-{i}")
        record("cold build, publish", book.build("publish"))
        results["site_weight"] = site_weight(book.docs / "_build" / "html")
        results["page_weight"] = page_weight(book.docs / "_build" / "html")
        if i == args.publish_repeat - 1:
            print("[the engine before issue 30, beside this tree]", flush=True)
            engine_before(scratch, record, cache=book.root / ".cache")
            results["engine_before"] = {
                "commit": ENGINE_BEFORE,
                "failed_notebooks": s[f"cold build, publish, {BEFORE}"].builds[-1].failed_notebooks,
                "prose_page": PROSE_PAGE,
            }
        shutil.rmtree(book.root)
        baseline = Workspace(scratch, f"baseline-{i}", commit=BASELINE)
        record(f"cold build, publish, baseline {BASELINE}", baseline.build("publish"))
        shutil.rmtree(baseline.root)
    for i in range(args.repeat):
        print(f"[versus Manim's directive, round {i + 1}/{args.repeat}]", flush=True)
        for ours in (True, False):
            label = "manim-clip" if ours else "Manim's directive"
            proj = manim_directive_project(
                scratch, f"{'ours' if ours else 'manim'}-{i}", scenes, ours
            )
            record(f"{label}: cold build", build_project(proj, models))
            index = proj / "index.rst"
            index.write_text(index.read_text().replace("Some prose", "Some edited prose", 1))
            record(f"{label}: prose edit rebuild", build_project(proj, models))
    results["compared_scenes"] = [c for c, _ in scenes]

    for name, scen in s.items():
        results["scenarios"][name] = scen.summary()
    pairs = {
        "no-op rebuild / plain Sphinx": ("no-op rebuild", "no-op rebuild, plain Sphinx", 1.5),
        "prose edit / plain Sphinx": (
            "prose edit rebuild",
            "prose edit rebuild, plain Sphinx",
            1.5,
        ),
        "2 jobs / 1 job": (
            "clip renders themselves, 2 job(s)",
            "clip renders themselves, 1 job(s)",
            0.55,
        ),
        "2 jobs / 1 job, whole build": ("clip renders, 2 job(s)", "clip renders, 1 job(s)", None),
        "comment edit / prose edit": (
            "model.py comment edit rebuild",
            "prose edit rebuild",
            2.0,
        ),
        "cold publish / baseline": (
            "cold build, publish",
            f"cold build, publish, baseline {BASELINE}",
            0.7,
        ),
        "cold: ours / Manim's": ("manim-clip: cold build", "Manim's directive: cold build", 0.6),
        "prose edit: ours / Manim's": (
            "manim-clip: prose edit rebuild",
            "Manim's directive: prose edit rebuild",
            0.4,
        ),
        "no-op / cold (draft)": ("no-op rebuild", "cold build, draft", None),
        "cold publish: this tree / engine before": (
            "cold build, publish",
            f"cold build, publish, {BEFORE}",
            None,  # the earlier tree's failing notebooks stop early: see the note under the tables
        ),
        **{
            f"{name}: this tree / engine before": (
                f"{name}, {NOW_BESIDE}",
                f"{name}, {BEFORE}",
                1.0,
            )
            for name in ENGINE_REBUILDS
        },
    }
    for label, (a, b, target) in pairs.items():
        if a in s and b in s:
            r = ratio(s[a], s[b])
            results["ratios"][label] = {**r, "target": target}
            if target is not None:
                results["targets"].append(
                    {
                        "target": f"{label} <= {target}",
                        "value": r["median"],
                        "pass": r["median"] <= target,
                    }
                )
    publish = s.get("cold build, publish")
    if publish:
        busy = min(build.utilisation() for build in publish.builds)
        results["targets"].append(
            {"target": "cold publish: CPU utilisation >= 85%", "value": busy, "pass": busy >= 0.85}
        )
    comment = s.get("model.py comment edit rebuild")
    if comment:
        redone = [(b.trained, b.executed, b.rendered) for b in comment.builds]
        results["targets"].append(
            {
                "target": "comment edit of model.py: 0 trained, 0 executed, 0 rendered",
                "value": redone,
                "pass": all(r == (0, 0, 0) for r in redone),
            }
        )
    zero = {"no-op rebuild": 0, "prose edit rebuild": 0, "scene edit rebuild": 1}
    for name, want in zero.items():
        if name in s:
            got = s[name].summary()["rendered"]
            results["targets"].append(
                {
                    "target": f"{name}: clips rendered == {want}",
                    "value": got,
                    "pass": all(g == want for g in got),
                }
            )
    if "site_weight" in results:
        weight = results["site_weight"]
        biggest = max(weight["clip_mp4_bytes"].values(), default=0)
        results["targets"].append(
            {
                "target": "publish clip MP4 < 1 MB each",
                "value": biggest,
                "pass": biggest < 1_000_000,
            }
        )
    if "page_weight" in results:
        heaviest = max(page["before_scroll_bytes"] for page in results["page_weight"].values())
        results["targets"].append(
            {
                "target": "a chapter transfers <= 1 MB before the reader scrolls",
                "value": heaviest,
                "pass": heaviest <= 1_000_000,
            }
        )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    (ROOT / "docs" / "performance.md").write_text(markdown(results))
    print(markdown(results))
    shutil.rmtree(scratch, ignore_errors=True)


def training_figures(cache: Path) -> dict:
    """Train the sort and char presets from scratch in a fresh cache: wall time,
    throughput, and the CPU seconds of the training process (one thread each)."""
    code = (
        "import json, sys, time; from model_src import trained; began = time.process_time(); "
        "t = trained.get(sys.argv[1]); "
        "print(json.dumps({'train_seconds': t.train_seconds, "
        "'cpu_seconds': time.process_time() - began, "
        "'tokens_per_second': t.tokens_per_second, 'best_val_loss': t.best_val_loss}))"
    )
    env = {**os.environ, "NANOBOOK_CACHE_DIR": str(cache)}
    return {preset: python_json(code, env, preset) for preset in ("sort", "char")}


# Every training a cold build runs, by the chapter that asks for it, in book.train_models'
# order (later groups reuse what earlier ones trained, as in the build).
TRAININGS_CODE = """
import json, resource, time
from buildlib import processes
from ext import book
groups = book.training_groups()
def cpu():  # a lone task runs in this process, more in a pool's
    used = [resource.getrusage(who) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)]
    return sum(u.ru_utime + u.ru_stime for u in used)
figures = {}
for name, tasks in groups.items():
    todo, began, cpu_before = tasks(), time.perf_counter(), cpu()
    processes.run_longest_first(todo)  # its pool's workers are reaped: their CPU counts
    figures[name] = {"runs": len(todo), "seconds": round(time.perf_counter() - began, 1),
                     "cpu_seconds": round(cpu() - cpu_before, 1)}
print(json.dumps(figures))
"""


def training_groups(cache: Path) -> dict:
    """Every training of a cold build from an empty cache, group by group: runs, wall
    seconds on all cores, and CPU seconds (what each chapter's trainings cost)."""
    env = {**os.environ, "NANOBOOK_CACHE_DIR": str(cache)}
    groups = python_json(TRAININGS_CODE, env)
    groups["all"] = {
        field: round(sum(group[field] for group in groups.values()), 1)
        for field in ("runs", "seconds", "cpu_seconds")
    }
    return groups


def python_json(code: str, env: dict, *args: str) -> dict:
    """Run `code` in a fresh Python and read the JSON object it prints last."""
    out = subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        check=True,
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


REPLAY_CODE = """
import json, statistics, tempfile, time
from pathlib import Path
import torch
from model_src import prepare, presets, replay
from model_src import train as training
torch.set_num_threads(1)
config = training.resolve_config(presets.config_file("sort"))
data = presets.dataset("sort")
seconds = {"plain": [], "recorded": []}
for _ in range(ROUNDS):
    for kind in ("plain", "recorded"):  # alternated, so drift in the machine hits both
        out = Path(tempfile.mkdtemp())
        prepare.write(data, out / "data")
        recorder = replay.Recorder(config) if kind == "recorded" else None
        # CPU time of this one-thread process: what the recording costs, whatever else
        # the machine runs meanwhile (wall time moved by 10 % from run to run)
        began = time.process_time()
        training.train({**config, "out_dir": str(out), "data_dir": str(out / "data")}, recorder)
        seconds[kind].append(time.process_time() - began)
size = len(json.dumps(recorder.record(), separators=(",", ":")))
print(json.dumps({"seconds": seconds, "replay_bytes": size, "snapshots": len(recorder.snapshots)}))
"""


def replay_figures(rounds: int = 5) -> dict:
    """What recording the training replay costs: sort trainings with and without it
    (one thread, alternated, medians of CPU seconds) and the size of what it records."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    figures = python_json(REPLAY_CODE.replace("ROUNDS", str(rounds)), env)
    plain, recorded = (statistics.median(figures["seconds"][k]) for k in ("plain", "recorded"))
    figures.update(plain_median=plain, recorded_median=recorded, overhead=recorded / plain - 1)
    return figures


LIVE_PAGE_CODE = r"""
(async () => {
  const median = (xs) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const figures = {};
  for (const name of ["sort", "char"]) {
    const model = await nanobook.model(name);
    const T = model.config.block_size;  // full context
    const ids = Array.from({ length: T }, (_, t) => (t * 7919) % model.config.vocab_size);
    for (let i = 0; i < 5; i++) model.forward(ids);
    const runs = name === "sort" ? 400 : 60;
    const times = [];
    for (let i = 0; i < runs; i++) {
      const start = performance.now();
      model.forward(ids);
      times.push(performance.now() - start);
    }
    figures[name] = { T, runs, median_ms: median(times) };
  }
  return figures;
})()
"""


def live_figures(scratch: Path) -> dict:
    """The live widgets in chromium (tests/roots/test-live-models, built here): artifact
    sizes, time from the first interaction to the first result, forward-pass medians."""
    from playwright.sync_api import sync_playwright

    src, out = ROOT / "tests" / "roots" / "test-live-models", scratch / "live-html"
    build = [sys.executable, "-m", "sphinx", "-q", "-b", "html", "-d", str(out / ".doctrees")]
    subprocess.run([*build, str(src), str(out)], check=True)
    sizes = {
        path.name.split("-")[0]
        + ("-replay" if "-replay-" in path.name else ""): path.stat().st_size
        for path in (out / "_live").glob("*.js")
    }
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(**book_build.chromium())
        page = browser.new_page()
        # nothing loads before the reader acts: the widget near the screen would otherwise
        page.add_init_script(
            "window.IntersectionObserver = class { observe() {} disconnect() {} };"
        )
        page.goto((out / "index.html").as_uri())
        first_result_ms = page.evaluate(
            """() => new Promise((resolve) => {
                 const widget = document.querySelector(".nb-live-attention");
                 const start = performance.now();
                 const done = () => resolve(performance.now() - start);
                 widget.addEventListener("nanobook:result", done, { once: true });
                 widget.querySelector("input").focus();
               })"""
        )
        forward = page.evaluate(LIVE_PAGE_CODE)
        browser.close()
    return {"artifact_bytes": sizes, "first_result_ms": first_result_ms, "forward": forward}


@contextlib.contextmanager
def served(html: Path):
    """The built book over HTTP on 127.0.0.1 (no compression, no log); its root URL."""

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args) -> None:
            pass

    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(Quiet, directory=str(html))
    )
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/"
    finally:
        server.shutdown()


def page_weight(html: Path) -> dict:
    """Bytes the browser receives for each chapter, served over HTTP as a reader gets it
    (no compression): before the reader scrolls (1280x800, the page loaded and idle) and
    after its first clip has played. Counts every response: HTML, CSS, scripts, fonts,
    images, video, whatever fetched them."""
    from playwright.sync_api import sync_playwright

    chapters = sorted(p.relative_to(html).as_posix() for p in (html / "chapters").glob("*.html"))
    results = {}
    with served(html) as site, sync_playwright() as playwright:
        browser = playwright.chromium.launch(**book_build.chromium())
        for chapter in chapters:
            # a fresh context per chapter: nothing comes from the previous page's cache
            context = browser.new_context(viewport={"width": 1280, "height": 800})
            page = context.new_page()
            network = context.new_cdp_session(page)
            network.send("Network.enable")
            received: list[int] = []

            def count(event: dict, into: list[int] = received) -> None:
                into.append(event["dataLength"])

            network.on("Network.dataReceived", count)
            page.goto(site + chapter)
            page.wait_for_load_state("networkidle")
            before = sum(received)
            played = page.evaluate(
                """() => new Promise((resolve) => {
                     const video = document.querySelector("video");
                     if (!video) return resolve(false);
                     video.scrollIntoView();
                     video.muted = true;
                     video.playbackRate = 16;  // every byte fetched, sooner
                     video.addEventListener("ended", () => resolve(true), { once: true });
                     setTimeout(() => resolve(false), 60000);  // a clip that never ends
                     video.play().catch(() => resolve(false));
                   })"""
            )
            page.wait_for_load_state("networkidle")
            results[chapter] = {
                "before_scroll_bytes": before,
                "after_clip_bytes": sum(received) if played else None,
            }
            context.close()
        browser.close()
    return results


def machine() -> dict:
    import torch

    return {
        "cpu": platform.processor() or platform.machine(),
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "os": platform.platform(),
        "date": time.strftime("%Y-%m-%d"),
    }


def markdown(results: dict) -> str:
    m = results["machine"]
    lines = [
        "---",
        "orphan: true  # a maintainers' page: out of the reader's navigation, linked from",
        "---",  # the README and the authoring page
        "",
        "(performance)=",
        "# Build performance",
        "",
        "Measured by `nox -s bench` (bench/run.py) on "
        f"{m['cores']} cores ({m['cpu']}), Python {m['python']}, torch {m['torch']}, "
        f"{m['date']}. Each scenario runs in a scratch copy of the repository with its own "
        "caches. Times in seconds.",
        "",
        "| scenario | median | min | max | runs | clips rendered | notebooks executed "
        "| models trained | pages read | cores busy |",
        "|---|---:|---:|---:|---:|---|---|---|---|---|",
    ]

    def counts(values: list) -> str:
        return ", ".join("—" if v is None else str(v) for v in values)

    for name, r in results["scenarios"].items():
        lines.append(
            f"| {name} | {r['median']:.1f} | {r['min']:.1f} | {r['max']:.1f} | {r['n']} "
            f"| {counts(r['rendered'])} | {counts(r['executed'])} | {counts(r['trained'])} "
            f"| {counts(r.get('pages read', []))} "
            f"| {', '.join(f'{u:.0%}' for u in r.get('utilisation', []))} |"
        )
    lines += [
        "",
        "| ratio (pair by pair) | median | min | max | target |",
        "|---|---:|---:|---:|---|",
    ]
    for name, r in results["ratios"].items():
        target = "—" if r["target"] is None else f"≤ {r['target']}"
        lines.append(f"| {name} | {r['median']:.2f} | {r['min']:.2f} | {r['max']:.2f} | {target} |")
    lines += ["", "| target | measured | pass |", "|---|---|---|"]
    for t in results["targets"]:
        value = f"{t['value']:.2f}" if isinstance(t["value"], float) else str(t["value"])
        lines.append(f"| {t['target']} | {value} | {'yes' if t['pass'] else '**no**'} |")
    if before := results.get("engine_before"):
        lines += [
            "",
            f"The engine before issue 30 is main at {before['commit']} (the same chapters), "
            "built with this checkout's Python packages. "
            f"{before['failed_notebooks']} of its chapters' notebooks failed an "
            "assert on this machine, whose rounding moves the runs their claims describe; "
            "its build goes on past them (they take the time they took). Its rebuilds, and "
            "this tree's beside them, are at publish quality; the prose edit is to "
            f"`{before['prose_page']}`, whose notebook runs in both.",
        ]
    if "site_weight" in results:
        w = results["site_weight"]
        lines += [
            "",
            f"Site weight: {w['total_bytes'] / 1e6:.1f} MB in docs/_build/html.",
            "",
            "| clip (publish quality) | MP4 size |",
            "|---|---:|",
        ]
        lines += [f"| {n} | {b / 1e3:.0f} kB |" for n, b in w["clip_mp4_bytes"].items()]
        lines += [
            f"| {n} (the film of all clips) | {b / 1e3:.0f} kB |"
            for n, b in w["film_mp4_bytes"].items()
        ]
    if "page_weight" in results:
        lines += [
            "",
            "What chromium receives for each chapter (1280×800, served over HTTP, no "
            "compression): before the reader scrolls, and once the first clip has played.",
            "",
            "| chapter | before scrolling | after the first clip |",
            "|---|---:|---:|",
        ]
        for name, page in results["page_weight"].items():
            after = page["after_clip_bytes"]
            lines.append(
                f"| {name} | {page['before_scroll_bytes'] / 1e3:.0f} kB | "
                + ("—" if after is None else f"{after / 1e3:.0f} kB")
                + " |"
            )
    lines += [""] + [
        f"{preset.capitalize()} model training from scratch: {t['train_seconds']:.1f} s, "
        f"{t['cpu_seconds']:.1f} CPU-s, {t['tokens_per_second']:,.0f} tokens/s, "
        f"best val loss {t['best_val_loss']:.3f}."
        for preset, t in results["training"].items()
    ]
    if groups := results.get("trainings"):
        lines += [
            "",
            "Every training of a cold build, from an empty cache, by the chapters that ask "
            "for it (all cores; CPU-s is what each group adds to a cold build's work):",
            "",
            "| trainings | runs | wall s | CPU-s |",
            "|---|---:|---:|---:|",
        ] + [
            f"| {name} | {g['runs']} | {g['seconds']:.0f} | {g['cpu_seconds']:.0f} |"
            for name, g in groups.items()
        ]
    if replay := results.get("replay"):
        lines += [
            "",
            f"Training replay: {replay['snapshots']} snapshots in "
            f"{replay['replay_bytes'] / 1e3:.0f} kB; recording them adds "
            f"{replay['overhead']:+.1%} to a sort training "
            f"({replay['plain_median']:.2f} CPU-s without, {replay['recorded_median']:.2f} CPU-s "
            "with; medians, one thread).",
        ]
    if live := results.get("live"):
        f, b = live["forward"], live["artifact_bytes"]
        lines += [
            "",
            "Live models in chromium: forward pass "
            f"{f['sort']['median_ms']:.2f} ms (sort, T = {f['sort']['T']}) and "
            f"{f['char']['median_ms']:.1f} ms (char, T = {f['char']['T']}), medians; "
            f"first result {live['first_result_ms']:.0f} ms after the first interaction "
            "(script loaded, weights inflated, forward pass, widget drawn); artifacts "
            + ", ".join(f"{name} {size / 1e3:.0f} kB" for name, size in sorted(b.items()))
            + ".",
        ]
    lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
