"""arch-diagram: drawings of the live model, checked against the model itself."""

from __future__ import annotations

import html
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from bs4 import BeautifulSoup
from sphinx.errors import ConfigError
from sphinx.util.console import strip_colors

from buildlib import processes
from ext._core import Problem
from ext.arch_diagram import DRAWN, draw, draw_diagram, plain_lines, told_parts
from ext.arch_diagram.request import parse
from model_src import modern, ngpt, presets, probe, train, visible
from model_src.model import GPT

REPO = Path(__file__).resolve().parent.parent
# The arch-diagram root's builds keep their diagrams in one store, so each is drawn once
# (a drawing starts torch in a process of its own: seconds of CPU) and the builds after
# the first read it. Relative to a build's srcdir: beside it, in sphinx_test_tempdir.
SHARED_DIAGRAMS = "arch-diagram-cache"
SHARED_CACHE = {"nanobook_cache_dir": f"../{SHARED_DIAGRAMS}"}
# The html build of that root, made once for the tests that only read it
HTML_BUILD = {"shared_result": "arch-diagram-html"}
# Llama's five switches, as the After GPT-2 chapter draws them (its variant "all five")
LLAMA = dict(bias=False, rmsnorm=True, swiglu=True, rope=True, n_kv_head=1)

# name -> (target, options): one regression file each, tests/test_arch_diagram/<name>.txt
DIAGRAMS = {
    "gpt_sort": ("model_src.model:GPT", {"config": "sort"}),
    "gpt_sort_attention_focus": (
        "model_src.model:GPT",
        {"config": "sort", "focus": "transformer.h.0.attn"},
    ),
    "block_sort": ("model_src.model:Block", {"config": "sort"}),
    "attention_sort": ("model_src.model:CausalSelfAttention", {"config": "sort"}),
    "mlp_sort": ("model_src.model:MLP", {"config": "sort"}),
    "layernorm_sort": ("model_src.model:LayerNorm", {"config": "sort"}),
    "gpt_overrides": (
        "model_src.model:GPT",
        {"config": "sort,n_layer=1,n_head=2,n_embd=32", "depth": "3", "input": "2x5"},
    ),
    "optimizer_sort": ("optimizer", {"config": "sort"}),
    "get_batch_sort": ("get_batch", {"config": "sort"}),
    "tokenizer_sort": ("tokenizer", {"config": "sort"}),
    "generate_sort": ("generate", {"config": "sort,top_k=2"}),
    # as the nGPT chapter draws it
    "ngpt_sort_block_focus": (
        "model_src.ngpt:NGPT",
        {"config": "sort,bias=False", "focus": "transformer.h.0", "depth": "2", "input": "1x11"},
    ),
    # as the After GPT-2 chapter draws it: Llama's five switches, ModernConfig's own fields
    "modern_llama_block_focus": (
        "model_src.modern:ModernGPT",
        {
            "config": ",".join(["sort", *(f"{k}={v}" for k, v in LLAMA.items())]),
            "focus": "transformer.h.0",
            "depth": "1",
            "input": "1x11",
        },
    ),
}
# The char corpus is cleaned from a pinned package by our own rules, which may still
# change: these are checked for what they must say, not byte for byte.
CHAR_DIAGRAMS = {
    "gpt_char": ("model_src.model:GPT", {"config": "char", "depth": "3"}),
    "get_batch_char": ("get_batch", {"config": "char", "input": "2x16"}),
    "tokenizer_char": ("tokenizer", {"config": "char"}),
}


def drawing(target: str, **options) -> str:
    return draw_diagram(parse(target, **options)).text


@pytest.fixture(scope="module")
def drawings() -> dict[str, str]:
    every = {**DIAGRAMS, **CHAR_DIAGRAMS}
    return {name: drawing(target, **options) for name, (target, options) in every.items()}


def sort_model() -> GPT:
    return GPT(presets.gpt_config("sort")).eval()


# --- what the diagrams say ------------------------------------------------------------------


@pytest.mark.parametrize("name", DIAGRAMS)
def test_diagram_text_is_stable(name, drawings, file_regression):
    file_regression.check(drawings[name], basename=name, extension=".txt")


@pytest.mark.parametrize("name", [*DIAGRAMS, *CHAR_DIAGRAMS])
def test_diagrams_fit_in_80_columns(name, drawings):
    assert max(len(line) for line in drawings[name].splitlines()) <= draw.MAX_WIDTH


ROW = re.compile(r"^ *(?P<join>\(\+\)◄─ )?(?P<name>[\w.…]+)  .*?(?P<count>[\d,]+)\*?$")


def rows(text: str) -> dict[str, tuple[int, str]]:
    """name -> (parameter count, output shape) of every module row of a frameless drawing:
    the shape is on the edge below, or after the arrow for a side input."""
    lines = [re.sub(r"\s+│$", "", line) for line in text.splitlines()]
    found = {}
    for index, line in enumerate(lines):
        if match := ROW.match(line):
            if match["join"]:
                shape = line.partition("→ ")[2].split()[0]
            else:
                shape = lines[index + 1].strip().removeprefix("│").strip()
            found[match["name"]] = (int(match["count"].replace(",", "")), shape)
    return found


