"""The whole book builds with warnings as errors, and every chapter is reachable."""

import collections
import functools
import html
import re
from pathlib import Path

import torch
from pages import CHAPTERS, parse, signed

from model_src import prepare, presets
from model_src.experiments import rl_runs, variants, verdicts


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


# the mark on a numeral of a glued sentence, or the span that keeps a glued value's power
# of ten on one line (ext/computed_marks.py): part of its word
NUMERAL_MARK = re.compile(r'<span class="(?:computed-number|power-of-ten)">([^<]*)</span>')


def _page_html(page: Path) -> str:
    """A page's HTML with its numerals' marks taken off, so a glued sentence reads whole."""
    return NUMERAL_MARK.sub(r"\1", page.read_text(encoding="utf-8"))


@functools.cache  # a chapter's text is read by several tests (modern's by three): made once
def _page_text(page: Path) -> str:
    return html.unescape(re.sub(r"<[^>]+>", " ", _page_html(page)))


# A paired statistic as verdicts.Comparison.statistic prints it: mean, standard error,
# seeds, and the note where only the floor of a comparison of shares makes it "even".
PAIRED = (
    r"([+−]?[\d.]+) ± ([\d.]+) points over (\d+) seeds((?:, under the floor of [\d.]+ points)?)"
)


def _rule_words(
    said: tuple, ahead: str, behind: str, even: str, rounding: float = 0.1, floored: str = ""
):
    """The words a paired statistic (difference, error, words as the page prints them)
    must come with by the book's rule (verdicts.py), up to the page's rounding; `floored`,
    the floor's note if the page printed one, makes them the even words."""
    difference, error, words = signed(said[0]), float(said[1]), said[2]
    if floored:
        assert words == even, (difference, error, floored, words)
    elif abs(difference) > 3 * error + rounding:
        assert words == (ahead if difference > 0 else behind), (difference, error, words)
    elif abs(difference) < 3 * error - rounding:
        assert words == even, (difference, error, words)


def test_the_modern_chapters_verdicts_follow_the_statistics_beside_them(book_html):
    """Each variant's words against GPT-2 are the ones the book's rule picks from the
    paired statistic printed beside them, over five seeds or more; and what the page says
    of the runs without positions shown is what its table shows."""
    modern = " ".join(_page_text(book_html / "chapters/modern.html").split())
    sooner, slower = "learns the task sooner than GPT-2", "learns the task more slowly than GPT-2"
    even = "(?:makes no difference|shows no difference from GPT-2 that) this book can measure"
    claims = [  # one change: its words, then its statistic
        (mean, error, "even" if re.fullmatch(even, words) else words, seeds, floored)
        for words, mean, error, seeds, floored in re.findall(
            rf"({sooner}|{slower}|{even}) \(\s*{PAIRED}\s*\)", modern
        )
    ]
    grouped = {  # several changes of one verdict: each with its statistic, then the words
        "learn the task sooner than GPT-2": sooner,
        "learn the task more slowly than GPT-2": slower,
        "make no difference this book can measure": "even",
    }
    for sentence in re.findall(r"Seed by seed, (.*?)\s?\.(?:\s|$)", modern):
        for clause in sentence.split("; "):
            for words, verdict in grouped.items():
                if clause.endswith(words):
                    claims += [(m, e, verdict, n, f) for m, e, n, f in re.findall(PAIRED, clause)]
    # the four changes' table: a row each, the statistic, then the verdict in a word
    row_words = {"sooner": sooner, "more slowly": slower, "no difference": "even"}
    rows = re.findall(
        rf"(?:no biases|RMSNorm|SwiGLU|GQA) {PAIRED} (sooner|more slowly|no difference)", modern
    )
    assert len(rows) == 4
    claims += [(m, e, row_words[w], n, f) for m, e, n, f, w in rows]
    assert len(claims) >= 9  # the four, RoPE, all five, RoPE + wpe and nanochat's three
    for mean, error, words, seeds, floored in claims:
        assert int(seeds) >= 5
        _rule_words((mean, error, words), sooner, slower, "even", floored=floored)
    row = r"no positions\s+[\d,]+\s+(\d{4})\s+[\d.]+\s+([\d.]+)%"  # a run may be printed twice
    finals = {seed: float(value) for seed, value in re.findall(row, modern)}
    said = re.search(r"the runs shown (do not get to half|get no further than ([\d.]+)%)", modern)
    assert len(finals) == 2 and said
    if said.group(2):  # the best evaluation of any run shown, the last one's at least
        assert float(said.group(2)) >= max(finals.values())
    else:
        assert max(finals.values()) < 50


