"""Sample text from a trained model: one of ours, or a nanoGPT character-level one.

    python -m model_src.sample --out_dir=out-char --start="KING RICHARD:" --num_samples=2
    python -m model_src.sample --out_dir=out-sort --start=CABBAC --max_new_tokens=6 --top_k=1

--start is the prompt, or FILE:path to read it from a file. The tokenizer is the
meta.pkl next to ckpt.pt or, failing that, the one in the data directory the run
was trained on (nanoGPT keeps it in data/<dataset>/).
"""

import argparse
import pickle
from pathlib import Path

import torch

from .model import GPT


def find_meta(out_dir: Path, checkpoint: dict) -> dict:
    config = checkpoint.get("config", {})
    candidates = [out_dir / "meta.pkl"]
    if config.get("data_dir"):
        candidates.append(Path(config["data_dir"]) / "meta.pkl")
    if config.get("dataset"):
        candidates.append(Path("data") / config["dataset"] / "meta.pkl")
    for path in candidates:
        if path.is_file():
            with open(path, "rb") as f:
                return pickle.load(f)
    raise FileNotFoundError(
        "no meta.pkl found (looked at " + ", ".join(map(str, candidates)) + "); "
        "GPT-2 BPE checkpoints are not supported, their tokenizer needs a download"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out_dir", default="out", help="directory holding ckpt.pt")
    parser.add_argument("--start", default="\n", help="the prompt, or FILE:path")
    parser.add_argument("--num_samples", type=int, default=3)
    parser.add_argument("--max_new_tokens", type=int, default=300)
    parser.add_argument("--temperature", type=float, default=0.8, help="< 1: more cautious")
    parser.add_argument("--top_k", type=int, default=None, help="sample from the k likeliest")
    parser.add_argument(
        "--top_p", type=float, default=None, help="from the likeliest holding this much probability"
    )
    parser.add_argument("--seed", type=int, default=1337)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args(argv)

    out_dir = Path(args.out_dir)
    checkpoint = torch.load(out_dir / "ckpt.pt", map_location=args.device)
    model = GPT.from_checkpoint(checkpoint).to(args.device).eval()
    meta = find_meta(out_dir, checkpoint)
    stoi, itos = meta["stoi"], meta["itos"]

    start = args.start
    if start.startswith("FILE:"):
        start = Path(start.removeprefix("FILE:")).read_text()
    unknown = sorted(set(start) - set(stoi))
    if unknown:
        parser.error(f"the prompt has characters the model never saw: {unknown}")
    idx = torch.tensor([[stoi[ch] for ch in start]] * args.num_samples, device=args.device)

    torch.manual_seed(args.seed)
    out = model.generate(idx, args.max_new_tokens, args.temperature, args.top_k, args.top_p)
    for row in out.tolist():
        print("".join(itos[i] for i in row))
        print("-" * 40)


if __name__ == "__main__":
    main()
