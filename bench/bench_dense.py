"""Exact against preselected dense search on one large index, in the same process: the overlap of
their top-10 papers for every dev and test question, the gold papers' recall@10 and search p50 /
p95 with the query vectors cached (so only the search itself is timed).

    .venv/bin/python bench/bench_dense.py INDEX_DIR 250,500,1000   # RAG_DENSE_CANDIDATES to try
"""
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import numpy as np  # noqa: E402

from rag.embed import MiniLMEmbedder  # noqa: E402
from rag.index import open_index  # noqa: E402
from rag.retrieve import Retriever  # noqa: E402
from rag.settings import Settings  # noqa: E402


def main() -> None:
    index_dir, cands = Path(sys.argv[1]), [int(x) for x in sys.argv[2].split(",")]
    base = Settings(_env_file=None, index_dir=index_dir, llm="extractive")
    t = time.perf_counter()
    idx = open_index(base, embedder=MiniLMEmbedder())
    print(f"open {time.perf_counter() - t:.1f} s, {idx.chunks.vectors.shape[0]:,} sentence vectors")
    qs = []
    for split in ("dev", "test"):
        for line in open(Path(__file__).resolve().parent.parent / "eval" / f"{split}.jsonl"):
            if line.strip():
                d = json.loads(line)
                qs.append((split, d["question"], set(d.get("gold") or [])))
    ret = {"exact": Retriever(idx, base.model_copy(update={"dense_exact_max_rows": 10**12}))}
    for c in cands:
        ret[f"pre{c}"] = Retriever(idx, base.model_copy(update={"dense_exact_max_rows": 0, "dense_candidates": c}))
    for r in ret.values():
        assert (r._means is None) == (r is ret["exact"])
    vecs = {}
    for _, q, _ in qs:
        plan = ret["exact"].plan(q)
        vecs[q] = ret["exact"].embed_query(plan.corrected)
    res = {}
    for name, r in ret.items():
        r._qcache.clear()
        tops, ms = [], []
        for _, q, _ in qs:
            plan = r.plan(q)
            r._qcache[plan.corrected] = vecs[q]
            t = time.perf_counter()
            hits = r.search(q, plan=plan, top_k=10)
            ms.append((time.perf_counter() - t) * 1000)
            tops.append([h.paper_id for h in hits])
        res[name] = (tops, ms)
    ex = res["exact"][0]
    for name, (tops, ms) in res.items():
        overlap = np.mean([len(set(a) & set(b)) / max(len(a), 1) for a, b in zip(ex, tops) if a])
        same = np.mean([a == b for a, b in zip(ex, tops)])
        top1 = np.mean([a[:1] == b[:1] for a, b in zip(ex, tops)])
        rec = {sp: np.mean([len(g & set(t)) / len(g) for (s, _, g), t in zip(qs, tops) if g and s == sp])
               for sp in ("dev", "test")}
        print(f"{name:8s} overlap@10 with exact {overlap:.3f}  identical lists {same:.3f}  same top-1 {top1:.3f}  "
              f"gold recall@10 dev {rec['dev']:.3f} test {rec['test']:.3f}  search p50 {np.percentile(ms, 50):.1f} p95 {np.percentile(ms, 95):.1f} ms")


if __name__ == "__main__":
    main()