def test_the_window_section_says_what_its_runs_and_the_task_give(book_html):
    """The sliding-window runs' words follow the statistics beside them; the ceiling the
    blind window leaves is the task's own count, and no run shown passes it; the cache
    shares are the windows over the context; the cost sentence follows the prompt-long
    window's verdict."""
    modern = " ".join(_page_text(book_html / "chapters/modern.html").split())
    # from the section's first words to its last (its title is also a link's text above)
    section = modern[modern.index("A sliding window caps the cache") :]
    section = section[: section.index("no token is ever out of reach there")]
    worded = (  # the blind window's words, then the prompt-long one's: ahead, behind, even
        (
            "sorts more problems than GPT-2",
            "sorts fewer problems than GPT-2",
            "sorts as many problems as GPT-2, as far as this book can measure",
        ),
        (
            "learns the task sooner than GPT-2",
            "learns the task more slowly than GPT-2",
            "makes no difference this book can measure",
        ),
    )
    verdicts_said = []
    for words in worded:
        claims = re.findall(
            "(" + "|".join(map(re.escape, words)) + rf") \(\s*{PAIRED}\s*\)", section
        )
        assert len(claims) == 1, words
        said, mean, error, seeds, floored = claims[0]
        assert int(seeds) >= 5
        _rule_words((mean, error, said), *words, floored=floored)
        verdicts_said.append((("ahead", "behind", "even")[words.index(said)], signed(mean)))
    verdict, difference = verdicts_said[1]
    cost = {
        "ahead": "even speeds learning up",
        "behind": "costs speed of learning",
        "even": f"has no cost this book can confirm (it {'led' if difference > 0 else 'trailed'} "
        f"by {abs(difference):.1f} points, inside {verdicts.STANDARD_ERRORS:g} standard errors)",
    }[verdict]
    assert f"of the cache, {cost}" in section

    data = prepare.sort_data()
    prompt_len, seq_len = data.meta["prompt_len"], data.meta["seq_len"]
    layers, context = presets.gpt_config("sort").n_layer, presets.gpt_config("sort").block_size
    blind, prompt = variants.WINDOWS["blind"], variants.WINDOWS["prompt"]
    reach = layers * (blind - 1)
    problems = data.val.reshape(-1, seq_len).tolist()

    def most_right(p: int) -> int:  # answers from what the query at p sees, best case
        seen = {}
        for row in problems:
            seen.setdefault(tuple(row[max(0, p - reach) : p + 1]), []).append(row[p + 1])
        return sum(max(map(nexts.count, nexts)) for nexts in seen.values())

    ceiling = min(most_right(p) for p in range(prompt_len - 1, context))
    said = re.search(r"sorts (\d+) problems, against the (\d+) \((\d+)%\) the lengths", section)
    assert said and int(said.group(2)) == ceiling < len(problems)
    assert int(said.group(3)) == round(100 * ceiling / len(problems))
    assert int(said.group(1)) <= ceiling
    finals = re.findall(rf"window {blind}\s+[\d,]+\s+\d{{4}}\s+[\d.]+\s+([\d.]+)%", section)
    assert len(finals) == 2 and all(float(f) / 100 * len(problems) <= ceiling + 0.5 for f in finals)
    for window in (blind, prompt):
        share = f"{window}/{context} ({round(100 * window / context)}%)"
        assert share in section, share


def test_the_modern_chapters_qk_norm_and_window_summaries_follow_their_numbers(book_html):
    """QK-norm's jumps and plain attention's one-hot rows are worded by the rule from the
    statistics beside them; the narrow window's summary is the section's own counts."""
    # the page writes ’ for ': the patterns' ".s" match either
    modern = " ".join(_page_text(book_html / "chapters/modern.html").split())
    share = ("larger than", "smaller than", "no different, as far as this book can measure, from")
    said = re.search(
        rf"QK-norm.s share at this rate is ({'|'.join(share)}) plain attention.s \(\s*{PAIRED}\s*\)"
        rf" and ({'|'.join(share)}) its own at the preset rate \(\s*{PAIRED}\s*\)",
        modern,
    )
    assert said
    for words, mean, error, seeds in (said.groups()[0:4], said.groups()[5:9]):
        assert int(seeds) >= 5
        _rule_words((mean, error, words), *share)
    sharp = (
        "the high rate makes such rows more common",
        "the high rate makes them less common",
        "the rate makes no difference this book can measure",
    )
    said = re.search(rf"seed by seed, ({'|'.join(sharp)}) \(\s*{PAIRED}\s*\)", modern)
    assert said and int(said.group(4)) >= 5
    _rule_words(said.groups()[1:3] + said.groups()[0:1], *sharp)

    counts = re.search(r"sorts (\d+) problems, against the (\d+) \((\d+)%\) the lengths", modern)
    best, ceiling = int(counts.group(1)), int(counts.group(2))
    problems = len(prepare.sort_data().val) // prepare.sort_data().meta["seq_len"]
    relation = (
        "less than half of" if 2 * best < ceiling else "below" if best < ceiling else "as many as"
    )
    summary = re.findall(
        r"no run ever sorts more than ([\d.]+)% of the held-out problems, (.+?) the ([\d.]+)% its"
        r" reach allows",
        modern,
    )
    assert len(summary) == 2  # the opening and the takeaways
    for best_share, words, ceiling_share in summary:
        assert words == relation
        assert abs(float(best_share) - 100 * best / problems) < 0.5
        assert abs(float(ceiling_share) - 100 * ceiling / problems) < 0.5


