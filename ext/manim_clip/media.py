"""Video work with PyAV (which bundles FFmpeg) and PIL: no ffmpeg binary is needed.

A scene's frames go into one H.264 stream (``FrameStream``) with its index first, so a
browser can play it before the whole file has arrived. The poster and the GIF come from
one decoding pass, a WebM from another. This file is part of every clip's cache key, so
the film's own video work lives in film.py: editing it re-renders no clip.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from PIL import Image

GIF_WIDTH = 480  # small enough to embed in a README
GIF_FPS = 10
GIF_COLOURS = 64
POSTER_WEBP_QUALITY = 80


@dataclass(frozen=True)
class VideoInfo:
    width: int
    height: int
    fps: float
    frames: int
    duration: float


def probe(path: Path) -> VideoInfo:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        # one packet per frame: counted without decoding (the flush packet has no dts)
        frames = sum(packet.dts is not None for packet in container.demux(stream))
        fps = float(stream.average_rate or stream.guessed_rate or 0)
        return VideoInfo(stream.width, stream.height, fps, frames, frames / fps if fps else 0.0)


def frames_of(path: Path) -> Iterator[tuple[float, av.VideoFrame]]:
    """Decoded frames with their time in seconds."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        for frame in container.decode(stream):
            yield float(frame.time or 0.0), frame


# Every H.264 file of the book: the clips (``FrameStream``), a re-encode, the film's
# title cards (which must match the clips', see ``encoding``). Against Manim's defaults
# (crf 23, medium), `nox -s bench` measured three publish clips rendering in 39.5 s
# instead of 47.7 s, text still sharp. One thread: a render runs per core already, and
# the bytes then do not depend on the machine's core count. They are part of every
# clip's and the film's cache key.
H264_OPTIONS = {"crf": "30", "preset": "veryfast", "tune": "animation", "threads": "1"}
CODEC_OPTIONS = {
    "libx264": H264_OPTIONS,
    # realtime + cpu-used 8: about 10x faster than "good" at a similar size on flat art.
    "libvpx-vp9": {"crf": "34", "b": "0", "deadline": "realtime", "cpu-used": "8", "row-mt": "1"},
}


def encode(
    frames: Iterable[av.VideoFrame | Image.Image],
    target: Path,
    *,
    width: int,
    height: int,
    fps: float | Fraction | int,
    codec: str,
) -> int:
    """Encode frames (any size/format; one already yuv420p at this size is used as it
    is) into ``target`` with CODEC_OPTIONS; returns the frame count."""
    container_options = {"movflags": "+faststart"} if target.suffix == ".mp4" else {}
    rate = Fraction(fps).limit_denominator(1001)
    count = 0
    with av.open(str(target), "w", options=container_options) as out:
        stream = out.add_stream(codec, rate=rate, options=CODEC_OPTIONS[codec])
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for frame in frames:
            if isinstance(frame, Image.Image):
                frame = av.VideoFrame.from_image(frame.convert("RGB"))
            frame = frame.reformat(width=width, height=height, format="yuv420p")
            frame.pts, frame.time_base = count, Fraction(1) / rate
            out.mux(stream.encode(frame))
            count += 1
        out.mux(stream.encode(None))
    return count


class FrameStream:
    """RGBA frames pushed one at a time into one H.264 MP4, encoded on a thread of its
    own, so drawing the next frame overlaps encoding this one.

    Manim encodes every animation into a file of its own and joins the files. Each then
    starts with a key frame, a full picture: three quarters of EmbeddingsScene's bytes
    were key frames, one per animation. One stream leaves the key frames to the encoder.
    """

    def __init__(self, target: Path, *, width: int, height: int, fps: float | Fraction):
        self.target = Path(target)
        self.target.parent.mkdir(parents=True, exist_ok=True)
        self._queue: queue.Queue = queue.Queue(maxsize=8)  # drawing may run 8 frames ahead
        self._error: BaseException | None = None
        self._ended = False  # the encoder has taken the last frame (close or abort)
        self._thread = threading.Thread(
            target=self._encode, args=(width, height, fps), name="frame-stream", daemon=True
        )
        self._thread.start()

    def put(self, pixels: np.ndarray, repeat: int = 1) -> None:
        """A (height, width, 4) uint8 RGBA frame, shown ``repeat`` times; the stream owns
        it from now on."""
        self._queue.put((pixels, repeat))

    def close(self) -> None:
        """Finish the file; raises what went wrong while encoding."""
        self._queue.put(None)
        self._thread.join()
        if self._error is not None:
            raise self._error

    def abort(self) -> None:
        """Stop and leave no file."""
        self._queue.put(None)
        self._thread.join()
        self.target.unlink(missing_ok=True)

    def _frames(self) -> Iterator[av.VideoFrame]:
        for pixels, repeat in iter(self._queue.get, None):
            frame = av.VideoFrame.from_ndarray(pixels, format="rgba").reformat(format="yuv420p")
            for _ in range(repeat):  # a held frame (a wait) is converted once
                yield frame
        self._ended = True

    def _encode(self, width: int, height: int, fps) -> None:
        try:
            encode(
                self._frames(), self.target, width=width, height=height, fps=fps, codec="libx264"
            )
        except BaseException as error:  # a full disk may fail the file's last write
            self._error = error
            # drained, so put() never blocks for good (unless the end was taken already)
            while not self._ended and self._queue.get() is not None:
                pass