def params(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def sort_model_outputs() -> tuple[GPT, dict[str, torch.Tensor]]:
    """The sort model and, by module path, what its first call returned on the sample."""
    model, outputs = sort_model(), {}
    for path, module in model.named_modules():
        module.register_forward_hook(lambda m, i, out, path=path: outputs.setdefault(path, out))
    idx = presets.sample_input("sort")
    with torch.no_grad():
        model(idx, idx)
    return model, outputs


@pytest.mark.parametrize(
    ("focus", "names"),
    [
        (
            "",
            [
                "transformer.wte",
                "transformer.wpe",
                "transformer.drop",
                "transformer.h.0…2",
                "transformer.ln_f",
                "lm_head",
            ],
        ),
        ("transformer.h.0", ["ln_1", "attn", "ln_2", "mlp"]),
        ("transformer.h.0.attn", ["c_attn", "c_proj", "resid_dropout"]),
        ("transformer.h.0.mlp", ["c_fc", "gelu", "c_proj", "dropout"]),
    ],
)
def test_counts_and_shapes_are_the_models(focus, names):
    model, outputs = sort_model_outputs()
    target = (
        f"model_src.model:{type(model.get_submodule(focus)).__name__}"
        if focus
        else "model_src.model:GPT"
    )
    shown = rows(drawing(target, config="sort", depth="1"))
    assert list(shown) == names
    for name, (count, edge) in shown.items():
        path = ".".join(filter(None, [focus, name.replace("…2", "")]))
        if name.endswith("…2"):  # the three blocks, drawn once
            module, path = model.transformer.h, "transformer.h.2"
        else:
            module = model.get_submodule(path)
        assert count == params(module), name
        if edge:  # the last row's shape is the output label's
            assert edge == "×".join(map(str, outputs[path].shape)), name


@pytest.mark.parametrize("preset", ["sort", "char"])
def test_header_total_is_every_parameter_once(preset, drawings):
    model = GPT(presets.gpt_config(preset))
    total = sum(p.numel() for p in model.parameters())  # the tied matrix once
    text = drawings[f"gpt_{preset}"]
    assert text.startswith(f"GPT · preset {preset} · {total:,} parameters\n")
    assert "lm_head.weight is transformer.wte.weight (tied)" in text
    config = presets.gpt_config(preset)
    block = sum(p.numel() for p in model.transformer.h[0].parameters())
    assert f"Block ×{config.n_layer} ─── {config.n_layer} × {block:,} = " in text


def test_attention_shows_the_real_q_k_v_and_attention_matrix(drawings):
    model = sort_model()
    idx = presets.sample_input("sort")
    attn = model.transformer.h[0].attn
    qkv = []
    attn.c_attn.register_forward_hook(lambda m, i, out: qkv.append(out))
    with torch.no_grad(), probe.attention_maps(model) as maps:
        model(idx)
    B, T, C3 = qkv[0].shape
    q = qkv[0].split(C3 // 3, dim=2)[0].view(B, T, attn.n_head, -1).transpose(1, 2)
    text = drawings["gpt_sort_attention_focus"]
    assert re.search(rf"q, k, v: {'×'.join(map(str, q.shape))}\s", text)
    assert re.search(rf"att: {'×'.join(map(str, maps[0].shape))}\s", text)
    assert "1×3×11×16" in text and "1×3×11×11" in text


def test_blocks_are_drawn_once_with_their_count_and_residuals(drawings):
    text = drawings["gpt_sort"]
    assert text.count("Block ×3") == 1
    assert text.count("(+)◄") == 3  # the embeddings' sum and the block's two residuals
    assert "┐" in text and "┘" in text


def test_focus_expands_the_path_and_keeps_the_rest(drawings):
    text = drawings["gpt_sort_attention_focus"]
    assert re.search(r"┌─+┴─ transformer\.h\.0  Block ─", text)  # on the path: a frame
    assert re.search(r"\n +transformer\.h\.1…2 +Block ×2 ", text)  # the other blocks: a row
    assert re.search(r"\n│ +mlp +MLP ", text)  # a sibling of the focus: a row in the frame


def test_a_layout_the_trace_does_not_confirm_is_drawn_as_a_plain_chain(monkeypatch):
    monkeypatch.delattr(torch.nn.functional, "scaled_dot_product_attention")  # by hand
    request = parse("model_src.model:GPT", config="sort", focus="transformer.h.0.attn")
    drawn = draw_diagram(request)
    assert "q, k, v" not in drawn.text and "†" not in drawn.text  # nothing the run did not do
    assert re.search(r"\n│ │ attn_dropout +Dropout\(0\.0\) ", drawn.text)  # the calls, in order
    assert drawn.notes == [
        "transformer.h.0.attn: the forward pass does not match the CausalSelfAttention layout "
        "(found no fused attention kernel, F.scaled_dot_product_attention); "
        "drawn as a plain chain of its calls"
    ]


# --- nGPT: the sphere's steps on the path, the learned scales beside it ---------------------


def ngpt_sort_model() -> ngpt.NGPT:
    config = presets.gpt_config("sort")
    config.bias = False
    return ngpt.NGPT(ngpt.NGPTConfig(**vars(config))).eval()


def test_ngpt_draws_every_learned_scale_beside_the_path(drawings):
    text = drawings["ngpt_sort_block_focus"]
    scales = {
        path.rpartition(".")[2]
        for path, module in ngpt_sort_model().named_modules()
        if isinstance(module, ngpt.Scale)
        and not path.startswith(("transformer.h.1", "transformer.h.2"))
    }
    assert scales == {"alpha_a", "alpha_m", "s_qk", "s_u", "s_v", "s_z"}
    for name in scales:
        shown = [line for line in text.splitlines() if re.search(rf"\b{name}\b", line)]
        # one row each, joined to the path by a multiply: data never flows through a scale
        assert len(shown) == 1, name
        assert re.search(rf"\(×\)◄─ {name} +Scale\(\d+\) → \d+ ", shown[0]), shown[0]


SPHERE_STEP = re.compile(
    r"(?P<unit>unit\(·\) +to length 1)|(?P<sub>\(−\)◄)|\(×\)◄─ (?P<alpha>alpha_\w)"
    r"|(?P<add>\(\+\)◄)|┴─ (?P<sublayer>attn|mlp) "
)


def test_ngpt_block_moves_along_the_sphere_step_by_step(drawings):
    text = drawings["ngpt_sort_block_focus"]
    steps = []
    for line in text.splitlines():
        if found := SPHERE_STEP.search(line):
            kind, value = next((k, v) for k, v in found.groupdict().items() if v)
            steps.append(value if kind in ("alpha", "sublayer") else kind)
    # h = unit(h + alpha() * (unit(sublayer(h)) - h)), for attention and then the MLP
    assert steps == [
        *("attn", "unit", "sub", "alpha_a", "add", "unit"),
        *("mlp", "unit", "sub", "alpha_m", "add", "unit"),
    ]
    # and inside attention: queries and keys onto the sphere, per head, before they meet
    assert re.search(r"unit\(·\) +q and k, each head's.*\n.*\n.*\n.*\(×\)◄─ s_qk ", text)
    assert "q·kᵀ·√16, causal mask" in text  # the kernel was given scale=√hs, not 1/√hs


def test_ngpt_mlp_draws_its_halves_and_the_gate_between_c_fc_and_c_proj(drawings):
    text = drawings["ngpt_sort_block_focus"]
    model = ngpt_sort_model()
    hidden, width = model.transformer.h[0].mlp.hidden, model.config.n_embd
    idx = presets.sample_input("sort")
    half = f"1×{idx.size(1)}×{hidden}"
    mlp = text[text.index("mlp  NormMLP") : text.index("c_proj", text.index("mlp  NormMLP"))]
    expected = [
        "c_fc",
        "split in two: u and v",
        f"u, v: {half}",
        "(×)◄─ s_u ",
        f"u: {half}",
        "(×)◄─ s_v ",
        f"v: {half}",
        f"u × SiLU(v × √{width})",  # the constant read from the run: the code's sqrt_C
    ]
    at = 0
    for part in expected:  # each after the one before
        at = mlp.find(part, at)
        assert at >= 0, f"{part!r} missing, or out of order, in:\n{mlp}"
        at += len(part)


def test_a_norm_mlp_without_the_gate_is_drawn_as_its_calls(monkeypatch):
    def ungated(self, h):  # both halves scaled, multiplied with no SiLU
        u, v = self.c_fc(h).split(self.hidden, dim=-1)
        return self.c_proj(u * self.s_u() * v * self.s_v())

    monkeypatch.setattr(ngpt.NormMLP, "forward", ungated)
    request = parse("model_src.ngpt:NGPT", config="sort,bias=False", focus="transformer.h.0")
    drawn = draw_diagram(request)
    assert "SiLU" not in drawn.text
    assert [note.partition(" (")[0] for note in drawn.notes] == [
        "transformer.h.0.mlp: the forward pass does not match the NormMLP layout"
    ]


def test_ngpt_ends_in_logits_and_loss_like_gpt(drawings):
    model = ngpt_sort_model()
    idx = presets.sample_input("sort")
    with torch.no_grad():
        logits, _ = model(idx, idx)
    text = drawings["ngpt_sort_block_focus"]
    shape = "×".join(map(str, logits.shape))
    assert text.rstrip().splitlines()[-3] == f"    logits {shape} · loss scalar"
    assert "cross_entropy(logits, targets" in text and "output" not in text
    block = sum(p.numel() for p in model.transformer.h[0].parameters())
    assert "NormBlock ─" in text and f" {block:,} ─┐" in text
    assert text.startswith(f"NGPT · preset sort, bias=False · {params(model):,} parameters\n")


def test_a_modern_switch_in_config_draws_the_module_it_switches_on(drawings):
    text = drawings["modern_llama_block_focus"]
    model = modern.ModernGPT(modern.ModernConfig(**{**vars(presets.gpt_config("sort")), **LLAMA}))
    total = sum(p.numel() for p in model.parameters())
    assert text.startswith(f"ModernGPT · preset sort, bias=False · {total:,} parameters\n")
    assert "\nn_kv_head=1 rmsnorm=True rope=True swiglu=True\n" in text  # the own fields set
    assert text.count("RMSNorm(48)") == 3 and "LayerNorm" not in text  # ln_1, ln_2, ln_f
    assert re.search(r"\n│ +mlp +SwiGLU +[\d,]+ ", text)
    assert "wpe" not in text  # RoPE: no position table
    attn = model.transformer.h[0].attn.c_attn  # one key/value head: C + 2·hs outputs
    assert attn.out_features == 48 + 2 * 16
    assert text.count("(+)◄") == 2  # the block's two residuals, drawn as GPT's Block


def test_ngpt_with_a_position_table_puts_the_sum_back_on_the_sphere():
    from ext.arch_diagram.modules import Planner
    from ext.arch_diagram.trace import trace

    config = presets.gpt_config("sort")
    config.bias = False
    model = ngpt.NGPT(ngpt.NGPTConfig(**vars(config), wpe=True)).eval()
    idx = presets.sample_input("sort")
    planner = Planner(model, depth=1)
    text = draw.render([], planner.plan(trace(model, (idx, idx))))
    assert planner.notes == []
    assert re.search(r"\(\+\)◄─ transformer\.wpe .*\n.*\n *▼\n *unit\(·\) +to length 1\n", text)


def test_an_ngpt_block_that_does_not_interpolate_is_drawn_as_its_calls(monkeypatch):
    def add_instead(self, h):  # GPT's residual: no step along the sphere
        h = ngpt.unit(h + self.attn(h))
        return ngpt.unit(h + self.mlp(h))

    monkeypatch.setattr(ngpt.NormBlock, "forward", add_instead)
    request = parse("model_src.ngpt:NGPT", config="sort,bias=False", focus="transformer.h.0")
    drawn = draw_diagram(request)
    assert "(−)◄" not in drawn.text and "alpha_a" not in drawn.text  # never called: not drawn
    assert [note.partition(" (")[0] for note in drawn.notes] == [
        "transformer.h.0: the forward pass does not match the NormBlock layout"
    ]


def test_pipeline_diagrams_use_the_live_numbers(drawings):
    model = sort_model()
    optimizer = model.configure_optimizers(0.1, 1e-2, (0.9, 0.99), "cpu")
    for index, group in enumerate(optimizer.param_groups):
        tensors = group["params"]
        assert (
            f"group {index}: weight_decay={group['weight_decay']} · " in drawings["optimizer_sort"]
        )
        assert (
            f"{len(tensors)} tensors · {sum(p.numel() for p in tensors):,}\n"
            in drawings["optimizer_sort"]
        )
    itos = presets.dataset("sort").meta["itos"]
    assert (
        f"itos (id → character): {'  '.join(f'{i} {c}' for i, c in itos.items())}"
        in drawings["tokenizer_sort"]
    )
    batch_size = train.resolve_config(presets.config_file("sort"))["batch_size"]
    assert f"x {batch_size}×11 int64" in drawings["get_batch_sort"]  # the sort run's
    assert "context 1×6 … 1×11" in drawings["generate_sort"]
    assert "idx 1×7 … 1×12" in drawings["generate_sort"]
    assert "top-k, k = min(2, 3): below the k-th best" in drawings["generate_sort"]
    assert "top-p: off (top_p=None), every id stays possible" in drawings["generate_sort"]


def test_a_told_loop_says_which_lines_repeat(drawings):
    """Without the rail, a screen reader hears where generate's loop begins and ends: the
    lines between are the ones each new token runs."""
    said = plain_lines(drawings["generate_sort"])
    start = said.index("loop: each pass runs the lines from here to the loop's end")
    end = said.index("loop's end: back to its first line, ×6 (max_new_tokens)")
    assert said[start + 1] == "idx[:, -11:]: crop to block_size"
    assert said[end - 1] == "idx 1×7 … 1×12" and said[end + 1] == "idx 1×12"


def test_generate_draws_the_top_p_cut_it_samples_with():
    """top_p, like top_k, is one of generate's settings: the header and the loop's stage
    say the p the traced run sampled with."""
    drawn = drawing("generate", config="sort,top_p=0.9")
    assert "top_k=None top_p=0.9" in drawn
    assert "top-p, p = 0.9: beyond the likeliest holding p → −inf" in drawn
    assert "top-k: off (top_k=None)" in drawn


def test_char_tokens_decode_with_the_live_vocabulary(drawings):
    itos = presets.dataset("char").meta["itos"]
    lines = drawings["tokenizer_char"].splitlines()
    ids = next(line for line in lines if line.startswith(" ids")).split()[1:]
    chars = next(line for line in lines if line.startswith(" text")).split()[1:]
    assert [visible.token(itos[int(i)]) for i in ids] == chars


def test_get_batch_rows_are_one_position_apart(drawings):
    lines = drawings["get_batch_char"].splitlines()
    x = next(line for line in lines if line.strip().startswith("x[0]"))
    y = next(line for line in lines if line.strip().startswith("y[0]"))
    # y is printed one cell to the right: each column holds one token of the window
    xs, ys = x.split()[1:], y.split()[1:]
    assert xs[1:] == ys[: len(xs) - 1]


def test_drawing_is_deterministic(drawings):
    target, options = DIAGRAMS["gpt_sort_attention_focus"]
    assert drawing(target, **options) == drawings["gpt_sort_attention_focus"]
    target, options = DIAGRAMS["generate_sort"]
    assert drawing(target, **options) == drawings["generate_sort"]


@pytest.mark.parametrize(
    ("target", "options", "reason", "hint"),
    [
        ("model_src.nothing:GPT", {}, "cannot import 'model_src.nothing:GPT'", "module.path:Name"),
        ("model_src.model:GPTConfig", {}, "not a torch.nn.Module", "optimizer"),
        ("model_src.model:GPT", {"config": "huge"}, "unknown preset 'huge'", "sort, char"),
        (
            "model_src.model:GPT",
            {"config": "sort,n_layers=2"},
            "unknown config key 'n_layers'",
            "n_layer",
        ),
        ("model_src.model:GPT", {"config": "sort,n_layer=two"}, "n_layer expects int", "3"),
        (  # a model's own config class: its fields are listed too
            "model_src.modern:ModernGPT",
            {"config": "sort,rmsnrom=True"},
            "unknown config key 'rmsnrom'",
            "bias; ModernConfig's own: rmsnorm, swiglu, rope, n_kv_head",
        ),
        (
            "model_src.modern:ModernGPT",
            {"config": "sort,rmsnorm=1"},
            "config key rmsnorm expects bool, got 1",
            "ModernConfig's value for preset sort is False",
        ),
        ("model_src.modern:ModernGPT", {"config": "sort,wpe=None"}, "wpe expects bool", "True"),
        ("model_src.model:GPT", {"config": "sort,rmsnorm=True"}, "unknown config key", "bias"),
        ("optimizer", {"config": "sort,rmsnorm=True"}, "unknown config key 'rmsnorm'", "bias"),
        ("generate", {"config": "sort,temperature=0"}, "temperature is a number above 0", "1"),
        ("generate", {"config": "sort,top_k=many"}, "top_k is a whole number", "every token"),
        ("generate", {"config": "sort,max_new_tokens=0"}, "at least 1", "leave it out"),
        ("generate", {"config": "sort,top_p=1.5"}, "top_p is a number above 0, at most 1", "every"),
        (
            "model_src.model:GPT",
            {"config": "sort", "focus": "transformer.h.0.atn"},
            "no submodule transformer.h.0.atn",
            "ln_1, attn, ln_2, mlp",
        ),
        (
            "model_src.model:GPT",
            {"config": "sort", "focus": "transformer.h"},
            "never called",
            "transformer.h.0",
        ),
        (
            "model_src.model:GPT",
            {"config": "sort", "input": "1x12"},
            "longer than block_size 11",
            "1x11",
        ),
        ("model_src.model:GPT", {"config": "sort,n_head=5"}, "n_embd=48 is not divisible", None),
        ("model_src.model:GPT", {"input": "eleven"}, "not batch x time", "1x11"),
        ("model_src.model:GPT", {"depth": "-1"}, "not a whole number from 1 to", "e.g. :depth: 2"),
        ("model_src.model:GPT", {"config": "sort,char"}, "two presets", None),
        ("GPT", {}, "neither module.path:Name nor a diagram kind", "get_batch"),
    ],
)
def test_errors_say_why_and_what_to_do(target, options, reason, hint):
    with pytest.raises(Problem) as caught:
        drawing(target, **options)
    assert reason in caught.value.message
    if hint:
        assert hint in caught.value.hint


# --- the command line -------------------------------------------------------------------------


def cli(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "ext.arch_diagram", *args],
        cwd=cwd,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        encoding="utf-8",
        check=False,
    )


def test_cli_help_lists_the_options():
    result = cli("--help")
    assert result.returncode == 0
    for option in ("--config", "--focus", "--depth", "--input", "optimizer"):
        assert option in result.stdout


def test_cli_prints_the_same_drawing_as_the_directive(drawings):
    result = cli("model_src.model:GPT", "--config", "sort", "--focus", "transformer.h.0.attn")
    assert result.returncode == 0, result.stderr
    assert result.stdout == drawings["gpt_sort_attention_focus"]  # another process, same bytes


def test_cli_reports_errors_with_a_hint():
    result = cli("model_src.model:GPT", "--config", "sort", "--focus", "transformer.h.9")
    assert result.returncode == 1
    assert "error: GPT has no submodule transformer.h.9" in result.stderr
    assert "hint: transformer.h has: 0, 1, 2" in result.stderr


@pytest.mark.parametrize(
    ("code", "said"),
    [
        ("import sys\nsys.exit(0)\n", "SystemExit: 0"),
        ("import os\nos._exit(0)\n", "exited with code 0 (sys.exit or os._exit)"),
        ("import os, signal\nos.kill(os.getpid(), signal.SIGKILL)\n", "signal SIGKILL"),
    ],
)
def test_cli_says_why_a_target_that_ends_its_process_was_not_drawn(tmp_path, code, said):
    (tmp_path / "quitter.py").write_text(code)
    result = cli("quitter:GPT", "--config", "sort", cwd=tmp_path)
    assert result.returncode == 1, result.stdout
    assert said in result.stderr and "hint:" in result.stderr, result.stderr


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (("--presets", "os"), "the presets module 'os' has no PRESETS or gpt_config"),
        (("--input", "1x" + "9" * 300), "is not batch x time"),
    ],
)
def test_cli_answers_a_bad_option_with_a_message_not_a_traceback(args, said):
    result = cli("model_src.model:GPT", *args)
    assert result.returncode == 1 and said in result.stderr and "hint:" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.sphinx("html", testroot="arch-diagram")
