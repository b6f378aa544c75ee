"""The whole book builds with warnings as errors, and every chapter is reachable."""

import html
import re
from pathlib import Path

import torch
from pages import CHAPTERS, parse

from model_src import presets, rl_runs, variants


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


def test_the_modern_chapters_verdicts_follow_the_statistics_beside_them(book_html):
    """Each variant's words against GPT-2 are the ones the book's rule picks from the
    paired statistic printed beside them, over five seeds or more; and the runs without
    positions shown end below half the problems, as the page says."""
    modern = " ".join(_page_text(book_html / "chapters/modern.html").split())
    sooner, slower = "learns the task sooner than GPT-2", "learns it more slowly than GPT-2"
    even = "makes no difference this book can measure"
    claims = re.findall(
        rf"({sooner}|{slower}|{even}) \(([+-][\d.]+) ± ([\d.]+) points over (\d+) seeds\)",
        modern,
    )
    assert len(claims) >= 9  # the four, RoPE, all five, RoPE + wpe and nanochat's three
    for words, mean, error, seeds in claims:
        assert int(seeds) >= 5
        difference, bound = float(mean), 3 * float(error)
        if abs(difference) > bound + 0.1:  # beyond the rule's bound (to the page's rounding)
            assert words == (sooner if difference > 0 else slower)
        elif abs(difference) < bound - 0.1:
            assert words == even
    row = r"no positions\s+[\d,]+\s+(\d{4})\s+[\d.]+\s+([\d.]+)%"  # a run may be printed twice
    finals = {seed: float(value) for seed, value in re.findall(row, modern)}
    assert len(finals) == 2 and max(finals.values()) < 50


def test_the_sampling_chapter_shows_what_the_char_model_learned(book_html):
    """Baselines in nats and bits, samples from three writers, words it has read, and
    nanoGPT's baby GPT beside it: the page's tables say what its prose says."""
    text = _page_text(book_html / "chapters/sampling.html")
    losses = {
        name: (float(nats), float(bits))
        for name, nats, bits in re.findall(
            r"(uniform guess|untrained model|unigram counts|"
            r"bigram counts|trigram counts|trained model)"
            r"\s+([\d.]+)\s+([\d.]+)",
            text,
        )
    }
    order = ["uniform guess", "unigram counts", "bigram counts", "trigram counts", "trained model"]
    assert [losses[n][0] for n in order] == sorted((losses[n][0] for n in order), reverse=True)
    for nats, bits in losses.values():
        assert abs(bits - nats / 0.693147) < 0.01  # bits are nats / ln 2
    for writer in ("untrained model, τ = 0.8", "bigram counts, τ = 0.8", "trained model, τ = 0.8"):
        assert writer in text
    shares = {n: float(s) for n, s in re.findall(r"(\w+ \w+)\s+\d+ words,\s+([\d.]+)% of", text)}
    assert shares["trained model"] > shares["trigram counts"] > shares["bigram counts"]
    assert shares["bigram counts"] > shares["untrained model"]
    assert "nanoGPT baby GPT" in text and "The Tempest" in text


def test_no_heading_is_repeated_by_the_box_or_heading_under_it(book_html):
    """A section's heading says its name once: the first box or heading in it does not
    carry the same title ("Key takeaways" over a box titled "Key takeaways")."""
    from bs4 import BeautifulSoup

    repeated = []
    for page in sorted(book_html.rglob("*.html")):
        soup = BeautifulSoup(page.read_text(encoding="utf-8"), "html.parser")
        for section in soup.select("article section"):
            heading = section.find(re.compile(r"^h[1-6]$"), recursive=False)
            nested = section.select_one(":scope section")
            under = [
                section.select_one(":scope .admonition-title"),
                nested and nested.find(re.compile(r"^h[1-6]$"), recursive=False),
            ]
            for inner in filter(None, [heading and title for title in under]):
                said = heading.get_text(" ", strip=True).rstrip("#").strip()
                if said == inner.get_text(" ", strip=True).rstrip("#").strip():
                    repeated.append(f"{page.relative_to(book_html)}: {said}")
    assert not repeated, repeated


