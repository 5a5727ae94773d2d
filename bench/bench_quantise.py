"""Which MatMuls the dynamic-int8 embedder can keep in float32, and what that costs: makes the
variants from the shipped weights (`rag/quantise.py`'s own folding and per-channel
quantisation, with some MatMuls kept in fp32), then embeds the same seed chunks with each,
interleaved, and prints seconds (best of the reps), speed against the shipped model and the
cosine to its vectors. Needs onnx (`pip install -e ".[quantise]"`). Prints a table; not a test.

    .venv/bin/python bench/bench_quantise.py [--texts 1500] [--reps 2]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rag.corpus import load_corpus  # noqa: E402
from rag.embed import MiniLMEmbedder  # noqa: E402
from rag.index import chunk_paper  # noqa: E402
from rag.quantise import fold_to_fp32, quantise  # noqa: E402
from rag.settings import Settings  # noqa: E402


def make_variants(folder: Path) -> dict[str, Path | None]:
    import onnx

    fp32 = folder / "fp32.onnx"
    fold_to_fp32(fp32)
    graph = onnx.load(str(fp32)).graph
    dims = {i.name: tuple(i.dims) for i in graph.initializer}

    def matmuls(rows: int, cols: int) -> list[str]:
        return [n.name for n in graph.node if n.op_type == "MatMul" and any(dims.get(x) == (rows, cols) for x in n.input)]

    ffn_out, ffn_in = matmuls(1536, 384), matmuls(384, 1536)  # one per layer, in layer order
    plans = {"all int8 (today's minilm-dynamic)": [], "FFN output fp32, first + last layer": [ffn_out[0], ffn_out[-1]],
             "FFN output fp32, every layer": ffn_out, "FFN fp32, every layer": ffn_out + ffn_in}
    out: dict[str, Path | None] = {"shipped (fp32 compute)": None}
    for i, (name, exclude) in enumerate(plans.items()):
        out[name] = folder / f"v{i}.onnx"
        quantise(fp32, out[name], keep_fp32=exclude)
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--texts", type=int, default=1500)
    p.add_argument("--reps", type=int, default=2)
    args = p.parse_args()
    papers = load_corpus(Settings().corpus_dir).papers
    texts = [c.text for paper in papers for c in chunk_paper(paper)][::3][: args.texts]
    with tempfile.TemporaryDirectory() as tmp:
        embedders = {name: MiniLMEmbedder(model=path) for name, path in make_variants(Path(tmp)).items()}
        seconds: dict[str, list[float]] = {name: [] for name in embedders}
        vectors: dict[str, np.ndarray] = {}
        for _ in range(args.reps):
            for name, emb in embedders.items():
                start = time.perf_counter()
                vectors[name] = emb.embed(texts)
                seconds[name].append(time.perf_counter() - start)
    shipped = next(iter(embedders))
    print(f"{len(texts)} seed chunks, best of {args.reps}")
    print(f"{'model':38s} {'s':>6s} {'speed':>6s} {'cos mean':>9s} {'cos p5':>7s} {'cos min':>8s}")
    for name in embedders:
        cos = (vectors[name] * vectors[shipped]).sum(axis=1)
        print(f"{name:38s} {min(seconds[name]):6.2f} {min(seconds[shipped]) / min(seconds[name]):5.2f}x "
              f"{cos.mean():9.4f} {np.percentile(cos, 5):7.4f} {cos.min():8.4f}")


if __name__ == "__main__":
    main()