@pytest.mark.parametrize("setting", ["nanobook_model_timeout", "nanobook_model_memory"])
@pytest.mark.parametrize("value", [-1, float("nan"), float("inf"), None])
def test_a_model_limit_that_is_no_limit_is_refused(make_app, app_params, setting, value):
    args, kwargs = app_params
    with pytest.raises(ConfigError, match=f"{setting} = {value!r}: expected a finite number"):
        make_app(*args, **{**kwargs, "confoverrides": {setting: value}})


@pytest.mark.sphinx("html", testroot="arch-diagram")
@pytest.mark.parametrize(
    ("setting", "value", "expected"),
    [
        ("nanobook_cache_dir", 5, "a path (text) or None"),
        ("nanobook_project_root", ["src"], "a path (text) or None"),
        ("nanobook_presets", None, "a module's name (text)"),
    ],
)
def test_a_shared_setting_of_the_wrong_type_is_refused_before_any_extension_uses_it(
    make_app, app_params, setting, value, expected
):
    args, kwargs = app_params
    with pytest.raises(ConfigError, match=re.escape(f"{setting} = {value!r}: expected {expected}")):
        make_app(*args, **{**kwargs, "confoverrides": {setting: value}})


# --- in Sphinx ----------------------------------------------------------------------------------


@pytest.mark.sphinx("html", testroot="arch-diagram", freshenv=True, confoverrides=SHARED_CACHE)
@pytest.mark.test_params(**HTML_BUILD)
def test_html_is_a_captioned_literal_block_with_an_anchor(app, warning, drawings):
    app.build()
    assert not warning.getvalue()
    page = (app.outdir / "index.html").read_text(encoding="utf-8")
    # the attention diagram: labelled, captioned, copyable (copybutton reads div.highlight pre)
    block = page[page.index('id="fig-attention"') :]
    assert block.index("Attention in the first block") < block.index(
        'class="headerlink" href="#fig-attention"'
    )
    pre = re.search(
        r'<div class="highlight-text notranslate"><div class="highlight">'
        r'<pre role="img" aria-label="[^"]+"><span></span>(.*?)</pre>',
        block,
        re.S,
    )[1]
    assert html.unescape(pre) == drawings["gpt_sort_attention_focus"]
    assert ">Attention in the first block</span></a> is <a" in page  # :ref: uses the caption
    assert "Listing 2" in page  # :numref: numbers it like any captioned code block
    # without :name:, an anchor made of what is drawn
    assert 'id="arch-diagram-gpt-sort"' in page
    myst = (app.outdir / "myst.html").read_text(encoding="utf-8")
    assert 'id="arch-diagram-optimizer-sort"' in myst
    assert "GPT.configure_optimizers · preset sort" in myst