def test_the_start_page_times_the_learning_paths_routes(book_html):
    """The start page's routes are the learning path's, chapter for chapter, and their
    times add up: every chapter takes longer than any shorter route."""
    from bs4 import BeautifulSoup

    path = BeautifulSoup((book_html / "learning-path.html").read_text(), "html.parser")
    routes = path.select_one("section#learning-path-routes dl")

    def chain(dd) -> set[str]:  # the chapters of "A → B → C", not the side references
        linked = [
            a
            for a in dd.select("a[href*='chapters/']")
            if "→" in str(a.next_sibling or "") + str(a.previous_sibling or "")
        ]
        return {a["href"].split("#")[0] for a in linked}

    counted = {
        dt.get_text(" ", strip=True): len(chain(dd))
        for dt, dd in zip(routes.select("dt"), routes.select("dd"), strict=True)
    }
    start = _page_text(book_html / "start.html")
    route = r"(You [^:]+?)\s*:\s*(\d+)\s+chapters,\s+(\d+)\s+minutes"
    said = {goal: (int(n), int(minutes)) for goal, n, minutes in re.findall(route, start)}
    assert len(said) == 3, said  # the three goals: transformer, training, assistant
    for goal, (chapters, _) in said.items():
        assert counted[goal] == chapters, (goal, counted)
    everything, hours = re.search(
        r"Everything, in order.*?(\d+)\s+minutes of\s+prose, about\s+([\d.]+)\s+hours",
        start,
        re.S,
    ).groups()
    assert f"{int(everything) / 60:.1f}" == hours
    assert all(int(everything) > minutes for _, minutes in said.values())


def test_the_probe_finds_the_counts_that_the_rule_needs(book_html):
    """Attention chapter: no counts in the embeddings; after block 0's attention a linear
    probe reads n_A and n_B, and the sorting rule on its counts sorts most problems; the
    model's own lm_head cannot read that stream until block 0's MLP has run."""
    page = _page_text(book_html / "chapters/attention.html")
    number = r"\s+([\d.]+)%?"
    rows = {
        name: [float(v) for v in values]
        for name, *values in re.findall(
            r"(embeddings|after attention|after MLP)" + number * 5, page
        )
    }
    assert set(rows) == {"embeddings", "after attention", "after MLP"}, rows
    assert max(rows["embeddings"][:2]) < 0.5
    assert min(rows["after attention"][:2] + rows["after MLP"][:2]) > 0.8
    assert rows["after attention"][3] > 90  # the rule on the probe's counts: sorts, %
    assert rows["after attention"][4] < 50 < 99 < rows["after MLP"][4]  # lm_head: sorts, %


def test_the_successor_table_moves_from_a_to_c(book_html):
    """Attention chapter: the selector head's weights by answer row and query letter. The first row
    favours A for every query letter, the last C, and after the first row prompt letters
    below the query's own get less weight than those at or above it."""
    page = _page_text(book_html / "chapters/attention.html")
    table = {}  # (row, query letter) -> {key letter: weight}
    for row, line in re.findall(r"^row\s+(\d+)\s+(query .*)$", page, re.MULTILINE):
        for q, shares in re.findall(r"query ([A-C]): (A [\d.]+ B [\d.]+ C [\d.]+)", line):
            table[int(row), q] = dict(re.findall(r"([A-C]) ([\d.]+)", shares))
    rows = sorted({row for row, _ in table})
    assert len(rows) == 6, table
    favoured = {key: max(shares, key=lambda k: float(shares[k])) for key, shares in table.items()}
    assert all(favoured[rows[0], q] == "A" for q in "ABC")
    assert all(favoured[key] == "C" for key in table if key[0] == rows[-1])
    for (row, q), shares in table.items():
        if row > rows[0] and q != "A":
            below = sum(float(v) for k, v in shares.items() if k < q)
            assert below < sum(float(v) for k, v in shares.items() if k >= q), (row, q)


