"""Embedding throughput on the corpus's chunks (the texts an ingest embeds): unsorted, sorted by
characters with a second tokenisation per batch (before #13), and sorted by tokens reusing the
encodings (now); the vectors' largest difference from the unsorted ones. Runs interleaved, so a
busy machine slows all of them alike; ratios are of medians, of wall time and of CPU time (the
process's, inference threads included: steadier than wall time when other programs share the
cores). Prints a table; not a test.

    .venv/bin/python bench/bench_embed.py [--reps 3] [--texts N]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rag.corpus import load_corpus  # noqa: E402
from rag.embed import MiniLMEmbedder  # noqa: E402
from rag.index import chunk_paper  # noqa: E402
from rag.settings import PROJECT_ROOT  # noqa: E402


def unsorted(emb: MiniLMEmbedder, texts: Sequence[str]) -> np.ndarray:
    """Batches in the given order, each tokenised on its own."""
    return np.concatenate([emb._run(emb._tok.encode_batch(list(texts[i:i + emb.batch_size])))
                           for i in range(0, len(texts), emb.batch_size)])


def char_sorted(emb: MiniLMEmbedder, texts: Sequence[str]) -> np.ndarray:
    """Before #13: sorted by characters, each batch tokenised when it is run."""
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    out = np.zeros((len(texts), emb.dim), dtype=np.float32)
    for start in range(0, len(order), emb.batch_size):
        idx = order[start:start + emb.batch_size]
        out[idx] = emb._run(emb._tok.encode_batch([texts[i] for i in idx]))
    return out


def padding(emb: MiniLMEmbedder, texts: Sequence[str], key: Callable[[int], int]) -> float:
    """Padded positions / real tokens when batches follow `key`."""
    lengths = [len(e.ids) for e in emb._tok.encode_batch(list(texts))]
    order = sorted(range(len(texts)), key=key)
    padded = sum(max(lengths[i] for i in order[s:s + emb.batch_size]) * len(order[s:s + emb.batch_size])
                 for s in range(0, len(order), emb.batch_size))
    return padded / sum(lengths) - 1


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--reps", type=int, default=3)
    p.add_argument("--texts", type=int, default=0, help="only the first N chunks (default: all)")
    args = p.parse_args()
    emb = MiniLMEmbedder()
    texts = [c.text for paper in load_corpus(PROJECT_ROOT / "data" / "seeds").papers for c in chunk_paper(paper)]
    texts = texts[: args.texts or None]
    runs: dict[str, Callable[[], np.ndarray]] = {
        "unsorted": lambda: unsorted(emb, texts),
        "sorted by characters (before)": lambda: char_sorted(emb, texts),
        "sorted by tokens, encodings reused (now)": lambda: emb.embed(texts),
    }
    times: dict[str, list[float]] = {name: [] for name in runs}
    cpu: dict[str, list[float]] = {name: [] for name in runs}
    vectors: dict[str, np.ndarray] = {}
    for _ in range(args.reps):  # interleaved
        for name, fn in runs.items():
            t, c = time.perf_counter(), time.process_time()
            vectors[name] = fn()
            times[name].append(time.perf_counter() - t)
            cpu[name].append(time.process_time() - c)
    before = "sorted by characters (before)"
    base, base_cpu = statistics.median(times[before]), statistics.median(cpu[before])
    print(f"{len(texts)} texts (chunks of the corpus), batch {emb.batch_size}, {args.reps} interleaved reps")
    print(f"padding over real tokens: by characters {padding(emb, texts, lambda i: len(texts[i])):.1%}, "
          f"by tokens {padding(emb, texts, lambda i: len(emb._tok.encode(texts[i]).ids)):.1%}")
    print("| order | wall s (median) | texts/s | speed vs before, wall | CPU s (median) | speed vs before, CPU "
          "| max abs diff vs unsorted |")
    print("|---|---|---|---|---|---|---|")
    for name in runs:
        med, med_cpu = statistics.median(times[name]), statistics.median(cpu[name])
        diff = float(np.abs(vectors[name] - vectors["unsorted"]).max())
        print(f"| {name} | {med:.2f} | {len(texts) / med:.0f} | {base / med:.2f}× | {med_cpu:.2f} | "
              f"{base_cpu / med_cpu:.2f}× | {diff:.1e} |")


if __name__ == "__main__":
    main()
