"""What each live widget's model was trained on, read from the code that made its
training data, for the page: a sentence that names it (the widget's hint says it) and
the limits the reader's input is checked against (nanobook_widgets.js, offDistribution).

An input outside them is still run: the widget says, under the reply, that the model
never saw anything like it, so a strange answer reads as a lesson, not a bug. Nothing
here is typed twice: the lengths, letters, answers and formats are those of the rows
that prepare.py, arithmetic.py and finetune.py train on.

    sort        prompts of prepare.SORT_LENGTH letters of SORT_LETTERS, each followed by
                the one answer training showed after those letters
    char        the plays (no limit beyond the vocabulary, which the widget enforces)
    calculator  the form of arithmetic.py's training prompts, digits as slots: "000+000="
    a chat run  per request, the letter counts of its conversations and of the runs it
                was fine-tuned from
"""

from __future__ import annotations

import functools
import re


def limits(preset: str) -> dict:
    """The training distribution of a preset's or a tool model's, for its data-live JSON."""
    made = {"sort": sort_limits, "char": char_limits, "calculator": calculator_limits}.get(preset)
    return made() if made else None  # another book's preset: its widgets check nothing


@functools.cache
def sort_limits() -> dict:
    """The sort rows: how long their prompts are, which letters they use, and the answer
    each set of letters was followed by (keyed by the letters in vocabulary order: the
    rows' answers depend on which letters there are, not on their order)."""
    from model_src import prepare

    data = prepare.sort_data()
    meta = data.meta
    itos, prompt_len = meta["itos"], meta["prompt_len"]
    rows = [[itos[int(i)] for i in row] for row in _rows(data)]
    prompts = [row[:prompt_len] for row in rows]
    letters = [itos[i] for i in sorted(meta["stoi"][c] for c in {c for p in prompts for c in p})]
    answers = {}
    for row in rows:
        key = "".join(sorted(row[:prompt_len], key=meta["stoi"].get))
        answer = "".join(row[prompt_len:])
        if answers.setdefault(key, answer) != answer:
            raise ValueError(f"the sort rows answer {key} two ways")
    lengths = sorted({len(p) for p in prompts})
    return {
        "about": f"sorts of {_either(lengths)} letters from {', '.join(letters)}",
        "unit": "letters",
        "lengths": lengths,
        "letters": letters,
        "answers": answers,
    }


def _rows(data):
    """Every sort row, train and held-out: the held-out ones are the same task."""
    import numpy as np

    seq_len = data.meta["seq_len"]
    return np.concatenate([data.train, data.val]).reshape(-1, seq_len)


@functools.cache
def char_limits() -> dict:
    """The plays: any text in the vocabulary is the kind of text the model read."""
    from model_src import shakespeare

    return {"about": f"{len(shakespeare.PLAYS)} of Shakespeare's plays, a token per character"}


TRAINING_SAMPLE = 64  # calculator prompts drawn from training's own batches to read the form


@functools.cache
def calculator_limits() -> dict:
    """The form of the prompts arithmetic.py trains on, drawn from its own batches: the
    same text with every digit a slot ("000+000="), and one real prompt as the example."""
    import torch

    from model_src import arithmetic

    draw = arithmetic.batches(tool=True, batch_size=TRAINING_SAMPLE)
    x, _ = draw("train", torch.Generator().manual_seed(0))
    texts = [arithmetic.TOKENIZER.decode(row.tolist()) for row in x]
    prompts = [text[: text.index("=") + 1] for text in texts]
    forms = {re.sub("[0-9]", "0", prompt) for prompt in prompts}
    if len(forms) != 1:
        raise ValueError(f"arithmetic's prompts come in several forms: {sorted(forms)}")
    (form,) = forms
    digits = sorted({len(run) for run in re.findall("[0-9]+", form)})
    numbers = len(re.findall("[0-9]+", form))
    return {
        "about": f"problems like {prompts[0]} ({numbers} numbers of exactly "
        f"{_either(digits)} digits each)",
        "unit": "characters",
        "template": form,
    }


