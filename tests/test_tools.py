"""The tool-using sampling loop (model_src/engine.py) and the addition data (arithmetic.py)."""

import pytest
import torch

from model_src import arithmetic, engine
from model_src.engine import ERROR, MAX_RESULT, calculate
from model_src.experiments import arithmetic_runs, seeds, verdicts
from model_src.model import GPT

TOKENS = arithmetic.TOKENIZER


@pytest.mark.parametrize(
    "expression, result",
    [("123+045", "168"), ("7-10", "-3"), ("-5+2", "-3"), ("0", "0"), ("999999+0", "999999")],
)
def test_the_calculator_adds_and_subtracts(expression, result):
    assert calculate(expression) == (result, None)


@pytest.mark.parametrize(
    "expression",
    [
        "",
        "+",
        "12+",
        "1++2",
        "12=3",
        "1<2",
        "ER",
        "1234567+1",
        "(1+2)",
        "1 + 2",
        "__import__('os')",
    ],
)
def test_a_malformed_call_is_an_error_not_an_exception(expression):
    result, error = calculate(expression)
    assert result == ERROR and error


def test_overflow_is_an_error():
    assert calculate(f"{MAX_RESULT}+1") == (ERROR, f"overflow: |{MAX_RESULT + 1}| > {MAX_RESULT}")
    assert calculate(f"-{MAX_RESULT}-{MAX_RESULT}")[0] == ERROR
    assert calculate(f"{MAX_RESULT}+0") == (str(MAX_RESULT), None)


def test_every_calculator_answer_is_in_the_vocabulary():
    for expression in ("999+999", "0-999999", "9" * 7, "", "1+"):
        TOKENS.encode(calculate(expression)[0])  # raises if not


def test_unknown_characters_are_refused_with_the_vocabulary_named():
    with pytest.raises(ValueError, match="outside the vocabulary"):
        TOKENS.encode("12*3=")


class Scripted(torch.nn.Module):
    """A stand-in model that writes a fixed text, one token per call: its logits put all
    weight on the script's next token, whatever the context (forced tokens included)."""

    def __init__(self, script: str, block_size: int = arithmetic.BLOCK_SIZE):
        super().__init__()
        self.config = arithmetic.gpt_config()
        self.config.block_size = block_size
        self.script, self.calls = TOKENS.encode(script), 0

    def forward(self, idx, targets=None):
        logits = torch.full((idx.size(0), 1, len(TOKENS.vocab)), -1e9)
        logits[:, :, self.script[min(self.calls, len(self.script) - 1)]] = 0.0
        self.calls += 1
        return logits, None


def scripted(script: str, prompt: str = "1+2=", tool=calculate, **options) -> engine.Completion:
    return engine.complete(Scripted(script), TOKENS, prompt, tool=tool, use_cache=False, **options)


def test_a_call_is_answered_and_its_result_forced_in():
    # the script's tokens at the forced positions ("999") are ignored: the loop writes "3"
    done = scripted("<1+2>9.")
    assert done.text == "1+2=<1+2>3."
    assert [c for c, f in zip(done.text, done.forced, strict=True) if f] == ["3"]
    assert done.calls == [engine.Call("1+2", "3", None)]


def test_a_malformed_call_gets_the_error_text_and_the_loop_goes_on():
    done = scripted("<1+=>111.")
    assert done.text == "1+2=<1+=>ERR."
    assert done.calls[0].result == ERROR and "cannot read" in done.calls[0].error


def test_an_overflowing_call_gets_the_error_text():
    done = scripted("<999999+1>1111.", prompt="1=")
    assert done.text == "1=<999999+1>ERR1."
    assert done.calls[0].error.startswith("overflow")


def test_a_tool_that_raises_or_answers_outside_the_vocabulary_is_an_error():
    def broken(expression):
        raise ZeroDivisionError("no")

    assert scripted("<1>1.", tool=broken).text == "1+2=<1>ERR."
    assert scripted("<1>1.", tool=lambda e: ("x", None)).calls[0].result == ERROR


def test_with_the_tool_off_a_call_is_plain_text():
    done = scripted("<1+2>4.", tool=None)
    assert done.text == "1+2=<1+2>4." and not any(done.forced) and not done.calls


def test_a_close_without_an_open_and_a_nested_open_are_not_calls():
    assert scripted(">1.").text == "1+2=>1."  # no call was open
    done = scripted("<1<2>1.")  # "<" inside a call is part of its text: the calculator refuses
    assert done.calls[0].expression == "1<2" and done.calls[0].result == ERROR