def test_the_sampling_chapter_shows_what_the_char_model_learned(book_html):
    """Baselines in nats and bits, samples from three writers, words it has read, and
    nanoGPT's CPU run beside it: the page's tables say what its prose says."""
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
    assert "nanoGPT CPU run" in text and "The Tempest" in text


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
    """Attention chapter: the selector head's weights by answer row and query letter. The
    prose names each end row's favoured keys as the table has them (one for every query
    letter, or each letter's own); the last row never favours A; after the first row
    prompt letters below the query's own get less weight than those at or above it."""
    page = _page_text(book_html / "chapters/attention.html")
    text = " ".join(page.split()).replace("’", "'")  # smart quotes
    table = {}  # (row, query letter) -> {key letter: weight}
    for row, line in re.findall(r"^row\s+(\d+)\s+(query .*)$", page, re.MULTILINE):
        for q, shares in re.findall(r"query ([A-C]): (A [\d.]+ B [\d.]+ C [\d.]+)", line):
            table[int(row), q] = dict(re.findall(r"([A-C]) ([\d.]+)", shares))
    rows = sorted({row for row, _ in table})
    assert len(rows) == 6, table
    favoured = {key: max(shares, key=lambda k: float(shares[k])) for key, shares in table.items()}
    for end in (rows[0], rows[-1]):
        keys = {q: favoured[row, q] for row, q in table if row == end}
        said = (
            f"to the prompt's {next(iter(keys.values()))}'s whatever letter the query holds"
            if len(set(keys.values())) == 1
            else " and ".join(
                f"the prompt's {key}'s when the query holds {q}" for q, key in sorted(keys.items())
            )
        )
        assert said in text, said
    assert "A" not in {favoured[row, q] for row, q in table if row == rows[-1]}
    for (row, q), shares in table.items():
        if row > rows[0] and q != "A":
            below = sum(float(v) for k, v in shares.items() if k < q)
            assert below < sum(float(v) for k, v in shares.items() if k >= q), (row, q)


STATISTIC = (  # as PAIRED, in parentheses, with or without "points"
    r"\(\s*([+−-]?[\d.]+) ± ([\d.]+)(?: points)? over (\d+) seeds(, under the floor[^)]*)?\s*\)"
)


def _worded_by_the_rule(text: str) -> list[tuple[str, str]]:
    """Every statistic of a page's text with the words before it (from the last colon,
    semicolon or full stop): by the book's rule (verdicts.py), the words say 'no difference'
    exactly when the mean lies within three standard errors of zero or under the floor the
    page notes beside it. Returns the pairs that
    disagree, and asserts that there were statistics of at least five seeds to check."""
    found = list(re.finditer(STATISTIC, text))
    assert found and all(int(m[3]) >= 5 for m in found), [m[0] for m in found]
    wrong = []
    for m in found:
        words = re.split(r"[:;.] ", text[: m.start()])[-1]
        within = bool(m[4]) or abs(signed(m[1])) <= 3 * float(m[2])
        if within != ("no difference this book can measure" in words):
            wrong.append((words, m[0]))
    return wrong


