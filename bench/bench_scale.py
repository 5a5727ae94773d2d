"""How the pipeline scales: synthetic collections of 1k / 10k (/ 100k) abstracts made from the
seeds (bench/scale_data.py), against a plain llama-index VectorStoreIndex + BM25Retriever on the
same embedder and the same vectors, measured in the same run, phase by phase in fresh
processes. Prints a table per size and writes JSON (and a PNG with --plot). Not a test.

    .venv/bin/python bench/bench_scale.py [--sizes 1000,10000] [--out bench/results/scale.json] [--plot bench/scale.png]

Size 517 is always run first: the seeds themselves, embedded by the real model, which gives
the ingest target and the per-text embedding times. For the synthetic sizes the vectors are
precomputed (each distinct seed title and sentence embedded once), so "insertion" is measured and
"embedding" is extrapolated from the 517 run's time per embedded text, and labelled so.

Per pipeline and size: ingest (embedding + insertion, papers/s), re-ingest with nothing changed
and with 1% of the abstracts changed, warm search and ask p50/p95 over 50 eval questions,
cold start (wall time of a fresh process answering one search: `python -m rag search`, and a
script that loads the persisted baseline), index size on disk, peak RSS of ingest and serving.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from rag.settings import PROJECT_ROOT, Settings  # noqa: E402
from timing import timed_ms  # noqa: E402

SEEDS = PROJECT_ROOT / "data" / "seeds"
CACHE_DIR = Path(tempfile.gettempdir()) / "paper-rag-bench-vectors"
QUESTIONS = 50


# ----------------------------------------------------------------------------- helpers
def pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


def rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def du_mib(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 2**20


def questions() -> list[str]:
    lines = (PROJECT_ROOT / "eval" / "dev.jsonl").read_text().splitlines()
    return [json.loads(line)["question"] for line in lines if line.strip()][:QUESTIONS]


class Timed:
    """Any Embedder, counting the texts it embeds and the seconds it spends."""

    def __init__(self, inner: Any):
        self.inner, self.id, self.dim, self.max_tokens = inner, inner.id, inner.dim, inner.max_tokens
        self.seconds, self.texts = 0.0, 0

    def count_tokens(self, text: str) -> int:
        return self.inner.count_tokens(text)

    def embed(self, texts: Sequence[str], progress: Callable[[int], None] | None = None) -> Any:
        t = time.perf_counter()
        out = self.inner.embed(texts, progress)
        self.seconds += time.perf_counter() - t
        self.texts += len(texts)
        return out


def _embedder(args: argparse.Namespace) -> Timed:
    if args.real:
        from rag.embed import MiniLMEmbedder

        return Timed(MiniLMEmbedder())
    from scale_data import CachedEmbedder

    return Timed(CachedEmbedder(Path(args.cache)))


def _papers(n: int) -> list[Any]:
    from rag.corpus import load_corpus
    from scale_data import synthetic_papers

    return synthetic_papers(load_corpus(SEEDS).papers, n)


def _settings(index_dir: Path) -> Settings:
    return Settings(_env_file=None, index_dir=index_dir, llm="extractive", openai_api_key=None,
                    openai_base_url=None, chroma_url=None)


def _profiled(fn: Callable[[], Any], enabled: bool, lines: int = 18) -> tuple[Any, str]:
    if not enabled:
        return fn(), ""
    prof = cProfile.Profile()
    out = prof.runcall(fn)
    buf = io.StringIO()
    pstats.Stats(prof, stream=buf).sort_stats("cumulative").print_stats(lines)
    return out, buf.getvalue()


# ----------------------------------------------------------------------------- phases (in a child process)
def ours_ingest(args: argparse.Namespace) -> dict[str, Any]:
    from rag.index import ingest
    from scale_data import changed_copy

    papers = _papers(args.size)
    emb = _embedder(args)
    settings = _settings(Path(args.work) / "ours")
    t = time.perf_counter()
    first = ingest(papers, settings, embedder=emb, rebuild=True)
    total = time.perf_counter() - t
    embed_s, texts = emb.seconds, emb.texts
    t = time.perf_counter()
    noop, profile = _profiled(lambda: ingest(papers, settings, embedder=emb), args.profile)
    noop_s = time.perf_counter() - t
    changed, n_changed = changed_copy(papers)
    emb.seconds = 0.0
    t = time.perf_counter()
    again = ingest(changed, settings, embedder=emb)
    changed_s = time.perf_counter() - t
    inner = emb.inner
    return {
        "papers": len(papers), "chunks": first.chunks, "embedded_texts": texts, "embed_s": embed_s,
        "insert_s": total - embed_s, "noop_s": noop_s, "noop_embedded": noop.chunks_embedded,
        "changed_papers": n_changed, "changed_s": changed_s, "changed_embedded": again.chunks_embedded,
        "changed_embed_s": emb.seconds, "index_mib": du_mib(settings.index_dir), "ingest_rss_mib": rss_mib(),
        "cache_misses": getattr(inner, "misses", 0), "noop_profile": profile,
    }


def _base_docs(papers: list[Any]) -> list[Any]:
    from llama_index.core import Document

    return [Document(text=f"{p.title}\n{p.abstract}", doc_id=p.paper_id) for p in papers]


def _base_bm25(index: Any) -> Any:
    from llama_index.retrievers.bm25 import BM25Retriever

    return BM25Retriever.from_defaults(nodes=list(index.docstore.docs.values()), similarity_top_k=10)


def base_ingest(args: argparse.Namespace) -> dict[str, Any]:
    """Plain llama-index: documents -> default splitter -> VectorStoreIndex (in-memory store,
    persisted as llama-index does), BM25Retriever over the same nodes; re-ingest is
    load_index_from_storage + refresh_ref_docs, BM25 rebuilt only when something changed."""
    from llama_index.core import StorageContext, VectorStoreIndex, load_index_from_storage

    from rag.llama_embedding import LlamaEmbedding
    from scale_data import changed_copy

    papers = _papers(args.size)
    emb = _embedder(args)
    model = LlamaEmbedding(emb)
    where = Path(args.work) / "base"
    docs = _base_docs(papers)

    def refresh(docs: list[Any]) -> int:
        index = load_index_from_storage(StorageContext.from_defaults(persist_dir=str(where / "storage")),
                                        embed_model=model)
        changed = sum(index.refresh_ref_docs(docs))
        if changed:
            _base_bm25(index).persist(str(where / "bm25"))
            index.storage_context.persist(persist_dir=str(where / "storage"))
        return changed

    t = time.perf_counter()
    index = VectorStoreIndex.from_documents(docs, embed_model=model)
    _base_bm25(index).persist(str(where / "bm25"))
    index.storage_context.persist(persist_dir=str(where / "storage"))
    total = time.perf_counter() - t
    embed_s, texts = emb.seconds, emb.texts
    nodes = len(index.docstore.docs)
    del index
    t = time.perf_counter()
    _, profile = _profiled(lambda: refresh(docs), args.profile)
    noop_s = time.perf_counter() - t
    changed, n_changed = changed_copy(papers)
    emb.seconds, before = 0.0, emb.texts
    t = time.perf_counter()
    refresh(_base_docs(changed))
    changed_s = time.perf_counter() - t
    return {
        "papers": len(papers), "chunks": nodes, "embedded_texts": texts, "embed_s": embed_s,
        "insert_s": total - embed_s, "noop_s": noop_s, "changed_papers": n_changed, "changed_s": changed_s,
        "changed_embedded": emb.texts - before, "changed_embed_s": emb.seconds,
        "index_mib": du_mib(where), "ingest_rss_mib": rss_mib(),
        "cache_misses": getattr(emb.inner, "misses", 0), "noop_profile": profile,
    }


def ours_serve(args: argparse.Namespace) -> dict[str, Any]:
    from rag.embed import MiniLMEmbedder
    from rag.service import RagService

    qs = questions()
    svc = RagService(_settings(Path(args.work) / "ours"), embedder=MiniLMEmbedder())
    t = time.perf_counter()
    _, profile = _profiled(lambda: svc.search(qs[0]), args.profile)
    first_s = time.perf_counter() - t
    open_rss = rss_mib()
    search = timed_ms(svc.search, qs)
    svc.retriever._qcache.clear()  # each ask pays for its own query embedding
    ask = timed_ms(svc.ask, qs)
    return {"first_search_s": first_s, "search_ms": search, "ask_ms": ask, "open_rss_mib": open_rss,
            "serve_rss_mib": rss_mib(), "open_profile": profile}


def _base_open(work: Path) -> tuple[Any, Any]:
    from llama_index.core import StorageContext, load_index_from_storage
    from llama_index.core.llms import MockLLM
    from llama_index.core.query_engine import RetrieverQueryEngine
    from llama_index.core.retrievers import QueryFusionRetriever
    from llama_index.retrievers.bm25 import BM25Retriever

    from rag.embed import MiniLMEmbedder
    from rag.llama_embedding import LlamaEmbedding

    model = LlamaEmbedding(MiniLMEmbedder())
    index = load_index_from_storage(StorageContext.from_defaults(persist_dir=str(work / "base" / "storage")),
                                    embed_model=model)
    bm25 = BM25Retriever.from_persist_dir(str(work / "base" / "bm25"))
    fusion = QueryFusionRetriever([index.as_retriever(similarity_top_k=10), bm25], similarity_top_k=10,
                                  num_queries=1, mode="reciprocal_rerank", use_async=False, llm=MockLLM(max_tokens=64))
    return fusion, RetrieverQueryEngine.from_args(fusion, llm=MockLLM(max_tokens=64))  # echoes 64 tokens


def base_serve(args: argparse.Namespace) -> dict[str, Any]:
    qs = questions()
    t = time.perf_counter()
    (fusion, engine), profile = _profiled(lambda: _base_open(Path(args.work)), args.profile)
    fusion.retrieve(qs[0])
    first_s = time.perf_counter() - t
    open_rss = rss_mib()
    search = timed_ms(fusion.retrieve, qs)
    ask = timed_ms(engine.query, qs)
    return {"first_search_s": first_s, "search_ms": search, "ask_ms": ask, "open_rss_mib": open_rss,
            "serve_rss_mib": rss_mib(), "open_profile": profile}


def base_cold(args: argparse.Namespace) -> dict[str, Any]:
    fusion, _ = _base_open(Path(args.work))
    print(len(fusion.retrieve(args.query)))
    return {}


PHASES = {"ours_ingest": ours_ingest, "base_ingest": base_ingest, "ours_serve": ours_serve,
          "base_serve": base_serve, "base_cold": base_cold}


# ----------------------------------------------------------------------------- the parent
def _clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RAG_", "OPENAI_"))}
    env["PYTHONPATH"] = str(ROOT)
    return env


def run_child(cmd: list[str], timeout: float) -> tuple[float, float, int, str]:
    """Wall seconds, peak RSS (MiB), exit status and stderr tail of one fresh process."""
    with tempfile.TemporaryFile() as err:
        t = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=ROOT, env=_clean_env(), stdout=subprocess.DEVNULL, stderr=err)
        deadline = time.monotonic() + timeout
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() > deadline:
                proc.kill()
                pid, status, usage = os.wait4(proc.pid, 0)
                break
            time.sleep(0.02)
        wall = time.perf_counter() - t
        proc.returncode = os.waitstatus_to_exitcode(status)
        err.seek(0)
        tail = err.read().decode(errors="replace")[-2000:]
    return wall, usage.ru_maxrss / 1024, proc.returncode, tail


def phase(name: str, size: int, work: Path, args: argparse.Namespace, *, real: bool = False,
          extra: Sequence[str] = ()) -> dict[str, Any]:
    out = work / f"{name}.json"
    cmd = [sys.executable, str(Path(__file__).resolve()), "--phase", name, "--size", str(size), "--work", str(work),
           "--cache", str(args.cache_path), "--result", str(out), *(["--real"] if real else []),
           *(["--profile"] if args.profile else []), *extra]
    wall, rss, rc, tail = run_child(cmd, args.timeout)
    if rc != 0:
        print(f"  !! {name} at {size} failed (exit {rc}, {wall:.0f}s):\n{tail}", flush=True)
        return {"failed": f"exit {rc}: {tail.strip().splitlines()[-1] if tail.strip() else ''}", "wall_s": wall}
    result = json.loads(out.read_text()) if out.exists() else {}
    result.update({f"{name}_wall_s": wall, f"{name}_child_rss_mib": rss})
    print(f"  {name:12s} {size:>7,}  {wall:6.1f}s  peak RSS {rss:6.0f} MiB", flush=True)
    return result


def cold(size: int, work: Path, args: argparse.Namespace, query: str) -> dict[str, Any]:
    """Best of `args.cold` alternating fresh processes per pipeline: wall seconds and peak RSS."""
    ours = [sys.executable, "-m", "rag", "search", query, "--index", str(work / "ours"), "--json"]
    base = [sys.executable, str(Path(__file__).resolve()), "--phase", "base_cold", "--size", str(size), "--work",
            str(work), "--cache", str(args.cache_path), "--query", query, "--result", str(work / "cold.json")]
    got: dict[str, list[tuple[float, float, int]]] = {"ours": [], "base": []}
    for _ in range(args.cold):
        for key, cmd in (("ours", ours), ("base", base)):
            wall, rss, rc, tail = run_child(cmd, args.timeout)
            if rc != 0:
                print(f"  !! cold {key} at {size}: exit {rc}\n{tail}", flush=True)
            got[key].append((wall, rss, rc))
    return {k: {"cold_s": min(w for w, _, _ in v), "cold_all_s": [w for w, _, _ in v],
                "cold_rss_mib": max(r for _, r, _ in v), "cold_ok": all(rc == 0 for _, _, rc in v)}
            for k, v in got.items()}


def ensure_cache(args: argparse.Namespace) -> None:
    from rag.corpus import load_corpus
    from rag.embed import MiniLMEmbedder
    from scale_data import build_cache, cache_file, seed_texts

    seeds = load_corpus(SEEDS).papers
    args.cache_path = cache_file(seeds, CACHE_DIR)
    if not args.cache_path.exists():
        t = time.perf_counter()
        build_cache(seeds, args.cache_path, MiniLMEmbedder())
        print(f"embedded {len(seed_texts(seeds)):,} distinct seed texts once in {time.perf_counter() - t:.0f}s "
              f"-> {args.cache_path}", flush=True)


def measure(size: int, args: argparse.Namespace) -> dict[str, Any]:
    real = size == 517
    print(f"size {size:,} ({'real embedder' if real else 'precomputed vectors'})", flush=True)
    with tempfile.TemporaryDirectory(prefix=f"bench-scale-{size}-") as tmp:
        work = Path(tmp)
        res: dict[str, Any] = {"size": size, "real_embedder": real, "ours": {}, "base": {}}
        for key in ("ours", "base"):
            res[key].update(phase(f"{key}_ingest", size, work, args, real=real))
        if "failed" in res["ours"]:
            return res
        for key in ("ours", "base"):
            if "failed" not in res[key]:
                res[key].update(phase(f"{key}_serve", size, work, args))
        for key, value in cold(size, work, args, questions()[1]).items():
            res[key].update(value)
    return res


# ----------------------------------------------------------------------------- report
def _row(label: str, ours: str, base: str, ratio: str = "", target: str = "") -> str:
    return f"| {label} | {ours} | {base} | {ratio} | {target} |"


def _f(d: dict[str, Any], key: str, fmt: str = "{:.2f}") -> str:
    return fmt.format(d[key]) if key in d else "—"


def derived(res: dict[str, Any], rates: dict[str, float]) -> None:
    """Embedding seconds (measured at 517, extrapolated per embedded text elsewhere) and throughput."""
    for key in ("ours", "base"):
        d = res[key]
        if "failed" in d or "embed_s" not in d:
            continue
        if res["real_embedder"]:
            d["embed_est_s"] = d["embed_s"]
            d["changed_embed_est_s"] = d["changed_embed_s"]
        else:
            d["embed_est_s"] = d["embedded_texts"] * rates[key]
            d["changed_embed_est_s"] = d["changed_embedded"] * rates[key]
        d["ingest_s"] = d["embed_est_s"] + d["insert_s"]
        d["papers_per_s"] = d["papers"] / d["ingest_s"]
        d["changed_total_s"] = d["changed_s"] - d["changed_embed_s"] + d["changed_embed_est_s"]
        for k in ("search_ms", "ask_ms"):
            if k in d:
                d[k.replace("_ms", "_p50")] = pct(d[k], 50)
                d[k.replace("_ms", "_p95")] = pct(d[k], 95)


def table(res: dict[str, Any]) -> str:
    o, b = res["ours"], res["base"]
    n = res["size"]
    big = n >= 100_000

    def ratio(a: str, c: str, inverse: bool = False) -> str:
        if a not in o or c not in b or not o[a] or not b[c]:
            return ""
        return f"{(b[c] / o[a]) if inverse else (o[a] / b[c]):.2f}×"

    def mark(ok: bool | None, text: str, applies: bool = True) -> str:
        if ok is None:
            return text
        return f"{text} {'✓' if ok else '✗'}" + ("" if applies else " (100k target)")

    label = "real embedder" if res["real_embedder"] else "precomputed vectors; embedding extrapolated"
    lines = [f"### {n:,} papers ({label})", "",
             "| metric | this pipeline | plain llama-index | ratio | target |", "|---|---|---|---|---|"]
    if "failed" in o:
        lines.append(_row("ingest", f"FAILED: {o['failed']}", "", "", ""))
        return "\n".join(lines)
    thr_ok = o.get("papers_per_s", 0) >= 1.5 * b.get("papers_per_s", float("inf")) if "papers_per_s" in b else None
    lines += [
        _row("chunks / nodes indexed", f"{o['chunks']:,}", f"{b.get('chunks', 0):,}"),
        _row("ingest: embedding (s)" + ("" if res["real_embedder"] else ", extrapolated"),
             _f(o, "embed_est_s", "{:.1f}"), _f(b, "embed_est_s", "{:.1f}"), ratio("embed_est_s", "embed_est_s")),
        _row("ingest: insertion (s), measured", _f(o, "insert_s", "{:.1f}"), _f(b, "insert_s", "{:.1f}"),
             ratio("insert_s", "insert_s")),
        _row("ingest throughput (papers/s)", _f(o, "papers_per_s", "{:.1f}"), _f(b, "papers_per_s", "{:.1f}"),
             ratio("papers_per_s", "papers_per_s"), mark(thr_ok, "≥ 1.5× baseline")),
    ]
    if n == 517:
        lines.append(_row("ingest 517 papers, total (s)", _f(o, "ingest_s", "{:.1f}"), _f(b, "ingest_s", "{:.1f}"),
                          ratio("ingest_s", "ingest_s"), mark(o["ingest_s"] <= 20, "≤ 20 s")))
    lines += [
        _row("re-ingest, nothing changed (s)", _f(o, "noop_s"), _f(b, "noop_s"), ratio("noop_s", "noop_s"),
             mark(o["noop_s"] <= 2, "≤ 2 s", big)),
        _row(f"re-ingest, {o['changed_papers']} papers (1%) changed (s)", _f(o, "changed_total_s"),
             _f(b, "changed_total_s"), ratio("changed_total_s", "changed_total_s")),
    ]
    if "search_p50" in o:
        s_ok = o["search_p95"] <= b["search_p95"] if "search_p95" in b else None
        lines += [
            _row("search p50 / p95 (ms)", f"{o['search_p50']:.1f} / {o['search_p95']:.1f}",
                 f"{b['search_p50']:.1f} / {b['search_p95']:.1f}" if "search_p50" in b else "—",
                 ratio("search_p95", "search_p95"),
                 mark(o["search_p95"] <= 50, "p95 ≤ 50", big) + "; " + mark(s_ok, "≤ baseline")),
            _row("ask p50 / p95 (ms)", f"{o['ask_p50']:.1f} / {o['ask_p95']:.1f}",
                 f"{b['ask_p50']:.1f} / {b['ask_p95']:.1f}" if "ask_p50" in b else "—", ratio("ask_p95", "ask_p95"),
                 mark(o["ask_p95"] <= 100, "p95 ≤ 100", big)),
            _row("first search in an open process (s)", _f(o, "first_search_s"), _f(b, "first_search_s"),
                 ratio("first_search_s", "first_search_s")),
            _row("serving peak RSS (MiB)", _f(o, "serve_rss_mib", "{:.0f}"), _f(b, "serve_rss_mib", "{:.0f}"),
                 ratio("serve_rss_mib", "serve_rss_mib"), mark(o["serve_rss_mib"] <= 1536, "≤ 1.5 GB", big)),
        ]
    if "cold_s" in o:
        lines.append(_row("cold search, fresh process (s, best of %d)" % len(o["cold_all_s"]), _f(o, "cold_s"),
                          _f(b, "cold_s"), ratio("cold_s", "cold_s"), mark(o["cold_s"] <= 2, "≤ 2 s", big)))
    lines += [
        _row("index size on disk (MiB)", _f(o, "index_mib", "{:.0f}"), _f(b, "index_mib", "{:.0f}"),
             ratio("index_mib", "index_mib")),
        _row("ingest peak RSS (MiB)", _f(o, "ingest_rss_mib", "{:.0f}"), _f(b, "ingest_rss_mib", "{:.0f}"),
             ratio("ingest_rss_mib", "ingest_rss_mib")),
    ]
    misses = o.get("cache_misses", 0) + b.get("cache_misses", 0)
    if misses and not res["real_embedder"]:
        lines.append(f"\n(texts not in the vector cache, embedded by the real model: ours {o.get('cache_misses', 0)}, "
                     f"baseline {b.get('cache_misses', 0)})")
    return "\n".join(lines)


def plot(results: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (lat, mem) = plt.subplots(1, 2, figsize=(11, 4.2))
    for key, style, name in (("ours", "-", "this pipeline"), ("base", "--", "plain llama-index")):
        rows = [r for r in results if "search_p95" in r[key]]
        xs = [r["size"] for r in rows]
        for metric, colour, label in (("search_p95", "C0", "search p95"), ("ask_p95", "C1", "ask p95")):
            lat.plot(xs, [r[key][metric] for r in rows], style, color=colour, marker="o", label=f"{label}, {name}")
        lat.plot(xs, [r[key]["cold_s"] * 1000 for r in rows if "cold_s" in r[key]], style, color="C2", marker="s",
                 label=f"cold search, {name}")
        for metric, colour, label in (("serve_rss_mib", "C3", "serving peak RSS"),
                                      ("ingest_rss_mib", "C4", "ingest peak RSS"), ("index_mib", "C5", "index on disk")):
            mem.plot(xs, [r[key][metric] for r in rows], style, color=colour, marker="o", label=f"{label}, {name}")
    for ax, title, unit in ((lat, "latency", "ms"), (mem, "memory and disk", "MiB")):
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("papers")
        ax.set_ylabel(unit)
        ax.set_title(title)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="1000,10000", help="comma-separated collection sizes (517 is always run)")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "scale.json")
    ap.add_argument("--plot", type=Path, default=None, help="write a PNG of latency and memory against size")
    ap.add_argument("--timeout", type=float, default=900, help="seconds per phase before it is killed")
    ap.add_argument("--cold", type=int, default=2, help="cold starts per pipeline and size (best is reported)")
    ap.add_argument("--profile", action="store_true", help="cProfile the no-op re-ingest and the first search")
    ap.add_argument("--report", type=Path, default=None, help="only print the tables (and --plot) of a saved JSON")
    ap.add_argument("--phase", choices=sorted(PHASES), help=argparse.SUPPRESS)
    ap.add_argument("--size", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--work", help=argparse.SUPPRESS)
    ap.add_argument("--cache", help=argparse.SUPPRESS)
    ap.add_argument("--result", help=argparse.SUPPRESS)
    ap.add_argument("--query", help=argparse.SUPPRESS)
    ap.add_argument("--real", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.phase:  # a child
        import logging

        logging.disable(logging.WARNING)
        result = PHASES[args.phase](args)
        Path(args.result).write_text(json.dumps(result))
        return

    if args.report:  # print the tables (and plot) of a saved run again
        saved = json.loads(args.report.read_text())
        for res in saved["results"]:
            print("\n" + table(res) + "\n")
        if args.plot:
            plot(saved["results"], args.plot)
            print(f"wrote {args.plot}")
        return
    ensure_cache(args)
    sizes = [517] + [int(s) for s in args.sizes.split(",") if s.strip() and int(s) != 517]
    results: list[dict[str, Any]] = []
    rates: dict[str, float] = {}
    started = time.perf_counter()
    for size in sizes:
        res = measure(size, args)
        if size == 517:
            rates = {k: res[k]["embed_s"] / max(res[k]["embedded_texts"], 1) for k in ("ours", "base")
                     if "embed_s" in res[k]}
        derived(res, rates)
        results.append(res)
        print("\n" + table(res) + "\n", flush=True)
    print(f"embedding seconds per text (517 run, real model): ours {rates.get('ours', 0) * 1000:.2f} ms per chunk, "
          f"baseline {rates.get('base', 0) * 1000:.2f} ms per document; whole run {time.perf_counter() - started:.0f}s")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    meta = {"sizes": sizes, "cpus": os.cpu_count(), "python": sys.version.split()[0],
            "embed_s_per_text": rates, "questions": QUESTIONS, "when": time.strftime("%Y-%m-%dT%H:%M:%S")}
    args.out.write_text(json.dumps({"meta": meta, "results": results}, indent=1))
    print(f"wrote {args.out}")
    if args.plot:
        plot(results, args.plot)
        print(f"wrote {args.plot}")


if __name__ == "__main__":
    main()
