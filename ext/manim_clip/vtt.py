"""WebVTT text tracks: a clip's captions from its scene's beats, the film's chapters.

A beat is (seconds, text): the text is on screen from then until the next beat, the
last one until the end. Cues are written in time order; a beat that comes less than
MIN_CUE after a cue's start joins that cue as another line, so no caption flashes by.
"""

from __future__ import annotations

from collections.abc import Iterable
from html import escape

MIN_CUE = 1.2  # seconds


def cues(beats: Iterable[tuple[float, str]], duration: float) -> list[tuple[float, float, str]]:
    """(start, end, text) per beat, clamped to the clip, without empty or flashing cues."""
    ordered = sorted(
        ((min(max(0.0, float(at)), duration), " ".join(str(text).split())) for at, text in beats),
        key=lambda beat: beat[0],
    )
    merged: list[list] = []
    for at, text in ordered:
        if not text:
            continue
        if merged and at - merged[-1][0] < MIN_CUE:
            merged[-1][1] = f"{merged[-1][1]}\n{text}"
        else:
            merged.append([at, text])
    ends = [at for at, _ in merged[1:]] + [duration] if merged else []
    return [(at, end, text) for (at, text), end in zip(merged, ends, strict=True) if end > at]


def timestamp(seconds: float) -> str:
    """WebVTT's hh:mm:ss.ttt."""
    millis = round(seconds * 1000)
    hours, millis = divmod(millis, 3_600_000)
    minutes, millis = divmod(millis, 60_000)
    return f"{hours:02d}:{minutes:02d}:{millis // 1000:02d}.{millis % 1000:03d}"


def clock(seconds: float) -> str:
    """m:ss, as a reader sees a time in a transcript."""
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes}:{secs:02d}"


def webvtt(timed: list[tuple[float, float, str]]) -> str:
    """A WebVTT file of (start, end, text) cues; text is escaped, one line each."""
    blocks = ["WEBVTT"]
    for number, (start, end, text) in enumerate(timed, 1):
        blocks.append(
            f"{number}\n{timestamp(start)} --> {timestamp(end)}\n{escape(text, quote=False)}"
        )
    return "\n\n".join(blocks) + "\n"