def test_the_loss_jumps_despite_the_guards_and_the_small_run_overfits(book_html):
    """Training chapter: in some short run with warmup and clipping the held-out loss at least
    doubles between two measurements, and the prose counts the runs that jump as the table
    does; Adam's RMS step is a small fraction of η; at the window's end the highest peak
    rate is well behind the other two. With few problems the model overfits, and with
    dropout the val loss still more than doubles from its best; the prose's verdict on the
    gap matches the table."""
    page = _page_text(book_html / "chapters/training.html")
    runs = {
        name: (float(end), float(low), int(jumps), float(ratio))
        for name, end, low, jumps, ratio in re.findall(
            r"^(peak [\d.]+|no warmup|no clipping)\s+([\d.]+)\s+([\d.]+)\s+(\d+)\s+([\d.]+)$",
            page,
            re.MULTILINE,
        )
    }
    assert len(runs) == 5, runs
    assert all(ratio < 0.3 for _, _, _, ratio in runs.values())
    assert max(run[2] for name, run in runs.items() if "peak" in name) >= 1  # warmup, clipping
    jumping = sum(run[2] >= 1 for run in runs.values())
    assert f"In {jumping} of the {len(runs)} runs the validation loss" in " ".join(page.split())
    peaks = sorted((float(name.split()[1]), run[0]) for name, run in runs.items() if "peak" in name)
    assert peaks[-1][1] > 2 * max(end for _, end in peaks[:-1])
    rows = re.findall(r"^\s*(\d+)\s+([\d.]+) / ([\d.]+)\s+([\d.]+) / ([\d.]+)$", page, re.MULTILINE)
    plain_val = [float(r[1]) for r in rows]
    dropout_val = [float(r[3]) for r in rows]
    plain_train = [float(r[2]) for r in rows]
    assert len(rows) >= 5 and plain_val[-1] > 2 * min(plain_val) and min(plain_train) < 0.01
    assert dropout_val[-1] > 2 * min(dropout_val)
    gaps = [float(rows[-1][3]) - float(rows[-1][4]), plain_val[-1] - plain_train[-1]]
    verdict = "smaller" if gaps[0] < gaps[1] else "larger"
    assert f"That is a {verdict} gap than without dropout" in " ".join(page.split())


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


def test_the_tools_chapter_says_what_its_table_measured(book_html):
    """The calculator model gets nearly every held-out sum with the tool and almost none
    without it, in both seeds; the model trained without a tool almost none; the prose
    quotes the table; the leading digit of the plain model's sums beats the units."""
    text = _page_text(book_html / "chapters/tools.html")
    row = r"{}\s+{}\s+(\d{{4}})\s+([\d.]+)%\s+([\d.]+)%"
    measured = {}
    for name, mode in (
        ("calculator", "tool on"),
        ("calculator", "tool off"),
        ("no tool", "tool off"),
    ):
        found = re.findall(row.format(re.escape(name), re.escape(mode)), text)
        assert len(found) == 2, (name, mode)  # two seeds
        measured[name, mode] = [float(right) for _, right, _ in found]
    assert min(measured["calculator", "tool on"]) >= 95
    assert max(measured["calculator", "tool off"]) <= 2
    assert max(measured["no tool", "tool off"]) <= 5
    quoted = " and ".join(f"{v:.1f}%" for v in measured["calculator", "tool on"])
    assert f"the model gets {quoted} of the held-out sums right" in " ".join(text.split())
    places = dict(re.findall(r"(units|tens|hundreds|thousands)\s+digit right\s+([\d.]+)%", text))
    assert float(places["thousands"]) > float(places["units"])


def _section(page: Path, label: str) -> str:
    """The text of one section of a page (its label is its id), whitespace collapsed."""
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(page.read_text(encoding="utf-8"), "html.parser")
    return " ".join(soup.select_one(f"section#{label}").get_text(" ").split())


def _percents(said: str) -> list[float]:
    return [float(p) for p in re.findall(r"([\d.]+)%", said)]