def told(items) -> list[tuple[str, str]]:
    """(path, text) of every item of a told diagram's list, nested ones after their module's
    (their names are below it, as drawn in its frame)."""
    found = []
    for item in items.find_all("li", recursive=False):
        text = item.find(string=True, recursive=False)
        name = text.partition(": ")[0]
        found.append((name, text))
        nested = item.find("ol", recursive=False)
        for path, inner in told(nested) if nested else []:
            found.append((f"{name}.{path}", inner))
    return found


FOCUSED_ON_ATTENTION = [
    "transformer.wte",
    "transformer.wpe",
    "transformer.drop",
    "transformer.h.0",
    "transformer.h.0.ln_1",
    "transformer.h.0.attn",
    "transformer.h.0.attn.c_attn",
    "transformer.h.0.attn.c_proj",
    "transformer.h.0.attn.resid_dropout",
    "transformer.h.0.ln_2",
    "transformer.h.0.mlp",
    "transformer.h.1…2",
    "transformer.ln_f",
    "lm_head",
]


def drawn_as_one_picture(pre) -> bool:
    """A drawing's <pre> is one named picture to screen readers, its glyphs unread; not
    hidden from them, since the theme makes a wide <pre> a Tab stop (to scroll it)."""
    return (
        pre.get("role") == "img" and pre.get("aria-label") == DRAWN and not pre.get("aria-hidden")
    )


