"""Render one clip in a process of its own: ``python -m ext.manim_clip.worker < job.json``.

The parent (render.py) gives the job as JSON on stdin, an empty output folder and a
scratch folder; the worker renders the scene with Manim in the scratch folder, then
writes the web files into the output folder and, last of all, ``meta.json``, which
marks the clip complete.
On failure it writes ``error.json`` instead (kind, message, the scene's traceback tail)
and exits non-zero. A crash or a kill leaves neither file, and the parent says so.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import sys
import time
import traceback
import types
from pathlib import Path

from buildlib import processes, store

from . import media, vtt

SCENE_MODULE = "manim_clip_scene"


class SceneError(Exception):
    """A problem in the scene (not in this worker): reported with its kind and traceback."""

    def __init__(self, kind: str, message: str, trace: str = ""):
        super().__init__(message)
        self.kind, self.message, self.trace = kind, message, trace


def main() -> int:
    processes.die_with_parent(group=True)  # a killed build takes its renders with it
    job = json.loads(sys.stdin.read())
    if os.getppid() != job["parent_pid"]:  # the build died before prctl took effect
        return 1
    out = Path(job["out_dir"])
    started = time.perf_counter()
    try:
        meta = render(job, out)
    except SceneError as error:
        _write_json(out / "error.json", vars(error))
        return 1
    except Exception as error:
        trace = "".join(traceback.format_exception(error))
        _write_json(out / "error.json", {"kind": "internal", "message": str(error), "trace": trace})
        return 1
    meta["seconds"] = round(time.perf_counter() - started, 2)
    # CPU time says how long the render is without the machine's other load (the pool
    # starts the longest first); children: LaTeX and whatever else the scene ran.
    usage = [resource.getrusage(who) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)]
    meta["cpu_seconds"] = round(sum(u.ru_utime + u.ru_stime for u in usage), 2)
    store.write_meta(out, meta)  # last: its presence means the clip is complete
    return 0


def render(job: dict, out: Path) -> dict:
    # Scenes import the project's modules (model_src, docs/scenes helpers).
    sys.path[:0] = [job["scene_dir"], job["project_root"]]
    os.environ["NANOBOOK_CLIP_DATA"] = os.pathsep.join(job["data"])
    work = Path(job["work_dir"])  # the parent deletes it afterwards
    os.chdir(work)  # anything the scene writes lands there

    from manim import Scene, tempconfig
    from manim.renderer.cairo_renderer import CairoRenderer

    Path(job["began"]).touch()  # manim is imported: the scene's time limit counts from here
    module = load_scene_module(job)
    scene_class = getattr(module, job["scene"], None)
    if not (isinstance(scene_class, type) and issubclass(scene_class, Scene)):
        defined = sorted(
            name
            for name, obj in vars(module).items()
            if isinstance(obj, type) and issubclass(obj, Scene) and obj.__module__ == SCENE_MODULE
        )
        raise SceneError(
            "unknown-scene",
            f"no Scene class {job['scene']!r} in {job['source_label']}; it defines: "
            + (", ".join(defined) or "no Scene subclasses"),
        )

    settings = {
        "media_dir": str(work / "media"),
        "pixel_width": job["width"],
        "pixel_height": job["height"],
        "frame_rate": job["fps"],
        "format": "mp4",
        "write_to_movie": True,
        "save_last_frame": False,
        "disable_caching": True,  # our cache is keyed on more than Manim's
        "progress_bar": "none",
        "verbosity": "WARNING",
    }
    with tempconfig(settings):
        scene = scene_class(renderer=CairoRenderer(file_writer_class=one_stream_writer()))
        try:
            scene.render()
        except Exception as error:
            raise SceneError("construct", _one_line(error), scene_trace(error, job)) from None
        movie = Path(scene.renderer.file_writer.movie_file_path)
    if not movie.is_file():
        raise SceneError("construct", "the scene played no animation, so there is no video")
    return write_outputs(movie, out, job, SceneMarks.of(scene))


def one_stream_writer():
    """Manim's file writer, writing the whole scene as one stream (media.FrameStream)
    where Manim writes a file per animation and joins them."""
    from manim.scene.scene_file_writer import SceneFileWriter

    class OneStreamWriter(SceneFileWriter):
        stream: media.FrameStream | None = None

        def begin_animation(self, allow_write=False, **_):
            if allow_write and self.stream is None:
                spec = self.video_encoder
                self.stream = media.FrameStream(
                    self.movie_file_path, width=spec.width, height=spec.height, fps=spec.frame_rate
                )

        def end_animation(self, allow_write=False):
            pass  # the stream runs on through the next animation

        def write_frame(self, pixels, *, repeat=1):
            if self.stream is not None:
                self.stream.put(pixels, repeat)

        def finish(self):
            if self.stream is not None:
                self.stream.close()

        def abort_encode_jobs(self, reraise_encoder_failures=False):
            if self.stream is not None:
                self.stream.abort()

    return OneStreamWriter


class SceneMarks:
    """What a scene may say about its clip: ``beats``, a list of (seconds, text) shown
    then (for captions and the transcript), and ``poster_time``, the seconds of its most
    telling frame. Scenes that say nothing get no captions and the last frame as poster."""

    def __init__(self, beats=(), poster_time: float | None = None):
        self.beats = [(float(at), str(text)) for at, text in beats]
        self.poster_time = None if poster_time is None else float(poster_time)

    @classmethod
    def of(cls, scene) -> SceneMarks:
        try:
            return cls(getattr(scene, "beats", ()), getattr(scene, "poster_time", None))
        except (TypeError, ValueError) as error:
            raise SceneError(
                "construct",
                f"the scene's beats must be (seconds, text) pairs and its poster_time "
                f"seconds: {_one_line(error)}",
            ) from None


def load_scene_module(job: dict) -> types.ModuleType:
    """Run the scene file (or the inline code) as a fresh module."""
    if job["file"]:
        filename = job["file"]
        source = Path(filename).read_bytes()  # compile() decodes it as Python does (PEP 263)
    else:
        # Pad so line numbers in tracebacks are the page's own line numbers.
        filename = job["page"]
        source = "\n" * (job["code_first_line"] - 1) + job["code"]
    module = types.ModuleType(SCENE_MODULE)
    module.__file__ = filename
    sys.modules[SCENE_MODULE] = module  # dataclasses and pickling look modules up
    try:
        exec(compile(source, filename, "exec"), module.__dict__)
    except (SyntaxError, ValueError) as error:  # ValueError: NUL bytes, not a text file
        raise SceneError("syntax", _one_line(error), scene_trace(error, job)) from None
    except Exception as error:
        raise SceneError("import", _one_line(error), scene_trace(error, job)) from None
    return module


def write_outputs(movie: Path, out: Path, job: dict, marks: SceneMarks) -> dict:
    stem = job["stem"]
    files = {"mp4": f"{stem}.mp4"}
    shutil.move(movie, out / files["mp4"])  # FrameStream wrote it for the web already
    info = media.probe(out / files["mp4"])
    # :poster: wins; else the scene's own choice; else the last frame
    at = job["poster"]
    if at == "scene":
        at = "last" if marks.poster_time is None else f"{marks.poster_time:g}"
    if "gif" in job["formats"]:
        files["gif"] = f"{stem}.gif"
    gif = out / files["gif"] if "gif" in files else None
    note = media.poster(out / files["mp4"], out, stem, at, info, gif=gif)
    files.update(poster=f"{stem}.webp", poster_png=f"{stem}.png")
    timed = vtt.cues(marks.beats, info.duration)
    if timed:
        files["captions"] = f"{stem}.vtt"
        (out / files["captions"]).write_text(vtt.webvtt(timed), encoding="utf-8")
    if "webm" in job["formats"]:
        files["webm"] = f"{stem}.webm"
        media.webm(out / files["mp4"], out / files["webm"], info)
    return {
        "scene": job["scene"],
        "width": info.width,
        "height": info.height,
        "fps": info.fps,
        "duration": round(info.duration, 3),
        "poster_at": at,  # "first", "last" or seconds
        "beats": [[round(start, 3), text] for start, _, text in timed],
        "files": files,
        "notes": [note] if note and job["poster"] != "scene" else [],
    }


def scene_trace(error: BaseException, job: dict, frames: int = 4) -> str:
    """The tail of the traceback, limited to frames in the project's own files."""
    root, here = Path(job["project_root"]), Path(__file__).parent

    def in_scene(filename: str) -> bool:
        path = Path(filename)
        return filename == job["page"] or (
            path.is_relative_to(root) and not path.is_relative_to(here)
        )

    project_frames = [f for f in traceback.extract_tb(error.__traceback__) if in_scene(f.filename)]
    lines = traceback.format_list(project_frames[-frames:])
    lines += traceback.format_exception_only(error)
    return "".join(lines).rstrip()


def _one_line(error: BaseException) -> str:
    return traceback.format_exception_only(error)[-1].strip()


def _write_json(path: Path, data: dict) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=1), encoding="utf-8")
    tmp.replace(path)


if __name__ == "__main__":
    sys.exit(main())