def test_the_loss_jumps_despite_the_guards_and_the_small_runs_are_worded_by_their_table(book_html):
    """Training chapter, over its seeds: in some short runs with warmup and clipping the
    held-out loss at least doubles between two measurements, and the prose counts the runs
    that jump as the table does; Adam's RMS step is a small fraction of η; the race between
    the peak rates and the dropout gap are worded by the book's rule on the statistic beside
    them, as every statistic on the page. With few problems, the words on the first seed's
    runs (memorised, climbing) follow its table."""
    page = _page_text(book_html / "chapters/training.html")
    text = " ".join(page.split())
    runs = {
        name: (float(late), int(jumping), int(n), float(jumps), float(ratio))
        for name, late, jumping, n, jumps, ratio in re.findall(
            r"^(peak [\d.]+|no warmup|no clipping)\s+([\d.]+)\s+(\d+) of (\d+)\s+([\d.]+)"
            r"\s+([\d.]+)$",
            page,
            re.MULTILINE,
        )
    }
    assert len(runs) == 5, runs
    assert all(ratio < 0.3 for *_, ratio in runs.values())
    guarded = [run for name, run in runs.items() if name.startswith("peak")]
    jumping, n = sum(run[1] for run in guarded), sum(run[2] for run in guarded)
    assert jumping >= 1 and f"{jumping} of those {n} jump" in text
    jumping, n = sum(run[1] for run in runs.values()), sum(run[2] for run in runs.values())
    assert f"In {jumping} of the {n} runs the validation loss" in text
    assert not _worded_by_the_rule(text)
    assert re.search(r"at its own, averaged over the seeds: [^(]* " + STATISTIC, text)
    assert re.search(
        r"without, averaged over the seeds: [^(]* " + STATISTIC + r"\s*\. The real", text
    )
    rows = re.findall(r"^\s*(\d+)\s+([\d.]+) / ([\d.]+)\s+([\d.]+) / ([\d.]+)$", page, re.MULTILINE)
    plain_val = [float(r[1]) for r in rows]
    dropout_val = [float(r[3]) for r in rows]
    plain_train = [float(r[2]) for r in rows]
    assert len(rows) >= 5
    # the words follow the first seed's table: memorised when the training loss ends below
    # the lowest validation loss; "climbs" past 1.5 times its lowest, else "stays under"
    memorised = plain_train[-1] < min(plain_val)
    assert ("This is what memorising looks like." in text) == memorised
    assert bool(re.search(r"The \d+ problems are not memorised here", text)) != memorised
    for said, val in ((r"climbs to [\d.]+, [\d.]+ times that", plain_val),
                      (r"with dropout climbs from", dropout_val)):  # fmt: skip
        if abs(val[-1] / min(val) - 1.5) > 0.01:  # clear of the table's rounding
            assert bool(re.search(said, text)) == (val[-1] > 1.5 * min(val)), said


def _from_power_of_ten(said: str) -> str:
    """'1 × 10⁻⁵' (wording.power_of_ten) as float() reads it, '1e-5'."""
    mantissa, _, power = said.partition(" × 10")
    return mantissa + (
        "e" + power.translate(str.maketrans("⁻⁺⁰¹²³⁴⁵⁶⁷⁸⁹", "-+0123456789")) if power else ""
    )


def test_the_trained_ngpt_lies_on_the_sphere_within_the_pages_tolerance(book_html):
    """Every hidden state of every trained nGPT (the input to each attention and MLP step
    and to the output layer), on every held-out problem, has length 1 within the tolerance
    the nGPT chapter states."""
    text = _page_text(book_html / "chapters/ngpt.html")
    power = r"(?:e[+-]?\d+| × 10[⁻⁺]?[⁰¹²³⁴⁵⁶⁷⁸⁹]+)?"  # '2e-05' or '1 × 10⁻⁵'
    said = re.findall(r"stated\s+tolerance of\s+(\d[\d.]*" + power + ")", text)
    (tolerance,) = {float(_from_power_of_ten(t)) for t in said}
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
    """The table has a row per seed (five or more); the calculator model gets nearly every
    held-out sum with the tool and almost none without it; the model trained without a
    tool almost none; the prose quotes the table's means with the paired statistic, and
    the words beside the digits' statistics follow the book's rule."""
    from model_src.experiments import arithmetic_runs, verdicts

    text = " ".join(_page_text(book_html / "chapters/tools.html").split())
    text = re.sub(r" (?=[.,:;)])|(?<=\() ", "", text)  # the spaces around glued values
    row = r"{}\s+{}\s+(\d{{4,}})\s+([\d.]+)%\s+([\d.]+)%"
    measured = {}
    for name, mode in (
        ("calculator", "tool on"),
        ("calculator", "tool off"),
        ("no tool", "tool off"),
    ):
        found = re.findall(row.format(re.escape(name), re.escape(mode)), text)
        assert [int(seed) for seed, _, _ in found] == list(arithmetic_runs.SEEDS), (name, mode)
        measured[name, mode] = [float(right) for _, right, _ in found]
    assert len(arithmetic_runs.SEEDS) >= verdicts.MIN_SEEDS
    assert min(measured["calculator", "tool on"]) >= 95
    assert max(measured["calculator", "tool off"]) <= 2
    assert max(measured["no tool", "tool off"]) <= 5
    on = measured["calculator", "tool on"]
    quoted = re.search(r"the model gets ([\d.]+)% of the held-out sums right", text)
    assert abs(float(quoted.group(1)) - sum(on) / len(on)) < 0.1  # the table's rounding
    said = re.search(r"tool on minus tool off is ([+−][\d.]+) ± ([\d.]+) points", text)
    off = measured["calculator", "tool off"]
    mean = sum(a - b for a, b in zip(on, off, strict=True)) / len(on)
    assert abs(signed(said.group(1)) - mean) < 0.2  # the table's rounding
    lead = re.search(rf"Hundreds minus units, seed by seed, is {PAIRED}: (.*?)\.", text)
    _rule_words(
        lead.group(1, 2, 5),
        "the hundreds digit is right more often", "the units digit is right more often",
        "no difference this book can measure", floored=lead.group(4),
    )  # fmt: skip