def test_the_loop_stops_at_the_context_length_even_mid_answer():
    model = Scripted("<999+999>", block_size=12)
    done = engine.complete(model, TOKENS, "1=", use_cache=False)
    assert done.text == "1=<999+999>1"  # the answer "1998" cut at block_size
    assert len(done.ids) == 12 and done.forced[-1]


def test_prompts_of_one_batch_must_have_one_length():
    with pytest.raises(ValueError, match="same number of tokens"):
        engine.complete_all(Scripted("."), TOKENS, ["1=", "12="], use_cache=False)


def test_the_kv_cache_changes_nothing_but_the_work():
    """A random model, sampled at temperature 1 with the tool on: the same tokens, forced
    ones included, with and without the cache."""
    torch.manual_seed(0)
    model = GPT(arithmetic.gpt_config()).eval()
    prompts = [arithmetic.prompt(a, b) for a, b in [(1, 2), (999, 999), (123, 45), (0, 0)]]

    def sample(use_cache):
        generator = torch.Generator().manual_seed(7)
        return engine.complete_all(
            model, TOKENS, prompts, temperature=1.0, generator=generator, use_cache=use_cache
        )

    cached, plain = sample(True), sample(False)
    assert [s.ids for s in cached] == [s.ids for s in plain]
    assert [s.forced for s in cached] == [s.forced for s in plain]


def test_the_kv_cache_agrees_on_a_forced_answer():
    """Greedy with a scripted call in a real model's context: the cached logits at every
    step equal the uncached ones (the forced tokens are in the cache)."""
    torch.manual_seed(0)
    model = GPT(arithmetic.gpt_config()).eval()
    ids = torch.tensor([TOKENS.encode("123+045=<123+045>168.")])
    full, _ = model(ids, ids)  # logits at every position
    cache, steps = None, []
    for t in range(ids.size(1)):
        logits, cache = engine.kv_cache.forward(model, ids[:, t : t + 1], cache)
        steps.append(logits[0, -1])
    torch.testing.assert_close(torch.stack(steps), full[0], rtol=1e-5, atol=1e-5)


def test_training_rows_mask_the_prompt_and_the_forced_sum():
    x, y = arithmetic.row(123, 45, tool=True)
    text = "123+045=<123+045>168."
    assert TOKENS.decode(x[: len(text)]) == text and len(x) == arithmetic.BLOCK_SIZE
    scored = "".join(TOKENS.vocab[t] if t >= 0 else "_" for t in y)
    # targets: the call and the STOP after the sum; never the prompt, never "168"
    assert scored == "_" * 7 + "<123+045>" + "___" + "." + "_" * 4
    x, y = arithmetic.row(123, 45, tool=False)
    assert "".join(TOKENS.vocab[t] if t >= 0 else "_" for t in y) == "_" * 7 + "168." + "_" * 13


def test_training_batches_never_hold_a_held_out_problem():
    test = {tuple(pair) for pair in arithmetic.held_out().tolist()}
    draw = arithmetic.batches(tool=False, batch_size=512)
    generator = torch.Generator().manual_seed(0)
    for _ in range(4):
        x, _ = draw("train", generator)
        for row in x.tolist():
            a, b = TOKENS.decode(row[:7]).split("+")
            assert (int(a), int(b)) not in test
    assert len(test) == arithmetic.HELD_OUT


@pytest.mark.parametrize(
    "text, answer",
    [("123+045=<123+045>168.", "168"), ("123+045=168.", "168"), ("1+2=<1+2>>.", ""),
     ("1+2=<1+2>ERR.", "ERR"), ("1+2=33", "")],
)  # fmt: skip
def test_the_answer_read_from_a_completion(text, answer):
    assert arithmetic.result(text) == answer


def test_both_models_are_trained_with_every_seed_so_the_chapter_can_pair_them():
    """Tool on against tool off, and the calculator model against the plain one, are
    compared seed by seed (verdicts.paired): both models with each of the seeds."""
    assert len(arithmetic_runs.SEEDS) >= verdicts.MIN_SEEDS
    assert seeds.seeds(len(arithmetic_runs.SEEDS)) == arithmetic_runs.SEEDS
    expected = {(name, seed) for name in arithmetic_runs.RUNS for seed in arithmetic_runs.SEEDS}
    assert set(arithmetic_runs.EXPERIMENT.entries()) == expected