def encoding(path: Path) -> tuple:
    """What two MP4s must share for their packets to play as one stream: the codec, the
    picture's size, format and aspect, and the H.264 header, which holds the profile,
    level, frame rate and the encoder's settings (CODEC_OPTIONS)."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        context = stream.codec_context
        return (
            context.name,
            stream.width,
            stream.height,
            stream.pix_fmt,
            stream.sample_aspect_ratio,
            bytes(context.extradata or b""),
        )


def concatenate(segments: list[Path], target: Path) -> tuple[list[float], float]:
    """Copy the packets of MP4s of one ``encoding``, one after another, into ``target``
    (index first); nothing is decoded.

    Each segment's timestamps are moved to start where the one before ends, so the time
    runs on without a gap or an overlap. Returns the second at which each segment
    starts and the total duration.
    """
    starts: list[float] = []
    end = 0  # where the segments so far end, in the first segment's time base
    with av.open(str(target), "w", format="mp4", options={"movflags": "+faststart"}) as out:
        for path in segments:
            with av.open(str(path)) as container:
                stream = container.streams.video[0]
                if not out.streams:
                    out_stream = out.add_stream_from_template(stream)
                    time_base = stream.time_base
                scale = stream.time_base / time_base
                shift = end - round((stream.start_time or 0) * scale)
                starts.append(float(end * time_base))
                for packet in container.demux(stream):
                    if packet.dts is None:  # demux ends with an empty flush packet
                        continue
                    packet.pts = shift + round(packet.pts * scale)
                    packet.dts = shift + round(packet.dts * scale)
                    packet.duration = round(packet.duration * scale)
                    packet.time_base = time_base
                    end = max(end, packet.pts + packet.duration)
                    packet.stream = out_stream
                    out.mux(packet)
    return starts, float(end * time_base)


def poster(
    source: Path, folder: Path, stem: str, at: str, info: VideoInfo, gif: Path | None = None
) -> str | None:
    """Save the frame ``at`` ("first", "last" or seconds) as ``stem``.webp (for the web)
    and ``stem``.png (for LaTeX and EPUB), and with ``gif`` the clip as a GIF there
    (GifFrames), all from one decoding pass; a note if the time was past the end."""
    chosen, gif_frames = None, GifFrames(info) if gif else None
    for index, (time, frame) in enumerate(frames_of(source)):
        if chosen is None or at == "last" or (at != "first" and time <= float(at)):
            chosen = frame
        elif gif_frames is None:
            break  # past the poster's frame, and no GIF wants the rest
        if gif_frames is not None:
            gif_frames.add(index, frame)
    save_poster(chosen.to_image(), folder, stem)
    if gif_frames is not None:
        gif_frames.save(gif)
    if at not in ("first", "last") and float(at) > info.duration:
        return f"poster time {at} s is past the clip's end ({info.duration:.2f} s): used the end"
    return None


def save_poster(image: Image.Image, folder: Path, stem: str) -> None:
    # WebP at quality 80: a sixth of the PNG's bytes for the same legible frame
    image.save(folder / f"{stem}.webp", quality=POSTER_WEBP_QUALITY, method=6)
    image.save(folder / f"{stem}.png", optimize=True)


class GifFrames:
    """A small looping GIF: GIF_WIDTH wide, GIF_FPS frames a second, one shared palette.

    One palette for all frames (no dithering) keeps unchanged pixels identical from
    frame to frame, so the GIF stores little more than what moves: several times
    smaller than a palette per frame, and Manim's flat colours need few entries.
    """

    def __init__(self, info: VideoInfo):
        self.width = min(GIF_WIDTH, info.width)
        self.height = round(info.height * self.width / info.width)
        self.step = max(1.0, info.fps / GIF_FPS)
        self.frame_ms = round(1000 * self.step / info.fps)
        self.images: list[Image.Image] = []
        self._next_index = 0.0

    def add(self, index: int, frame: av.VideoFrame) -> None:
        """Offer the clip's frame number ``index``; every step-th one is kept."""
        if index >= self._next_index:
            # scaled by FFmpeg from the decoded YUV, not by PIL from full-size RGB: the
            # same Lanczos filter, and the whole GIF in half the time
            small = frame.reformat(self.width, self.height, "rgb24", interpolation="LANCZOS")
            self.images.append(small.to_image())
            self._next_index += self.step

    def save(self, target: Path) -> None:
        width, height, images = self.width, self.height, self.images
        samples = images[:: max(1, len(images) // 16)]
        mosaic = Image.new("RGB", (width, height * len(samples)))
        for row, image in enumerate(samples):
            mosaic.paste(image, (0, row * height))
        palette = mosaic.quantize(colors=GIF_COLOURS, method=Image.Quantize.MEDIANCUT)
        frames = [image.quantize(palette=palette, dither=Image.Dither.NONE) for image in images]
        frames[0].save(
            target,
            save_all=True,
            append_images=frames[1:],
            duration=self.frame_ms,
            loop=0,
            optimize=True,
        )


def webm(source: Path, target: Path, info: VideoInfo) -> None:
    encode(
        (frame for _, frame in frames_of(source)),
        target,
        width=info.width,
        height=info.height,
        fps=info.fps,
        codec="libvpx-vp9",
    )