def _section(page: Path, label: str) -> str:
    """The text of one section of a page (its label is its id), whitespace collapsed."""
    return " ".join(_parsed(page).select_one(f"section#{label}").get_text(" ").split())


@functools.cache  # the finetuning chapter's sections are read six times: parsed once
def _parsed(page: Path):
    """A page as _section reads it (its numerals' marks off), parsed by BeautifulSoup."""
    from bs4 import BeautifulSoup

    return BeautifulSoup(_page_html(page), "html.parser")


def _percents(said: str) -> list[float]:
    return [float(p) for p in re.findall(r"([\d.]+)%", said)]


def test_the_finetuning_chapter_says_what_its_tables_show(book_html):
    """Chapter 13's prose quotes its own tables: masking on sort and on #, the skill a
    fine-tune forgets and the mixture keeps, LoRA's parameters, and the exact restore."""
    page = book_html / "chapters/finetuning.html"
    masking = _section(page, "ch-finetuning-sft")
    header = re.search(r"held-out accuracy on ↑, at step run seed((?: \d+)+)", masking)
    steps = [int(s) for s in header.group(1).split()]
    curves = {}
    for name, seed, values in re.findall(
        r"(chat, unmasked|chat|#, unmasked|#) (\d{4,}) ((?:[\d.]+% ?)+)", masking
    ):
        curves.setdefault(name, {})[seed] = _percents(values)
    said = re.search(
        r"At step (\d+) ?, averaged over (\d+) seeds, the masked runs answer ([\d.]+)%", masking
    )
    column = steps.index(int(said.group(1)))
    assert len(curves["chat"]) == int(said.group(2)) >= 5  # the book's rule: five seeds or more
    mean = sum(curve[column] for curve in curves["chat"].values()) / len(curves["chat"])
    assert abs(float(said.group(3)) - mean) < 0.06
    # the verdict's words follow the paired statistic: "+a ± b points over n seeds"
    stat = re.search(
        rf"masked minus unmasked is {PAIRED} ?: by the book.s rule ?, (.*?) ?\.", masking
    )
    _rule_words(
        stat.group(1, 2, 5),
        "the masked runs start sooner", "the unmasked runs start sooner",
        "neither starts sooner", floored=stat.group(4),
    )  # fmt: skip

    forgetting = _section(page, "ch-finetuning-forgetting")
    rows = re.findall(r"(#|mixture) (\d{4,}) [\d.]+% ([\d.]+)% ([\d.]+)%", forgetting)
    after = {name: [float(up) for n, _, up, _ in rows if n == name] for name in ("#", "mixture")}
    assert max(after["#"]) < 10 and min(after["mixture"]) > 90
    for name, said in (("#", "alone, it sorts"), ("mixture", "mixture keeps")):
        found = re.search(
            said + r" ([\d.]+)%(?: \(([\d.]+)% to ([\d.]+)% by seed\))?", forgetting
        )  # wording.by_seed: the mean alone where every seed prints alike
        mean, low, high = found.groups()
        values = after[name]
        assert (float(low or mean), float(high or mean)) == (min(values), max(values))
        assert abs(float(mean) - sum(values) / len(values)) < 0.1  # each shown to 0.1

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


def _unspaced(text: str) -> str:
    """Page text without the space a glued value keeps on each side before punctuation."""
    return re.sub(r" (?=[.,:;)])|(?<=\() ", "", text)