@pytest.mark.sphinx("html", testroot="arch-diagram", freshenv=True, confoverrides=SHARED_CACHE)
@pytest.mark.test_params(**HTML_BUILD)
def test_html_tells_screen_readers_the_modules_instead_of_the_box_drawing(app):
    app.build()
    page = BeautifulSoup((app.outdir / "index.html").read_text(encoding="utf-8"), "html.parser")
    for block in page.select("div.arch-diagram"):  # the caption and its anchor stay readable
        assert not block.find_parents(attrs={"aria-hidden": True})
        assert block.select_one(".code-block-caption a.headerlink")
        assert drawn_as_one_picture(block.select_one("pre"))
        assert block.select_one(".arch-diagram-text").find_previous_sibling(class_="highlight-text")

    # the whole model, its direct parts as rows: each as the drawing has it, in its order
    overview = page.select_one("#arch-diagram-gpt-sort")
    drawn = rows(overview.select_one("pre").get_text())
    said = overview.select_one(".arch-diagram-text")
    assert said.p.get_text() == "GPT · preset sort · 85,584 parameters"
    assert [name for name, _ in told(said.ol)] == list(drawn)
    for name, text in told(said.ol):
        count, shape = drawn[name]
        assert f", output {shape}, " in text and text.endswith(f" {count:,} parameters"), text
    # and the footnote the drawing ends with: the tied weight counted once in the total
    footnote = "* lm_head.weight is transformer.wte.weight (tied): counted once in totals"
    assert footnote in drawn_lines(overview) and said.find_all("p")[-1].get_text() == footnote

    # focused: the expanded modules' parts listed inside them, each as the model has it
    focused = page.select_one("#fig-attention .arch-diagram-text")
    assert "focus: transformer.h.0.attn · CausalSelfAttention · 9,408 parameters" in [
        line.get_text() for line in focused.find_all("p")
    ]
    listed = told(focused.ol)
    assert [path for path, _ in listed] == FOCUSED_ON_ATTENTION
    model, outputs = sort_model_outputs()
    for path, text in listed:
        first, runs = path.partition("…")[::2]
        repeats = int(runs) - int(first.rpartition(".")[2]) + 1 if runs else 1
        shape = "×".join(map(str, outputs[first].shape))
        count = params(model.get_submodule(first))
        total = f"{repeats} × {count:,} = {repeats * count:,}" if runs else f"{count:,}"
        assert text.endswith(f", output {shape}, {total} parameters"), text

    # hidden from sight only: display: none would hide it from screen readers too
    assert page.select_one('link[href*="arch_diagram.css"]')
    css = (app.outdir / "_static" / "arch_diagram.css").read_text(encoding="utf-8")
    rule = re.search(r"\.arch-diagram-text \{(.*?)\}", css, re.S)[1]
    assert "clip-path: inset(50%)" in rule and "overflow: hidden" in rule
    assert not re.search(r"display:\s*none|visibility:\s*hidden", rule)
    assert not page.select(".arch-diagram-text[hidden], .arch-diagram-text[style]")

    # a pipeline diagram has no modules to tell: its own lines, without the box drawing
    myst = BeautifulSoup((app.outdir / "myst.html").read_text(encoding="utf-8"), "html.parser")
    block = myst.select_one("div.arch-diagram")
    assert drawn_as_one_picture(block.select_one("pre"))
    said = [line.get_text() for line in block.select(".arch-diagram-text p")]
    assert not block.select(".arch-diagram-text ol")
    assert said[0] == "GPT.configure_optimizers · preset sort"
    assert "model.parameters(): 40 tensors, 85,584 parameters" in said
    assert any(line.startswith("group 0: weight_decay=0.1 · matrices") for line in said)
    assert said[-1].endswith("(tied): one tensor, counted once")
    drawn = "".join(drawn_lines(block))
    assert "│" in drawn and "▼" in drawn  # what the screen reader is spared
    assert not re.search("[\u2500-\u257f▼►◄]", "".join(said))
    assert len(said) == len([line for line in drawn_lines(block) if re.search(r"\w", line)])


