"""Runs the eval: retrieval (hybrid + BM25-only + dense-only baselines), answers,
citations, faithfulness, abstention, judge calibration; writes eval/results/latest.{json,md,png}
and returns the failed threshold checks."""

from __future__ import annotations

import json
import math
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from tqdm import tqdm

from eval import metrics as M
from eval.judge import SupportJudge
from rag.citations import sentences_with_citations
from rag.service import RagService

EVAL_DIR = Path(__file__).resolve().parent
DATASET = EVAL_DIR / "dataset.jsonl"
THRESHOLDS = EVAL_DIR / "thresholds.json"
CALIBRATION = EVAL_DIR / "judge_calibration.jsonl"


def load_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def judge_accuracy(judge: SupportJudge, service: RagService) -> float:
    papers = service.retriever.index.papers
    rows = load_jsonl(CALIBRATION)
    return sum(judge(r["claim"], papers[r["paper_id"]].abstract) == r["supported"] for r in rows) / len(rows)


def score_answer(item: dict[str, Any], answer: Any, judge: SupportJudge) -> dict[str, Any]:
    """Answer-level metrics for one question."""
    out: dict[str, Any] = {"abstained": answer.abstained, "answer": answer.text,
                           "gold_cited": M.gold_cited([c.paper_id for c in answer.citations], item["gold"])}
    if answer.abstained:
        return out
    sentences = sentences_with_citations(answer.text)
    sources = {c.n: next(h.paper.abstract for h in answer.hits if h.paper_id == c.paper_id) for c in answer.citations}
    out.update(M.citation_scores(sentences, sources, judge))
    context = " ".join(h.paper.abstract for h in answer.hits)
    out["faithfulness"] = M.faithfulness([s for s, _ in sentences], context, judge)
    out["key_coverage"] = M.key_coverage(answer.text, item["key_strings"])
    out["cited_gold"] = M.cited_gold([c.paper_id for c in answer.citations], item["gold"])
    return out


def run(service: RagService, answerer: Any = None, items: list[dict[str, Any]] | None = None,
        baselines: bool = True, progress: bool = True) -> dict[str, Any]:
    """Score every question. `answerer(question) -> Answer` defaults to service.ask."""
    items = items or load_jsonl(DATASET)
    answerer = answerer or service.ask
    judge = SupportJudge(service.retriever.index.embedder)
    rows = []
    t0 = time.perf_counter()
    modes = ("hybrid", "lexical", "dense") if baselines else ("hybrid",)
    for item in tqdm(items, desc="eval", disable=not progress):
        row: dict[str, Any] = {"id": item["id"], "type": item["type"], "question": item["question"]}
        for mode in modes:
            ids = [h.paper_id for h in service.retriever.search(item["question"], top_k=20, mode=mode, cutoff=False)]
            prefix = "" if mode == "hybrid" else f"{mode}_"
            if item["type"] != "unanswerable":
                row[f"{prefix}recall@5"] = M.recall_at_k(ids, item["gold"], 5)
                row[f"{prefix}recall@10"] = M.recall_at_k(ids, item["gold"], 10)
                row[f"{prefix}recall@20"] = M.recall_at_k(ids, item["gold"], 20)
                row[f"{prefix}mrr"] = M.mrr(ids, item["gold"])
                row[f"{prefix}ndcg@10"] = M.ndcg_at_k(ids, item["gold"], 10)
        answer = answerer(item["question"])
        row["backend"] = answer.backend
        row.update(score_answer(item, answer, judge))
        rows.append(row)
    seconds = time.perf_counter() - t0
    return {"summary": summarize(rows, items), "by_type": by_type(rows), "questions": rows,
            "judge_accuracy": judge_accuracy(judge, service), "seconds": round(seconds, 1),
            "n_questions": len(rows)}


AGG = ["recall@5", "recall@10", "recall@20", "mrr", "ndcg@10", "lexical_recall@10", "dense_recall@10",
       "lexical_mrr", "dense_mrr", "key_coverage", "citation_recall", "citation_precision", "cited_gold", "faithfulness"]