def test_the_data_page_says_where_the_validation_text_begins(book_html):
    """The char corpus's split falls inside a play: the page names the play, the act and
    scene, and the shares of the validation text, as the corpus and its split give them."""
    from model_src import prepare, shakespeare

    text = _unspaced(_section(book_html / "chapters/data.html", "ch-data-char"))
    said = re.search(
        r"falls inside The Winter.s Tale, in (Act [IVX]+, scene [ivx]+), mid-speech .*? "
        r"Those last (\d+)% of The Winter.s Tale are (\d+)% of the validation text; "
        r"the other (\d+)% is the whole of The Tempest",
        text,
    )
    corpus = prepare.default_corpus()
    val = corpus[len(prepare.char_data(corpus).train) :]
    cut, tempest = val.split(shakespeare.SEPARATOR)
    assert tempest == shakespeare.plays()[-1]
    assert said.group(1) == "Act V, scene ii"  # where the edition's headings put its first line
    assert int(said.group(2)) == round(100 * len(cut) / len(shakespeare.plays()[-2]))
    assert int(said.group(3)) == round(100 * len(cut) / len(val))
    assert int(said.group(4)) == round(100 * len(tempest) / len(val))


def _the_finetuning_seeds_that_count(page: Path, explained: str, prior: float, losses: list):
    """The unmasked # runs the page says learned some of the counting, and the one first
    token of those that collapsed, against the tables: each seed it names is below the prior
    at the answer letter and above the best reply that ignores the counting; the collapsed
    runs are the ones whose commonest first token starts every reply, and the prior's best
    is the commonest."""
    replies = _unspaced(_section(page, "ch-finetuning-sft"))
    table = {
        seed: (float(right), reply, float(share))
        for seed, right, reply, share in re.findall(
            r"#, unmasked (\d{4,}) ([\d.]+)% ([ABC]|<\w+>) ([\d.]+)% [\d.]+%", replies
        )
    }
    assert len(table) == len(losses) >= 5
    loss_of = dict(zip(table, losses, strict=True))  # both tables list the seeds in order
    trivial = {name: float(v) for name, v in re.findall(r"“([^”]+)” ([\d.]+)%", replies)}
    best = max(trivial.values())
    said = re.search(rf"the best of them: “([^”]+)”, {best}%\)", explained)
    assert said and trivial[said.group(1)] == best
    named = re.findall(
        r"seed (\d{4,}), at ([\d.]+) nats .*? the right letter on ([\d.]+)%", explained
    )
    counted = re.search(
        r"(No unmasked run has\.|Every unmasked run has:|Of the (\d+) unmasked runs, (\d+)"
        r" ha(?:s|ve): .*? The other (\d+) ha(?:s|ve) not\.)",
        explained,
    )
    if counted.group(2):
        assert int(counted.group(2)) == len(table) and int(counted.group(3)) == len(named)
        assert int(counted.group(3)) + int(counted.group(4)) == len(table)
    for seed, loss, right in named:
        assert float(loss) == round(loss_of[seed], 3) < prior
        assert float(right) == table[seed][0] > best
    if counted.group(1).startswith("Every"):
        assert all(loss < prior for loss in losses) and min(v[0] for v in table.values()) > best

    collapsed = collections.Counter(reply for _, reply, share in table.values() if share == 100)
    prior_best = re.search(r"has one best reply for every request: ([ABC]),", explained).group(1)
    said = re.search(
        r"every held-out request with the same token \((\d+) of (\d+) seeds\) (.*?);", explained
    )
    if not collapsed:
        assert (
            "No unmasked run starts its reply to every held-out request with the same token"
            in explained
        )
        return
    assert int(said.group(1)) == sum(collapsed.values()) and int(said.group(2)) == len(table)
    if set(collapsed) == {prior_best}:
        assert said.group(3) in ("starts with that one", "all start with that one")
    else:
        for reply, n in collapsed.items():
            assert f"{reply} in {n}" in said.group(3)
    fixed = max(("A", "B", "C"), key=lambda c: trivial[f"always {c}"])
    assert f"(“always {fixed}”, {trivial[f'always {fixed}']}%)" in explained
    assert ("is the best single reply" in explained) == (fixed == prior_best)