def drawn_lines(block) -> list[str]:
    return [line.strip() for line in block.select_one("pre").get_text().splitlines()]


def test_an_expanded_module_is_told_with_the_parameters_it_holds_itself():
    """LoRA's c_attn: its A and B beside its base layer, as its frame's count says."""
    drawn = draw_diagram(
        parse("model_src.lora:LoRAGPT", config="sort", focus="transformer.h.0.attn.c_attn")
    )
    parts = drawn.parts
    for name in ("transformer.h.0", "attn", "c_attn"):
        part = next(part for part in parts if part.name == name)
        parts = part.parts
    assert [inner.name for inner in parts] == ["base"]
    assert part.own == part.params - parts[0].params > 0
    assert f"{part.params:,} ({part.own:,} own)" in drawn.text
    assert f"{part.params:,} parameters, {part.own:,} of them its own" in told_parts(drawn.parts)


@pytest.mark.sphinx("text", testroot="arch-diagram", freshenv=True, confoverrides=SHARED_CACHE)
def test_text_builder_shows_the_diagram(app, drawings):
    app.build()
    text = (app.outdir / "index.txt").read_text(encoding="utf-8")
    assert "Attention in the first block" in text
    assert "q, k, v: 1×3×11×16" in text


@pytest.mark.sphinx("latex", testroot="arch-diagram", freshenv=True, confoverrides=SHARED_CACHE)
def test_latex_builder_shows_the_diagram(app):
    app.build()
    tex = next(app.outdir.glob("*.tex")).read_text(encoding="utf-8")
    assert r"\sphinxSetupCaptionForVerbatim{Attention in the first block}" in tex
    assert r"\label{\detokenize{index:fig-attention}}" in tex  # what :ref: and :numref: find
    assert "att: 1×3×11×11" in tex


