"""Cold start and warm query latency, this tree against a baseline commit, in the same run.

Cold: wall time of a fresh `python -m rag search "densenet"` and `python -m rag ask ...` (and of
importing the modules they need), runs interleaved baseline / now so that a busy machine slows
both alike. Warm: search and extractive-ask p50/p95 over the dev questions in one process per
tree, and the texts embedded per ask. Both trees read the same index, or with --baseline-index
the baseline its own (when the index format changed: see bench_reingest.py --keep). Prints a
table; not a test.

    .venv/bin/python bench/bench_query.py [--baseline REV] [--reps 5] [--index DIR] [--baseline-index DIR]

REV defaults to where this branch left main (`git merge-base HEAD main`).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

WARM = r"""
import json, sys, time
from pathlib import Path
from rag.service import RagService
from rag.settings import Settings
index, questions = sys.argv[1], json.loads(Path(sys.argv[2]).read_text())
svc = RagService(Settings(_env_file=None, index_dir=Path(index), llm="extractive", openai_api_key=None,
                          openai_base_url=None))
svc.search("warm up")
emb = svc.retriever.index.embedder
count, original = [0], emb.embed
def embed(texts, progress=None):
    count[0] += len(texts)
    return original(texts, progress)
emb.embed = embed
def timed(fn):
    out = []
    for q in questions:
        t = time.perf_counter(); fn(q); out.append((time.perf_counter() - t) * 1000)
    return out
search = timed(svc.search)
svc.retriever._qcache.clear()
count[0] = 0
ask = timed(svc.ask)
print(json.dumps({"search": search, "ask": ask, "embedded_per_ask": count[0] / len(questions)}))
"""


def pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


def baseline_tree(rev: str, into: Path) -> Path:
    """The baseline commit's files (git archive), to run with that folder as the working directory."""
    archive = into / "base.tar"
    subprocess.run(["git", "-C", str(ROOT), "archive", "-o", str(archive), rev], check=True)
    with tarfile.open(archive) as tar:
        tar.extractall(into / "base", filter="data")
    return into / "base"


def run(tree: Path, args: list[str], env: dict[str, str]) -> float:
    t = time.perf_counter()
    subprocess.run([sys.executable, *args], cwd=tree, env=env, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    return time.perf_counter() - t


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--baseline", default=None, help="commit to compare with (default: merge-base with main)")
    p.add_argument("--reps", type=int, default=5, help="cold runs of each command per tree")
    p.add_argument("--questions", type=int, default=50, help="dev questions for the warm latencies")
    p.add_argument("--index", default=str(ROOT / ".rag" / "index"))
    p.add_argument("--baseline-index", default=None, help="the index the baseline reads (default: --index)")
    args = p.parse_args()
    index_of = {"baseline": args.baseline_index or args.index, "now": args.index}
    rev = args.baseline or subprocess.run(["git", "-C", str(ROOT), "merge-base", "HEAD", "main"], check=True,
                                          capture_output=True, text=True).stdout.strip()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "RAG_"))}
    env["RAG_LLM"] = "extractive"
    corpus = ["--corpus", str(ROOT / "data" / "seeds")]
    cold = {
        "import the CLI's modules (s)": ["-c", "import rag.__main__, rag.service"],
        "cold `search densenet` (s)": ["-m", "rag", "search", "densenet", *corpus],
        "cold `ask` (s)": ["-m", "rag", "ask", "what is densenet?", *corpus],
        "cold table `ask` (s)": ["-m", "rag", "ask", "Which methods report top-1 accuracy on ImageNet?", *corpus],
    }
    qs = [json.loads(line)["question"] for line in (ROOT / "eval" / "dev.jsonl").read_text().splitlines()
          if line.strip()][: args.questions]
    with tempfile.TemporaryDirectory() as tmp:
        trees = {"baseline": baseline_tree(rev, Path(tmp)), "now": ROOT}
        qfile = Path(tmp) / "questions.json"
        qfile.write_text(json.dumps(qs))
        times: dict[tuple[str, str], list[float]] = {(c, t): [] for c in cold for t in trees}
        for _ in range(args.reps):  # interleaved: baseline, now, baseline, now ...
            for name, argv in cold.items():
                for tree_name, tree in trees.items():
                    index = [] if argv[0] == "-c" else ["--index", index_of[tree_name]]
                    times[(name, tree_name)].append(run(tree, argv + index, env))
        warm = {}
        for tree_name, tree in trees.items():
            out = subprocess.run([sys.executable, "-c", WARM, index_of[tree_name], str(qfile)], cwd=tree, env=env,
                                 check=True, capture_output=True, text=True).stdout
            warm[tree_name] = json.loads(out.splitlines()[-1])
    print(f"baseline {rev[:10]} vs this tree; {args.reps} interleaved cold runs each (medians); "
          f"{len(qs)} dev questions warm")
    print("| metric | baseline | now | baseline / now |")
    print("|---|---|---|---|")
    for name in cold:
        b, n = statistics.median(times[(name, "baseline")]), statistics.median(times[(name, "now")])
        print(f"| {name} | {b:.2f} | {n:.2f} | {b / n:.2f}× |")
    for key, label in (("search", "warm search"), ("ask", "warm extractive ask")):
        b, n = warm["baseline"][key], warm["now"][key]
        print(f"| {label} p50 / p95 (ms) | {pct(b, 50):.1f} / {pct(b, 95):.1f} | {pct(n, 50):.1f} / {pct(n, 95):.1f} "
              f"| {pct(b, 50) / pct(n, 50):.2f}× (p50) |")
    print(f"| texts embedded per ask | {warm['baseline']['embedded_per_ask']:.2f} | "
          f"{warm['now']['embedded_per_ask']:.2f} | |")


if __name__ == "__main__":
    main()
