"""Opening an index: the memory-mapped vector map (vectors.npy) against reading every vector
out of Chroma, in the same run.

Copies the index, removes the copy's map (so it is read from Chroma, as an index built before
the map is), then times `open_index` + `Retriever` and the peak RSS in fresh processes,
alternating the two, and prints the medians and their ratio. Not a test.

    .venv/bin/python bench/bench_open.py [--index .rag/index] [--reps 3]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHILD = """
import resource, sys, time
from pathlib import Path
from rag.embed import get_embedder
from rag.index import open_index
from rag.retrieve import Retriever
from rag.settings import Settings
settings = Settings(index_dir=Path(sys.argv[1]))
embedder = get_embedder(settings)
t0 = time.perf_counter()
retriever = Retriever(open_index(settings, embedder=embedder), settings)
print(time.perf_counter() - t0, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index", default=str(ROOT / ".rag" / "index"))
    parser.add_argument("--reps", type=int, default=3)
    args = parser.parse_args()
    mapped = Path(args.index)
    with tempfile.TemporaryDirectory() as tmp:
        unmapped = Path(tmp) / "index"
        shutil.copytree(mapped, unmapped)
        gen = unmapped / (unmapped / "CURRENT").read_text().strip()
        for name in ("vectors.npy", "chunks.jsonl"):
            (gen / name).unlink()
        runs: dict[str, list[tuple[float, float]]] = {"vector map": [], "read from Chroma": []}
        for _ in range(args.reps):
            for label, where in (("vector map", mapped), ("read from Chroma", unmapped)):
                out = subprocess.run([sys.executable, "-c", CHILD, str(where)], capture_output=True, text=True,
                                     check=True, cwd=ROOT).stdout.split()
                runs[label].append((float(out[0]), float(out[1])))
    med = {k: (statistics.median(t for t, _ in v), statistics.median(r for _, r in v)) for k, v in runs.items()}
    print(f"{'':18} {'open + Retriever (s)':>21} {'peak RSS (MiB)':>15}")
    for label, (secs, rss) in med.items():
        print(f"{label:18} {secs:21.2f} {rss:15.0f}")
    (ms, mr), (cs, cr) = med["vector map"], med["read from Chroma"]
    print(f"{'ratio':18} {cs / ms:20.2f}× {mr / cr:14.2f}×  (map faster by; map memory share)")


if __name__ == "__main__":
    main()
