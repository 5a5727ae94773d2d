"""A small change to a large collection, this tree against a baseline commit, in the same run:
the time of a re-ingest with 1% of the abstracts changed, and of the first search and first
table question in a fresh process (what opening the index costs before an answer).

Builds a synthetic collection of --size papers from the seeds with precomputed vectors
(bench/scale_data.py; nothing is embedded but the changed papers' cached vectors), once per
tree and version of the rules (kept in --work): each tree re-ingests copies of the index it
built itself, so neither pays for reading the other's format. Alternates baseline / now.
Prints a table; not a test.

    .venv/bin/python bench/bench_reingest.py [--size 10000] [--baseline REV] [--reps 2] [--keep DIR]

With --keep, each tree's re-ingested index of the last run is kept in DIR/baseline and DIR/now
(what `bench_query.py --index DIR/now --baseline-index DIR/baseline` compares when the index
format changed between the trees).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

from bench_query import baseline_tree  # noqa: E402

COMMON = r"""
import json, sys, time
from pathlib import Path
sys.path[:0] = [".", "bench"]
from rag.settings import Settings
def settings(index):
    return Settings(_env_file=None, index_dir=Path(index), llm="extractive", openai_api_key=None,
                    openai_base_url=None, chroma_url=None)
def papers(n):
    from rag.corpus import load_corpus
    from scale_data import synthetic_papers
    return synthetic_papers(load_corpus(Path("data/seeds")).papers, n)
"""
BUILD = COMMON + r"""
from rag.index import ingest
from scale_data import CachedEmbedder
index, n, cache = sys.argv[1], int(sys.argv[2]), sys.argv[3]
t = time.perf_counter()
ingest(papers(n), settings(index), embedder=CachedEmbedder(Path(cache)), rebuild=True)
print(json.dumps({"build_s": time.perf_counter() - t}))
"""
REINGEST = COMMON + r"""
from rag.index import ingest
from scale_data import CachedEmbedder, changed_copy
index, n, cache = sys.argv[1], int(sys.argv[2]), sys.argv[3]
changed, k = changed_copy(papers(n))
emb = CachedEmbedder(Path(cache))
t = time.perf_counter()
stats = ingest(changed, settings(index), embedder=emb)
print(json.dumps({"reingest_s": time.perf_counter() - t, "changed": k, "updated": stats.updated}))
"""
DIGEST = r"""
import json, sys
sys.path[:0] = ["."]
try:
    from rag.facts import rules_digest
    print(json.dumps({"rules": rules_digest()}))
except ImportError:  # a tree before rag.facts
    print(json.dumps({"rules": "none"}))
"""
OPEN = COMMON + r"""
from rag.service import RagService
svc = RagService(settings(sys.argv[1]))
t = time.perf_counter(); svc.search("mixture of experts robustness"); first_search = time.perf_counter() - t
t = time.perf_counter(); svc.ask("Which methods report top-1 accuracy on ImageNet?"); first_table = time.perf_counter() - t
print(json.dumps({"first_search_s": first_search, "first_table_ask_s": first_table}))
"""


def child(tree: Path, script: str, *argv: str) -> dict[str, float]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "RAG_"))}
    out = subprocess.run([sys.executable, "-c", script, *argv], cwd=tree, env=env, check=True,
                         capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--size", type=int, default=10_000)
    p.add_argument("--baseline", default=None, help="commit to compare with (default: merge-base with main)")
    p.add_argument("--reps", type=int, default=2, help="runs of each measurement per tree, alternating")
    p.add_argument("--work", default=str(Path(tempfile.gettempdir()) / "paper-rag-bench-reingest"),
                   help="where the built collection is kept between runs")
    p.add_argument("--keep", default=None, help="keep each tree's re-ingested index of the last run here")
    args = p.parse_args()
    sys.path.insert(0, str(ROOT))
    from bench_scale import CACHE_DIR  # noqa: E402
    from rag.corpus import load_corpus
    from rag.embed import MiniLMEmbedder
    from scale_data import build_cache, cache_file

    rev = args.baseline or subprocess.run(["git", "-C", str(ROOT), "merge-base", "HEAD", "main"], check=True,
                                          capture_output=True, text=True).stdout.strip()
    seeds = load_corpus(ROOT / "data" / "seeds").papers
    cache = cache_file(seeds, CACHE_DIR)
    if not cache.exists():
        build_cache(seeds, cache, MiniLMEmbedder())
    work = Path(args.work)
    results: dict[str, dict[str, list[float]]] = {"baseline": {}, "now": {}}
    with tempfile.TemporaryDirectory() as tmp:
        trees = {"baseline": baseline_tree(rev, Path(tmp)), "now": ROOT}
        built = {}
        for name, tree in trees.items():  # by each tree's own code and rules
            digest = child(tree, DIGEST)["rules"]
            built[name] = work / f"index-{args.size}-{digest}-{rev[:10] if name == 'baseline' else 'now'}"
            if name == "now" or not (built[name] / "CURRENT").exists():  # this tree's code may have changed
                shutil.rmtree(built[name], ignore_errors=True)
                took = child(tree, BUILD, str(built[name]), str(args.size), str(cache))["build_s"]
                print(f"{name}: built {args.size:,} papers in {took:.0f}s")
        for rep in range(args.reps):
            for name, tree in trees.items():
                copy = Path(tmp) / f"copy-{name}"
                shutil.rmtree(copy, ignore_errors=True)
                shutil.copytree(built[name], copy)
                got = child(tree, REINGEST, str(copy), str(args.size), str(cache))
                got |= child(tree, OPEN, str(copy))  # the generation this tree just wrote
                for key, value in got.items():
                    results[name].setdefault(key, []).append(value)
                if args.keep and rep == args.reps - 1:
                    shutil.rmtree(Path(args.keep) / name, ignore_errors=True)
                    shutil.move(str(copy), str(Path(args.keep) / name))
                else:
                    shutil.rmtree(copy)
    print(f"{args.size:,} papers, baseline {rev[:10]} vs this tree, {args.reps} alternating runs each (medians)")
    print("| metric | baseline | now | baseline / now |")
    print("|---|---|---|---|")
    for key, label in (("reingest_s", "re-ingest, 1% of abstracts changed (s)"),
                       ("first_search_s", "first search in a fresh process (s)"),
                       ("first_table_ask_s", "then the first table question (s)")):
        b, n = statistics.median(results["baseline"][key]), statistics.median(results["now"][key])
        print(f"| {label} | {b:.2f} | {n:.2f} | {b / n:.2f}× |")


if __name__ == "__main__":
    main()