@pytest.mark.sphinx("html", testroot="arch-diagram", freshenv=True)
def test_a_cached_diagram_is_not_drawn_again(
    make_app, app_params, sphinx_test_tempdir, monkeypatch
):
    """Nor is a process started for it: a warm build spawns nothing."""
    args, kwargs = app_params
    cache = sphinx_test_tempdir / SHARED_DIAGRAMS  # drawn here or by another build of the root
    overrides = {"nanobook_cache_dir": str(cache)}
    make_app(*args, **{**kwargs, "confoverrides": overrides, "freshenv": True}).build()
    cached = sorted((cache / "diagrams").glob("*/meta.json"))
    assert len(cached) == 3

    def refuse(function, kwargs, **limits):
        raise AssertionError(f"started a process to draw {kwargs} again")

    monkeypatch.setattr(processes, "call_apart", refuse)
    rebuilt = make_app(*args, **{**kwargs, "confoverrides": overrides, "freshenv": True})
    rebuilt.build()
    assert sorted((cache / "diagrams").glob("*/meta.json")) == cached
    assert "Block ×2" in (rebuilt.outdir / "index.html").read_text(encoding="utf-8")


EXPECTED_WARNINGS = {  # line of the directive in index.rst -> reason, hint
    4: ("cannot import 'model_src.nothing_here:GPT'", "module.path:Name"),
    7: ("model_src.model:GPTConfig is a class, but not a torch.nn.Module", "a model class"),
    10: ("unknown preset 'huge'", "presets in fake_presets: tiny"),
    13: ("unknown config key 'n_layers' for preset tiny", "valid keys: block_size"),
    16: ("GPT has no submodule transformer.h.7", "transformer.h has: 0, 1"),
    20: (
        "the forward pass of Exploding raised RuntimeError: this model refuses to run "
        "(at broken_model.py:12)",
        "fix the model",
    ),
    23: ("input 'eleven' is not batch x time", "1x11"),
    27: (":depth: '0' is not a whole number from 1 to 100", "expands"),
    31: ("input 1x99 is longer than block_size 8 of preset tiny", ":input: 1x8"),
    35: ("broken_model:not_a_model is a function, not a torch.nn.Module subclass", "Class"),
    38: ("the forward pass of Quitting raised SystemExit: 0", "fix the model"),
    41: ("drawing exiting_model:GPT failed: SystemExit: 0 (at exiting_model.py:5)", "python -m"),
    44: ("on 200000x8 tokens holds about 8.8e+08 numbers (3.5 GB)", "smaller config"),
    48: ("drawing broken_model:Sleepy stopped: the model code ran longer than 10 s", "timeout"),
    58: ("input 1x99999 is longer than block_size 8 of preset tiny", ":input: 1x8"),
    62: ("config key n_layer is a size, at least 1, not -1", "the preset's value is"),
    65: (":name: 'fig-mlp' is already the name of another target on this page", "once per page"),
    69: ("unknown config key 'rmsnrom' for preset tiny", "bias; ModernConfig's own: rmsnorm,"),
}
DRAWN_ANYWAY = 1  # the second fig-mlp: drawn, under an anchor of its own


@pytest.fixture(scope="module")
def apart_answers() -> dict:
    """What processes.call_apart answered in this module, by what it was asked."""
    return {}


