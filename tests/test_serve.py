"""The servers that preview the book answer byte-range requests, so a clip's transcript
times can seek: buildlib/serve.py (`nox -s serve`, the built book) and sphinx-autobuild's
(`nox -s livedocs`)."""

from __future__ import annotations

import contextlib
import http.client
import http.server
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import anyio
import pytest

from buildlib import serve

VIDEO = bytes(range(256)) * 40  # 10,240 bytes standing in for a clip


@pytest.fixture
def site(tmp_path: Path) -> Path:
    (tmp_path / "_clips").mkdir()
    (tmp_path / "_clips" / "clip.mp4").write_bytes(VIDEO)
    (tmp_path / "index.html").write_text("<html><body>The book</body></html>")
    return tmp_path


@contextlib.contextmanager
def served(site: Path) -> Iterator[int]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), serve.handler(site))
    server.RequestHandlerClass.log_message = lambda *args: None
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def get(port: int, path: str, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request("GET", path, headers=headers)
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()


def test_the_book_server_answers_a_range_with_206(site):
    with served(site) as port:
        status, headers, body = get(port, "/_clips/clip.mp4", {"Range": "bytes=1000-1999"})
        assert status == 206 and body == VIDEO[1000:2000]
        assert headers["Content-Range"] == f"bytes 1000-1999/{len(VIDEO)}"
        assert headers["Content-Type"] == "video/mp4"
        # open-ended and suffix ranges, as a player asks when it seeks
        assert get(port, "/_clips/clip.mp4", {"Range": "bytes=10000-"})[2] == VIDEO[10000:]
        assert get(port, "/_clips/clip.mp4", {"Range": "bytes=-16"})[2] == VIDEO[-16:]
        status, headers, _ = get(port, "/_clips/clip.mp4", {"Range": "bytes=99999-"})
        assert status == 416 and headers["Content-Range"] == f"bytes */{len(VIDEO)}"


def test_without_a_single_range_the_book_server_sends_the_whole_file(site):
    with served(site) as port:
        status, headers, body = get(port, "/_clips/clip.mp4", {})
        assert status == 200 and body == VIDEO and headers["Accept-Ranges"] == "bytes"
        several = get(port, "/_clips/clip.mp4", {"Range": "bytes=0-9,20-29"})
        assert several[0] == 200 and several[2] == VIDEO
        status, _, page = get(port, "/", {"Range": "bytes=0-3"})  # a folder: its index.html
        assert status == 200 and b"The book" in page


def test_the_book_server_wants_a_built_book(tmp_path, capsys):
    with pytest.raises(SystemExit):
        serve.main([str(tmp_path), "--port", "0"])
    assert "run nox -s docs" in capsys.readouterr().err


async def _asgi_get(app, path: str, headers: dict[str, str]) -> tuple[int, dict, bytes]:
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "server": ("127.0.0.1", 8000),
        "client": ("127.0.0.1", 50000),
    }
    sent: list[dict] = []
    requested, answered = False, anyio.Event()

    async def receive():  # the request, then a disconnect once the answer is sent
        nonlocal requested
        if not requested:
            requested = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await answered.wait()
        return {"type": "http.disconnect"}

    async def send(message):
        sent.append(message)
        if message["type"] == "http.response.body" and not message.get("more_body"):
            answered.set()

    await app(scope, receive, send)
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return start["status"], {k.decode(): v.decode() for k, v in start["headers"]}, body


def test_livedocs_server_answers_a_range_with_206(site):
    """sphinx-autobuild 2025.8.25 serves the build with Starlette's StaticFiles, whose
    FileResponse answers ranges (Starlette 1.10.0); its script injection is for HTML."""
    from sphinx_autobuild.__main__ import _create_app
    from sphinx_autobuild.filter import IgnoreFilter

    app = _create_app([site], IgnoreFilter([], []), lambda **_: None, str(site), "127.0.0.1:0")
    # in a thread of its own: a test before it in this worker may have left an event loop
    with ThreadPoolExecutor(1) as thread:
        asked = thread.submit(
            anyio.run, _asgi_get, app, "/_clips/clip.mp4", {"Range": "bytes=1000-1999"}
        )
        status, headers, body = asked.result()
    assert status == 206 and body == VIDEO[1000:2000]
    assert headers["content-range"] == f"bytes 1000-1999/{len(VIDEO)}"