def chat_limits(run: str) -> dict:
    """A fine-tuning run (its slug) and the runs it starts from (finetune_runs.RUNS): each
    request they were fine-tuned on, with the letter counts and letters of its training
    conversations. The about says the run's own requests first, then those it learned
    before ("# requests of 11 letters, after ↑ requests of 6 in the chat run")."""
    from model_src import chat
    from model_src.experiments import finetune_runs, runner

    name = {runner.slug(name): name for name in finetune_runs.RUNS}[run]
    own = sorted(finetune_runs.RUNS[name]["mix"], key=list(chat.TASKS).index)
    requests = {request: _request_limits(request) for request in own}
    about = _requests_text(requests)
    start = finetune_runs.RUNS[name]["start"]
    while start in finetune_runs.RUNS:  # back to the sort model ("base")
        earlier = [r for r in finetune_runs.RUNS[start]["mix"] if r not in requests]
        requests.update((request, _request_limits(request)) for request in earlier)
        if earlier:
            about += (
                f", after {_requests_text({r: requests[r] for r in earlier})} in the {start} run"
            )
        start = finetune_runs.RUNS[start]["start"]
    letters = sorted({c for r in requests.values() for c in r["letters"]}, key=chat.STOI.get)
    return {"about": f"{about}, all from {', '.join(letters)}", "requests": requests}


def _requests_text(requests: dict) -> str:
    """ "↑ requests of 6 letters and # requests of 11"."""
    said = [f"{r} requests of {_either(limits['lengths'])}" for r, limits in requests.items()]
    said[0] += " letters"
    return " and ".join(said)


@functools.cache
def _request_limits(request: str) -> dict:
    """The letters of a request's training conversations: how many, and which."""
    from model_src import chat, finetune

    texts = finetune.letters(request, "train")
    return {
        "unit": "letters",
        "lengths": sorted({len(text) for text in texts}),
        "letters": sorted({c for text in texts for c in text}, key=chat.STOI.get),
    }


def _either(numbers: list[int]) -> str:
    """6, or "6 or 11": every count training had."""
    return " or ".join(map(str, numbers))


# --- the check, for the static rendering (nanobook_widgets.js makes the same in the page) ---

NOTE = "Outside its training: the model learned from {about}, and {reason}. Expect nonsense."


def note(limits: dict | None, text: str) -> str | None:
    """The line under the reply when ``text`` is outside ``limits``, or None: the page's
    (tests/test_off_distribution.py checks the two say the same on many inputs)."""
    reason = off_distribution(limits, text)
    return NOTE.format(about=limits["about"], reason=reason) if reason else None


def off_distribution(limits: dict | None, text: str) -> str | None:
    """Why ``text`` is outside ``limits``, or None (nanobook_widgets.js, offDistribution)."""
    if not limits:
        return None
    chars = list(text)
    if "requests" in limits:
        request = limits["requests"].get(chars[0]) if chars else None
        return _letters_problem(request, chars[1:]) if request else f"{text[:1]} was never asked"
    if "template" in limits:
        return _form_problem(limits["template"], text)
    return _letters_problem(limits, chars) if "lengths" in limits else None


def _runs(text: str) -> list[str]:
    """Each number whole, every other character alone: "12+5=" -> 12 + 5 =."""
    return re.findall("[0-9]+|[^0-9]", text)


def _is_number(run: str) -> bool:
    return re.match("[0-9]", run) is not None


def _form_problem(template: str, text: str) -> str | None:
    want, got = _runs(template), _runs(text)
    number = _is_number
    same = len(want) == len(got) and all(
        number(g) if number(w) else w == g for w, g in zip(want, got, strict=True)
    )
    if not same:
        return f"“{text}” is not in that form ({template})"
    long = [g for w, g in zip(want, got, strict=True) if number(g) and len(g) != len(w)]
    return f"“{long[0]}” has {len(long[0])} digits" if long else None


def _letters_problem(limits: dict, chars: list[str]) -> str | None:
    strange = list(dict.fromkeys(c for c in chars if c not in limits["letters"]))
    if strange:
        return f"{', '.join(f'“{c}”' for c in strange)} never appeared"
    most = max(limits["lengths"])
    if len(chars) in limits["lengths"]:
        return None
    if len(chars) < most or "answers" not in limits:
        return f"this one has {len(chars)} {limits['unit']}"
    key = "".join(sorted(chars[:most], key=limits["letters"].index))
    answer = limits["answers"].get(key, "")
    after = "".join(chars[most:])
    if len(after) <= len(answer) and answer.startswith(after):
        return None
    return (
        f"after {most} {limits['unit']} training always showed their answer “{answer}”, "
        f"never “{after}”"
    )