def summarize(rows: list[dict[str, Any]], items: list[dict[str, Any]]) -> dict[str, float]:
    s = {k: M.mean([r[k] for r in rows if k in r]) for k in AGG}
    s["list_recall@20"] = M.mean([r["recall@20"] for r in rows if r["type"] == "list"])
    # how complete list answers are: gold papers cited, over list and which questions
    s["list_gold_cited"] = M.mean([r["gold_cited"] for r in rows if r["type"] in ("list", "which")])
    s.update(M.abstention_scores([r["abstained"] for r in rows], [i["type"] == "unanswerable" for i in items]))
    return {k: round(v, 4) for k, v in s.items() if not (isinstance(v, float) and math.isnan(v))}


def by_type(rows: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        groups[r["type"]].append(r)
    out = {}
    for kind, rs in sorted(groups.items()):
        vals = {k: M.mean([r[k] for r in rs if k in r]) for k in AGG}
        vals["abstain_rate"] = M.mean([float(r["abstained"]) for r in rs])
        out[kind] = {k: round(v, 4) for k, v in vals.items() if not math.isnan(v)} | {"n": len(rs)}
    return out


def check_thresholds(result: dict[str, Any], thresholds: dict[str, float]) -> list[str]:
    values = {**result["summary"], "judge_accuracy": result["judge_accuracy"]}
    return [f"{k} = {values.get(k, float('nan')):.3f} < {v}" for k, v in thresholds.items()
            if not values.get(k, float("-inf")) >= v]


def write_report(result: dict[str, Any], thresholds: dict[str, float], out_dir: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "latest.json").write_text(json.dumps(result, indent=1))
    _chart(result, out_dir / "latest.png")
    s = result["summary"]
    lines = [f"# Eval report ({result['n_questions']} questions, {result['seconds']} s)", "",
             "| metric | value | threshold |", "|---|---|---|"]
    for k, v in s.items():
        lines.append(f"| {k} | {v:.3f} | {thresholds.get(k, '')} |")
    lines.append(f"| judge_accuracy (calibration set) | {result['judge_accuracy']:.3f} | {thresholds.get('judge_accuracy', '')} |")
    lines += ["", "## Retrieval: hybrid vs baselines", "", "| | recall@10 | MRR |", "|---|---|---|",
              f"| hybrid | {s['recall@10']:.3f} | {s['mrr']:.3f} |"]
    for name, key in (("BM25 only", "lexical"), ("dense only", "dense")):
        if f"{key}_mrr" in s:  # absent with --no-baselines
            lines.append(f"| {name} | {s[f'{key}_recall@10']:.3f} | {s[f'{key}_mrr']:.3f} |")
    lines += ["", "## By question type", "", "![metrics by type](latest.png)", ""]
    cols = ["n", "recall@10", "recall@20", "key_coverage", "citation_precision", "cited_gold", "faithfulness", "abstain_rate"]
    lines += ["| type | " + " | ".join(cols) + " |", "|---" * (len(cols) + 1) + "|"]
    for kind, vals in result["by_type"].items():
        lines.append(f"| {kind} | " + " | ".join(f"{vals[c]:.2f}" if c in vals else "" for c in cols) + " |")
    worst = sorted(result["questions"], key=_badness, reverse=True)[:8]
    lines += ["", "## Worst questions", ""]
    for r in worst:
        lines.append(f"- **{r['id']}** ({r['type']}) {r['question']}  ")
        lines.append(f"  recall@10={r.get('recall@10', '-')}, key_coverage={r.get('key_coverage', '-')}, abstained={r['abstained']}  ")
        lines.append(f"  > {r['answer'][:400].replace(chr(10), ' ')}")
    (out_dir / "latest.md").write_text("\n".join(lines) + "\n")


def _badness(r: dict[str, Any]) -> float:
    wrong_abstain = float(r["abstained"] != (r["type"] == "unanswerable"))
    return 2 * wrong_abstain + (1 - r.get("recall@10", 1)) + (1 - r.get("key_coverage", 1))


def _chart(result: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    keys = ["recall@10", "key_coverage", "citation_precision", "faithfulness", "abstain_rate"]
    kinds = list(result["by_type"])
    fig, ax = plt.subplots(figsize=(9, 4))
    width = 0.8 / len(keys)
    for i, k in enumerate(keys):
        ax.bar([x + i * width for x in range(len(kinds))], [result["by_type"][t].get(k, 0) for t in kinds], width, label=k)
    ax.set_xticks([x + 0.4 - width / 2 for x in range(len(kinds))], kinds)
    ax.set_ylim(0, 1.05)
    ax.legend(fontsize=8, ncol=3)
    ax.set_title("Metrics by question type")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
