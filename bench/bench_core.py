"""Ingest time, warm search / ask latency (p50/p95 over 50 questions) and peak memory,
with a plain llama-index VectorStoreIndex on the same embedder as the baseline, measured
in the same run. Prints a table; not a test.

    .venv/bin/python bench/bench_core.py
"""

from __future__ import annotations

import json
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rag.corpus import load_corpus  # noqa: E402
from rag.embed import MiniLMEmbedder  # noqa: E402
from rag.llama_embedding import LlamaEmbedding  # noqa: E402
from rag.service import RagService  # noqa: E402
from rag.settings import PROJECT_ROOT, Settings  # noqa: E402
from bench.timing import timed_ms as timed  # noqa: E402


def rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


def questions(n: int = 50) -> list[str]:
    path = PROJECT_ROOT / "eval" / "dev.jsonl"
    if path.exists():
        qs = [json.loads(line)["question"] for line in path.read_text().splitlines() if line.strip()]
        return (qs * 2)[:n]
    return [p.title.lower() for p in load_corpus(PROJECT_ROOT / "data" / "seeds").papers[:n]]


def _count_embeds(embedder) -> callable:
    """Wrap the embedder to count the texts it embeds; returns a reader of the count."""
    count = [0]
    original = embedder.embed

    def embed(texts, progress=None):
        count[0] += len(texts)
        return original(texts, progress)

    embedder.embed = embed
    return lambda: count[0]


def main() -> None:
    qs = questions()
    embedder = MiniLMEmbedder()
    papers = load_corpus(PROJECT_ROOT / "data" / "seeds").papers
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(_env_file=None, index_dir=Path(tmp) / "index", llm="extractive",
                            openai_api_key=None, openai_base_url=None)
        svc = RagService(settings, embedder=embedder)
        t = time.perf_counter()
        svc.ingest(rebuild=True)
        ingest_s = time.perf_counter() - t
        t = time.perf_counter()
        svc.ingest()
        reingest_s = time.perf_counter() - t
        svc.search("warm up")
        search = timed(lambda q: svc.search(q), qs)
        svc.retriever._qcache.clear()  # the ask below must pay for its own query embedding
        embeds = _count_embeds(embedder)
        ask = timed(lambda q: svc.ask(q), qs)
        embeds_per_ask = embeds() / len(qs)
        rss_ours = rss_mib()

        # baseline: plain VectorStoreIndex (default splitter, in-memory store), same embedder
        from llama_index.core import Document, VectorStoreIndex

        docs = [Document(text=f"{p.title}\n{p.abstract}", doc_id=p.paper_id) for p in papers]
        t = time.perf_counter()
        base = VectorStoreIndex.from_documents(docs, embed_model=LlamaEmbedding(embedder))
        base_ingest_s = time.perf_counter() - t
        retriever = base.as_retriever(similarity_top_k=10)
        retriever.retrieve("warm up")
        base_search = timed(lambda q: retriever.retrieve(q), qs)

    rows.append(("ingest 517 papers (s)", f"{ingest_s:.1f}", f"{base_ingest_s:.1f}", "≤ 20"))
    rows.append(("re-ingest, nothing changed (s)", f"{reingest_s:.2f}", "n/a", ""))
    rows.append(("search p50 / p95 (ms)", f"{pct(search, 50):.1f} / {pct(search, 95):.1f}",
                 f"{pct(base_search, 50):.1f} / {pct(base_search, 95):.1f}", "p50 ≤ 20"))
    rows.append(("extractive ask p50 / p95 (ms)", f"{pct(ask, 50):.1f} / {pct(ask, 95):.1f}", "n/a", "p50 ≤ 40"))
    rows.append(("texts embedded per ask", f"{embeds_per_ask:.2f}", "n/a", "1 (+1 per compared item)"))
    rows.append(("peak RSS, whole run (MiB)", f"{rss_ours:.0f}", f"{rss_mib():.0f} (cumulative)", ""))
    print(f"questions: {len(qs)}; search mean {statistics.mean(search):.1f} ms; ask mean {statistics.mean(ask):.1f} ms")
    print(f"search/baseline p50 ratio: {pct(search, 50) / pct(base_search, 50):.2f}; "
          f"ingest/baseline ratio: {ingest_s / base_ingest_s:.2f}")
    print("| metric | this pipeline | plain VectorStoreIndex | target |")
    print("|---|---|---|---|")
    for row in rows:
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