@pytest.fixture
def drawn_apart_once(monkeypatch, apart_answers):
    """Each failing drawing of the errors root runs once for all its builds. A failure is
    never stored (the next build tries again), so every build of the root would start its
    failing models again: about fifteen processes that load torch, one of them the Sleepy
    model's 10 s timeout. The same request with the same limits ends the same way: its
    real answer is kept and handed to the later builds."""
    run = processes.call_apart

    def once(function, kwargs, **limits):
        asked = repr((function, sorted(kwargs.items()), sorted(limits.items())))
        if asked not in apart_answers:
            apart_answers[asked] = run(function, kwargs, **limits)
        return apart_answers[asked]

    monkeypatch.setattr(processes, "call_apart", once)


@pytest.mark.sphinx("html", testroot="arch-diagram-errors", freshenv=True)
def test_every_error_is_a_located_warning_and_a_placeholder(app, warning, drawn_apart_once):
    app.build()
    warnings = strip_colors(warning.getvalue())
    found = dict(re.findall(r"index\.rst:(\d+): WARNING: arch-diagram: (.*\n  hint: .*)", warnings))
    assert sorted(map(int, found)) == sorted(EXPECTED_WARNINGS)
    for line, (reason, hint) in EXPECTED_WARNINGS.items():
        text = found[str(line)]
        assert reason in text and hint in text.partition("hint:")[2], (line, text)
        assert text.endswith("[nanobook.arch-diagram]")
    page = (app.outdir / "index.html").read_text(encoding="utf-8")
    assert page.count("could not be drawn") == len(EXPECTED_WARNINGS) - DRAWN_ANYWAY
    assert "transformer.h.0.mlp · MLP · 2,128 parameters" in page  # the good one still draws


@pytest.mark.sphinx(
    "html",
    testroot="arch-diagram-errors",
    freshenv=True,
    confoverrides={"suppress_warnings": ["nanobook.arch-diagram"]},
)
def test_warnings_can_be_suppressed_by_type(app, warning, drawn_apart_once):
    app.build()
    assert "arch-diagram" not in warning.getvalue()


@pytest.mark.sphinx(
    "html",
    testroot="arch-diagram-errors",
    freshenv=True,
    confoverrides={"extensions": ["myst_parser", "ext.arch_diagram"]},
)
def test_an_unknown_option_is_a_located_warning_with_a_hint_in_myst_too(app, warning):
    page = app.srcdir / "options.md"
    page.write_text(
        "# Options\n\n```{arch-diagram} model_src.model:MLP\n:config: tiny\n:colour: red\n```\n"
    )
    # only this page: the root's other diagrams are the errors the tests above draw
    (app.srcdir / "index.rst").write_text("Options\n=======\n\n.. toctree::\n\n   options\n")
    app.build()
    warnings = strip_colors(warning.getvalue())
    assert "options.md:3: WARNING: arch-diagram: unknown option(s) :colour:" in warnings
    assert "hint: arch-diagram takes :config:, :focus:, :depth:" in warnings
    assert "MLP · 2,128 parameters" in (app.outdir / "options.html").read_text(encoding="utf-8")


def test_model_code_outside_the_project_root_is_part_of_the_key(tmp_path):
    """Editing a model that lives outside nanobook_project_root redraws its diagram."""
    from io import StringIO

    from sphinx.testing.util import SphinxTestApp

    outside, srcdir = tmp_path / "elsewhere", tmp_path / "book"
    outside.mkdir()
    srcdir.mkdir()
    shutil.copy(REPO / "tests/roots/test-arch-diagram-errors/fake_presets.py", outside)
    model = outside / "wide_model.py"
    model.write_text(
        "from torch import nn\n\n\nclass Wide(nn.Module):\n"
        "    def __init__(self, config):\n        super().__init__()\n"
        "        self.fc = nn.Linear(config.n_embd, 3 * config.n_embd)\n\n"
        "    def forward(self, idx):\n        return self.fc(idx.float().unsqueeze(-1).expand("
        "*idx.shape, self.fc.in_features))\n"
    )
    (srcdir / "conf.py").write_text(
        f"import sys\nsys.path[:0] = [{str(REPO)!r}, {str(outside)!r}]\n"
        'extensions = ["ext.arch_diagram"]\nnanobook_presets = "fake_presets"\n'
    )
    (srcdir / "index.rst").write_text(
        "Wide\n====\n\n.. arch-diagram:: wide_model:Wide\n   :config: tiny\n"
    )

    def drawn() -> str:
        app = SphinxTestApp("html", srcdir=srcdir, status=StringIO(), warning=StringIO())
        try:
            app.build()
        finally:
            app.cleanup()
        return (app.outdir / "index.html").read_text(encoding="utf-8")

    assert "Linear(16→48)" in drawn()
    model.write_text(model.read_text().replace("3 * config.n_embd", "4 * config.n_embd"))
    assert "wide_model" not in sys.modules  # it ran in a process of its own, not the build's
    assert "Linear(16→64)" in drawn()


def test_an_absurd_model_is_refused_before_anything_is_allocated():
    from ext import _core

    config = presets.gpt_config("sort", n_embd=120000)
    problem = _core.model_size_problem(config)
    assert problem and "1x11 tokens holds about 5.2e+11 numbers (2073.9 GB)" in problem
    assert _core.model_size_problem(presets.gpt_config("char")) is None
    request = parse("model_src.model:GPT", config="sort,n_embd=120000", presets="model_src.presets")
    with pytest.raises(Problem, match="holds about") as error:
        draw_diagram(request)
    assert "smaller config" in error.value.hint
