"""The whole book builds with warnings as errors, and every chapter is reachable."""

import html
import re
from pathlib import Path

import torch
from pages import CHAPTERS, parse

from model_src import presets, variants


def _links(page: Path) -> set[str]:
    return {link.split("#")[0] for link in parse(page).links}


def test_every_chapter_is_reachable_from_the_index(book_html):
    index_links = _links(book_html / "index.html")
    for slug in CHAPTERS:
        assert f"chapters/{slug}.html" in index_links, f"{slug} missing from the index"
        assert (book_html / "chapters" / f"{slug}.html").is_file()


def test_chapters_are_in_pipeline_order_in_the_navigation(book_html):
    html = (book_html / "index.html").read_text(encoding="utf-8")
    positions = [html.find(f'href="chapters/{slug}.html"') for slug in CHAPTERS]
    assert all(p >= 0 for p in positions) and positions == sorted(positions)


def test_build_outputs_and_caches_are_not_sources(book_html):
    sources = [p.relative_to(book_html / "_sources") for p in (book_html / "_sources").rglob("*")]
    assert sources, "the build copied no sources"
    leaked = [p for p in sources if p.parts[0] in {"_build", "jupyter_execute", ".cache"}]
    assert not leaked


def _page_text(page: Path) -> str:
    return html.unescape(re.sub(r"<[^>]+>", " ", page.read_text(encoding="utf-8")))


def test_the_two_chapters_without_positions_agree(book_html):
    """The modern chapter compares its no-position runs with the attention chapter's: the
    attention chapter's run sorted more than either, and every one far fewer than RoPE."""
    attention = _page_text(book_html / "chapters/attention.html")
    modern = _page_text(book_html / "chapters/modern.html")
    (single,) = {float(m) for m in re.findall(r"no positions\s+[\d.]+\s+([\d.]+)%", attention)}

    def last_accuracy(name: str) -> dict[str, float]:  # {seed: %}; a run may be printed twice
        row = re.escape(name) + r"\s+[\d,]+\s+(\d{4})\s+[\d.]+\s+([\d.]+)%"
        return {seed: float(value) for seed, value in re.findall(row, modern)}

    runs, rope = last_accuracy("no positions"), last_accuracy("RoPE")
    assert len(runs) == len(rope) == 2
    assert max(runs.values()) < single < 0.5 * min(rope.values())


def test_the_trained_ngpt_lies_on_the_sphere_within_the_pages_tolerance(book_html):
    """Every hidden state of every trained nGPT (the input to each attention and MLP step
    and to the output layer), on every held-out problem, has length 1 within the tolerance
    the nGPT chapter states."""
    text = _page_text(book_html / "chapters/ngpt.html")
    (tolerance,) = {float(t) for t in re.findall(r"stated\s+tolerance of\s+(\d[\d.e+-]*\d)", text)}
    data = presets.dataset("sort")
    rows = torch.from_numpy(data.val.reshape(-1, data.meta["seq_len"])[:, :-1].astype("int64"))
    for name in variants.NGPT_RUNS:
        for seed in variants.SEEDS:
            model = variants.get(name, seed)["model"]
            states = _hidden_states(model, rows)
            assert len(states) == 1 + 2 * model.config.n_layer
            for h in states:
                assert (h.norm(dim=-1) - 1).abs().max() <= tolerance, (name, seed)


def _hidden_states(model, rows) -> list[torch.Tensor]:
    """What each attention, each MLP and the output layer of an NGPT read, on `rows`."""
    states = []
    layers = [model.lm_head] + [m for b in model.transformer.h for m in (b.attn, b.mlp)]
    hooks = [m.register_forward_pre_hook(lambda m, args: states.append(args[0])) for m in layers]
    with torch.no_grad():
        model(rows, rows)
    for hook in hooks:
        hook.remove()
    return states
