"""Serve a built book on 127.0.0.1 as a web host does, with the standard library only.

``python -m http.server`` answers every request with the whole file. A browser asks
for part of a video (``Range: bytes=…``) to play it from a given time, so under that
server the clips' transcript times cannot seek. This handler answers a single byte
range with ``206 Partial Content``, as web hosts and ``nox -s livedocs`` (Starlette's
static files) do; a request for several ranges gets the whole file, which HTTP allows.

    python -m buildlib.serve [directory] [--port 8000]      (nox -s serve)
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import http.server
import os
import re
from pathlib import Path

RANGE = re.compile(r"bytes=(\d*)-(\d*)")
CHUNK = 1 << 16


def byte_range(header: str, size: int) -> tuple[int, int] | None:
    """(first, last) byte of a single range header, clamped to the file; None when the
    header asks for something else (several ranges, another unit): serve it all.
    Raises ValueError when no byte of the file is in the range."""
    match = RANGE.fullmatch(header.strip())
    if match is None or match.groups() == ("", ""):
        return None
    first, last = match.groups()
    if first == "":  # the last N bytes
        if int(last) == 0 or size == 0:
            raise ValueError(f"the last {last} bytes of {size}")
        return max(0, size - int(last)), size - 1
    last_byte = min(int(last), size - 1) if last else size - 1
    if int(first) > last_byte:
        raise ValueError(f"bytes {first}-{last} of {size}")
    return int(first), last_byte


class RangeRequestHandler(http.server.SimpleHTTPRequestHandler):
    """SimpleHTTPRequestHandler that also answers a request for one byte range."""

    remaining: int | None = None  # bytes of the range still to send

    def end_headers(self) -> None:
        self.send_header("Accept-Ranges", "bytes")
        super().end_headers()

    def send_head(self):
        self.remaining = None
        path = self.translate_path(self.path)
        header = self.headers.get("Range")
        if header is None or not os.path.isfile(path):
            return super().send_head()
        size = os.path.getsize(path)
        try:
            span = byte_range(header, size)
        except ValueError:
            self.send_response(416)
            self.send_header("Content-Range", f"bytes */{size}")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return None
        if span is None:
            return super().send_head()
        first, last = span
        source = open(path, "rb")  # noqa: SIM115  (copyfile reads it, do_GET closes it)
        source.seek(first)
        self.send_response(206)
        self.send_header("Content-Type", self.guess_type(path))
        self.send_header("Content-Range", f"bytes {first}-{last}/{size}")
        self.send_header("Content-Length", str(last - first + 1))
        self.send_header("Last-Modified", self.date_time_string(int(os.path.getmtime(path))))
        self.end_headers()
        self.remaining = last - first + 1
        return source

    def copyfile(self, source, outputfile) -> None:
        if self.remaining is None:
            return super().copyfile(source, outputfile)
        while self.remaining > 0 and (data := source.read(min(CHUNK, self.remaining))):
            outputfile.write(data)
            self.remaining -= len(data)
        return None


def handler(directory: Path) -> functools.partial:
    return functools.partial(RangeRequestHandler, directory=str(directory))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("directory", nargs="?", default="docs/_build/html", type=Path)
    parser.add_argument("--port", type=int, default=int(os.environ.get("NANOBOOK_PORT", 8000)))
    args = parser.parse_args(argv)
    if not (args.directory / "index.html").is_file():
        parser.error(f"{args.directory} holds no built book (index.html): run nox -s docs")
    server = http.server.ThreadingHTTPServer(("127.0.0.1", args.port), handler(args.directory))
    url = f"http://127.0.0.1:{server.server_address[1]}/"
    print(f"Serving {args.directory} at {url} (Ctrl+C stops)")
    with server, contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()


if __name__ == "__main__":
    main()