def test_the_finetuning_chapter_says_what_its_tables_show(book_html):
    """Chapter 13's prose quotes its own tables: masking on sort and on #, the skill a
    fine-tune forgets and the mixture keeps, LoRA's parameters, and the exact restore."""
    page = book_html / "chapters/finetuning.html"
    masking = _section(page, "ch-finetuning-sft")
    steps = [int(s) for s in re.search(r"steps of chat((?: \d+)+)", masking).group(1).split()]
    curves = {}
    for name, seed, values in re.findall(
        r"(chat, unmasked|chat|#, unmasked|#) (\d{4,}) ((?:[\d.]+% ?)+)", masking
    ):
        curves.setdefault(name, {})[seed] = _percents(values)
    said = re.search(
        r"At step (\d+), averaged over (\d+) seeds, the masked runs answer ([\d.]+)%", masking
    )
    column = steps.index(int(said.group(1)))
    assert len(curves["chat"]) == int(said.group(2)) >= 5  # the book's rule: five seeds or more
    mean = sum(curve[column] for curve in curves["chat"].values()) / len(curves["chat"])
    assert abs(float(said.group(3)) - mean) < 0.06
    # the verdict's words follow the paired statistic: "+a ± b points over n seeds"
    stat = re.search(
        r"masked minus unmasked is ([+-][\d.]+) ± ([\d.]+) points over \d+ seeds: "
        r"by the book's rule, (.*?)\.",
        masking,
    )
    difference, error, words = float(stat.group(1)), float(stat.group(2)), stat.group(3)
    if abs(difference) > 3 * error + 0.1:  # beyond the rule's bound (to the page's rounding)
        assert words == (
            "the masked runs start sooner" if difference > 0 else "the unmasked runs start sooner"
        )
    elif abs(difference) < 3 * error - 0.1:
        assert words == "neither starts measurably sooner"

    forgetting = _section(page, "ch-finetuning-forgetting")
    rows = re.findall(r"(#|mixture) (\d{4,}) [\d.]+% ([\d.]+)% ([\d.]+)%", forgetting)
    after = {name: [float(up) for n, _, up, _ in rows if n == name] for name in ("#", "mixture")}
    assert max(after["#"]) < 10 and min(after["mixture"]) > 90
    for name, said in (("#", "alone, it sorts"), ("mixture", "mixture keeps")):
        found = re.search(
            said + r" ([\d.]+)% on average \(from ([\d.]+)% to ([\d.]+)%\)", forgetting
        )
        mean, low, high = map(float, found.groups())
        values = after[name]
        assert (low, high) == (min(values), max(values))
        assert abs(mean - sum(values) / len(values)) < 0.06

    lora = _section(page, "ch-finetuning-lora")
    counts = {
        name: int(count.replace(",", ""))
        for name, count in re.findall(r"(full|LoRA r=8|LoRA r=2) ([\d,]+) [\d.]+%", lora)
    }
    assert counts["LoRA r=2"] < counts["LoRA r=8"] < counts["full"] / 5
    share = re.search(r"rank 8 trains ([\d,]+) parameters, ([\d.]+)%", lora)
    assert int(share.group(1).replace(",", "")) == counts["LoRA r=8"]
    assert abs(float(share.group(2)) - 100 * counts["LoRA r=8"] / counts["full"]) < 0.06
    (base,) = re.findall(r"chat model's weights ([0-9a-f]{16})", lora)
    (removed,) = re.findall(r"adapters removed ([0-9a-f]{16})", lora)
    assert base == removed and "logits equal to the chat model's: True" in lora


def _percentages(text: str) -> list[float]:
    return [float(p) for p in re.findall(r"([\d.]+)%", text)]


def test_the_rl_page_states_what_its_runs_measured(book_html):
    """The RL chapter's prose: pass@1 rises much more than pass@k (from the runs' records,
    both seeds), the supervised control sorts more held-out prompts, the gamed checker
    loses the exact sorts; every number as the cached runs hold it."""
    text = " ".join(_page_text(book_html / "chapters/rl.html").split())
    runs = rl_runs.run_all()
    seeds, k = rl_runs.SEEDS, rl_runs.K
    start = runs["start", seeds[0]]["final"]

    def said(pattern: str) -> list[float]:
        (match,) = set(re.findall(pattern, text))
        return _percentages(" ".join(match) if isinstance(match, tuple) else match)

    def held(name: str, key: str) -> list[float]:
        return [round(100 * runs[name, s]["final"][key], 1) for s in seeds]

    p1 = said(r"RL raises pass@1 from ([\d.]+% to [\d.]+% and [\d.]+%)")
    pk = said(rf"and pass@ ?{k} from ([\d.]+% to [\d.]+% and [\d.]+%)")
    assert p1 == [round(100 * start["exact pass@1"], 1), *held("REINFORCE", "exact pass@1")]
    assert pk == [round(100 * start[f"exact pass@{k}"], 1), *held("REINFORCE", f"exact pass@{k}")]
    assert all(end - p1[0] > 2 * (end_k - pk[0]) for end, end_k in zip(p1[1:], pk[1:], strict=True))
    supervised = said(r"greedy answer is right on ([\d.]+% and [\d.]+%) of the held-out")
    # the page's apostrophe is typographic (RL’s), and a glued number keeps a space after it
    reinforce = said(r"of the held-out prompts \(RL.s: ([\d.]+% and [\d.]+%)")
    assert supervised == held("supervised", "greedy") and reinforce == held("REINFORCE", "greedy")
    assert min(supervised) > max(reinforce)
    fell = said(r"Its exact sorts fell from ([\d.]+% to [\d.]+% and [\d.]+%)")
    assert fell[1:] == held("gamed", "exact pass@1") and max(fell[1:]) < fell[0] / 2