def test_the_finetuning_chapter_measures_the_collapse_and_the_token_row(book_html):
    """Chapter 13's newer claims against its own tables: the unmasked runs' loss at the
    answer letter against knowing only how often each letter wins, and LoRA with the new
    token's row trained against rank 8 and the full fine-tune, each with the rule's words."""
    page = book_html / "chapters/finetuning.html"
    explained = _unspaced(_section(page, "ch-finetuning-mask-measures"))
    prior = float(re.search(r"how often each letter wins: ([\d.]+) nats", explained).group(1))
    losses = {
        name: [float(v) for v in values.split()]
        for name, values in re.findall(r"(#, unmasked|#) ((?:\d\.\d{3} ?){5,})", explained)
    }
    said = re.search(
        r"unmasked runs end at ([\d.]+) on average, ([\d.]+) ± ([\d.]+) nats (above|below) it "
        r"over (\d+) seeds: (.*?)\. The masked", explained
    )  # fmt: skip
    unmasked = losses["#, unmasked"]
    assert len(unmasked) == int(said.group(5)) >= 5
    assert abs(float(said.group(1)) - sum(unmasked) / len(unmasked)) < 0.001
    difference = float(said.group(2)) * (1 if said.group(4) == "above" else -1)
    assert abs(difference - (sum(unmasked) / len(unmasked) - prior)) < 0.002
    _rule_words(
        (difference, said.group(3), said.group(6)),
        "measurably worse on average", "measurably better on average",
        "not measurably different from it on average", rounding=0.002,
    )  # fmt: skip
    _the_finetuning_seeds_that_count(page, explained, prior, unmasked)

    row = _unspaced(_section(page, "ch-finetuning-lora-row"))
    table = {
        name: _percents(values)
        for name, values in re.findall(r"(full|LoRA r=8, # row|LoRA r=8) ((?:[\d.]+% ?){5,})", row)
    }
    gain = [a - b for a, b in zip(table["LoRA r=8, # row"], table["LoRA r=8"], strict=True)]
    said = re.search(rf"row.s run minus rank 8 is {PAIRED}: (.*?)\;", row)
    assert int(said.group(3)) == len(gain) >= 5
    assert abs(signed(said.group(1)) - sum(gain) / len(gain)) < 0.1  # the table's rounding
    _rule_words(
        said.group(1, 2, 5),
        "training the row helps", "training the row hurts",
        "no help or harm from training the row that this book can measure",
        floored=said.group(4),
    )  # fmt: skip


def _percentages(text: str) -> list[float]:
    return [float(p) for p in re.findall(r"([\d.]+)%", text)]


def test_the_rl_page_states_what_its_runs_measured(book_html):
    """The RL chapter's prose: pass@1 and pass@k before and after REINFORCE, the supervised
    control and GRPO against REINFORCE, the gamed checker's exact sorts: each the mean over
    the seeds, with its paired statistic and the words its verdict picks (verdicts.py),
    every number as the cached runs hold it."""
    from model_src.experiments import verdicts

    # a glued value keeps a space on each side in the text: drop it by punctuation
    text = " ".join(_page_text(book_html / "chapters/rl.html").split()).replace("’", "'")
    text = re.sub(r" (?=[.,:;)])|(?<=\() ", "", text)
    runs = rl_runs.run_all()
    seeds, k = rl_runs.SEEDS, rl_runs.K
    assert len(seeds) >= verdicts.MIN_SEEDS

    def final(name: str, key: str) -> list[float]:
        return [runs[name, s]["final"][key] for s in seeds]

    def mean(name: str, key: str) -> str:
        return f"{100 * sum(final(name, key)) / len(seeds):.1f}%"

    def claim(
        first: str,
        second: str,
        key: str,
        separator: str = ": ",
        digits: int | None = None,
        **words: str,
    ) -> str:
        """'+a ± b points over n seeds: the words of its verdict'."""
        comparison = verdicts.paired(final(first, key), final(second, key))
        return f"{comparison.statistic(digits=digits)}{separator}{comparison.words(**words)}"

    change = dict(ahead="a rise", behind="a fall", even="no change this book can measure")
    even_models = "no difference this book can measure"
    p1, pk = "exact pass@1", f"exact pass@{k}"
    said = f"from {mean('start', p1)} to {mean('REINFORCE', p1)} on average over the seeds"
    assert f"{said} ({claim('REINFORCE', 'start', p1, **change)})" in text
    said = f"from {mean('start', pk)} to {mean('REINFORCE', pk)}"
    error = 100 * verdicts.paired(final("REINFORCE", pk), final("start", pk)).standard_error
    digits = next(d for d in range(1, 5) if round(error, d) or d == 4)  # its spread not 0.0
    assert f"{said} ({claim('REINFORCE', 'start', pk, digits=digits, **change)})" in text
    models = dict(ahead="RL's model ahead", behind="the start model ahead", even=even_models)
    said = f"against the start model's: {claim('REINFORCE', 'start', pk, ', ', digits, **models)})"
    assert said in text
    supervised = claim(
        "supervised", "REINFORCE", p1, " (", ahead="the control ahead", behind="RL ahead"
    )
    assert f"the control minus REINFORCE, seed by seed, is {supervised})" in text
    grpo = claim(
        "GRPO", "REINFORCE", p1, ahead="GRPO ahead", behind="REINFORCE ahead",
        even="no difference this book can measure at this size",
    )  # fmt: skip
    assert f"GRPO minus REINFORCE, seed by seed, is {grpo}" in text
    gamed = verdicts.paired(final("gamed", p1), final("start", p1))
    words = gamed.words(
        ahead="a rise by the book's rule",
        behind="a fall by the book's rule",
        even="a change these seeds cannot separate from noise",
    )
    before = runs["start", seeds[0]]["final"][p1]
    fell = sum(v < before for v in final("gamed", p1))
    rose = sum(v > before for v in final("gamed", p1))
    moved = " and ".join(f"{verb} in {n}" for verb, n in (("fell", fell), ("rose", rose)) if n)
    by_seed = (
        f"it {'fell' if fell else 'rose'} in all {len(seeds)} seeds"
        if len(seeds) in (fell, rose)
        else f"it {moved} of the {len(seeds)} seeds"
        if moved
        else f"it stayed where it was in all {len(seeds)} seeds"
    )
    said = f"went from {mean('start', p1)} to {mean('gamed', p1)} on average: {by_seed}"
    assert said in text and f"{words} ({gamed.statistic()})" in text


def test_the_rl_page_measures_rloo_the_anchor_and_sampling_alone(book_html):
    """The leave-one-out baseline against the group mean, the KL anchor against the gamed
    run, and the start model's best-of-k and majority vote against RL's one try: each with
    its paired statistic and the words its verdict picks, recomputed from the runs."""
    from model_src import prepare, voting
    from model_src.experiments import verdicts

    text = " ".join(_page_text(book_html / "chapters/rl.html").split()).replace("’", "'")
    text = re.sub(r" (?=[.,:;)])|(?<=\() ", "", text)
    runs = rl_runs.run_all()
    seeds, k, n = rl_runs.SEEDS, rl_runs.K, rl_runs.SAMPLES

    def final(name: str, key: str) -> list[float]:
        return [runs[name, s]["final"][key] for s in seeds]

    even = "no difference this book can measure"
    loo = verdicts.paired(final("RLOO", "exact pass@1"), final("REINFORCE", "exact pass@1"))
    words = loo.words(ahead="RLOO ahead", behind="the group mean ahead", even=even)
    stat = loo.statistic()  # its digits as the page prints them: enough to show the spread
    assert f"RLOO minus REINFORCE, seed by seed, is {stat}: {words}" in text
    anchor = verdicts.paired(final("gamed+KL", "ordered_wrong"), final("gamed", "ordered_wrong"))
    words = anchor.words(ahead="more with the anchor", behind="fewer with the anchor", even=even)
    assert f"anchored minus not, seed by seed: {anchor.statistic()}, {words}" in text

    right = [
        "".join(prepare.SORT_LETTERS[i] for i in row) for row in rl_runs.held_out()[1].tolist()
    ]
    re_p1 = final("REINFORCE", "exact pass@1")
    best = [voting.best_of_k(runs["start", s]["final"]["p"], k) for s in seeds]
    versus_rl = verdicts.paired(best, re_p1)
    words = versus_rl.words(
        ahead="the sampler with a checker ahead", behind="RL ahead with one try", even=even
    )
    # the table's row, first, second, statistic and verdict, and the words after it
    assert f"start, best of {k} − REINFORCE, one try {versus_rl.statistic()}: {words}" in text
    said = f"With the checker, the start model minus RL's one try is {versus_rl.statistic()}"
    assert f"{said} ({words})" in text
    votes = [voting.majority_at_k(runs["start", s]["final"]["samples"], right, n, s) for s in seeds]
    vote = verdicts.paired(votes, re_p1)
    words = vote.words(ahead="the vote ahead", behind="RL ahead with one try", even=even)
    assert f"start, vote of {n} − REINFORCE, one try {vote.statistic()}: {words}" in text
    assert f"the vote minus RL's one try is {vote.statistic()} ({words})" in text
    large = re.search(r"= (\d+), REINFORCE minus start is ([^:]+): ([^.]+)\.", text)
    k = int(large.group(1))
    at_k = verdicts.shares(  # a share of prompts: from the floor up, as the page decides it
        *([voting.best_of_k(runs[name, s]["final"]["p"], k) for s in seeds]
          for name in ("REINFORCE", "start"))
    )  # fmt: skip
    words = at_k.words(ahead="REINFORCE ahead", behind="the start model ahead", even=even)
    assert large.group(2, 3) == (at_k.statistic(), words)
