"""Runs the eval on two splits and a name probe; writes eval/results/latest.{json,md,png}
and returns the failed threshold checks.

- dev (eval/dev.jsonl): the questions the pipeline is tuned on;
- test (eval/test.jsonl): written by a helper with a fresh context that never read the
  answerer, before the answerer changed; never tuned on;
- names: for every paper whose title starts with a short name ("X: ..."), "What
  results does X report?" must find that paper (generated from the corpus).

Retrieval is scored for the pipeline and, in the same run, for BM25 only, dense only and
plain reciprocal-rank fusion; answers for key strings, abstention, citations, the papers
cited, faithfulness (judge) and traceability (every name and number of the answer's own
words is in its source).
"""

from __future__ import annotations

import json
import math
import statistics
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from tqdm import tqdm

from eval import metrics as M
from eval.judge import SupportJudge
from eval.table_metrics import score_table
from rag.citations import sentences_with_citations
from rag.compose import check_traceable
from rag.followup import Turn
from rag.service import RagService

EVAL_DIR = Path(__file__).resolve().parent
SPLITS = {"dev": EVAL_DIR / "dev.jsonl", "test": EVAL_DIR / "test.jsonl"}
DATASET = SPLITS["dev"]
THRESHOLDS = EVAL_DIR / "thresholds.json"
CALIBRATION = EVAL_DIR / "judge_calibration.jsonl"
MODES = ("hybrid", "lexical", "dense", "rrf")
SINGLE = ("fact", "which", "yesno")


def load_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def judge_accuracy(judge: SupportJudge, service: RagService) -> float:
    rows = load_jsonl(CALIBRATION)
    return sum(judge(r["claim"], service.paper(r["paper_id"]).abstract) == r["supported"] for r in rows) / len(rows)


def score_answer(item: dict[str, Any], answer: Any, judge: SupportJudge, service: RagService) -> dict[str, Any]:
    """Answer-level metrics for one question."""
    if item["type"] == "table":
        return {"abstained": answer.abstained, "answer": answer.text, "table_rows": len(answer.table),
                "traceable": float(not check_traceable(answer.text, answer.citations, service.retriever)),
                **score_table(item, answer)}
    answerable = item["type"] != "unanswerable"
    cited = [c.paper_id for c in answer.citations]
    out: dict[str, Any] = {"abstained": answer.abstained, "answer": answer.text,
                           "gold_cited": M.gold_cited(cited, item["gold"])}
    if answerable:
        out["false_abstain"] = float(answer.abstained)
    if answer.abstained:
        return out
    sentences = sentences_with_citations(answer.text)
    sources = {c.n: service.paper(c.paper_id).abstract for c in answer.citations}
    out.update(M.citation_scores(sentences, sources, judge))
    context = " ".join(h.paper.abstract for h in answer.hits)
    out["faithfulness"] = M.faithfulness([s for s, _ in sentences], context, judge)
    out["traceable"] = float(not check_traceable(answer.text, answer.citations, service.retriever))
    out["key_coverage"] = M.key_coverage(answer.text, item["key_strings"])
    out["cited_gold"] = M.cited_gold(cited, item["gold"])
    if item["type"] in SINGLE:
        out["words"] = len(answer.text.split())
    if item["type"] == "compare":
        out["compare_covered"] = float(all(g in cited for g in item["gold"]))
    return out


def _ask(service: RagService, item: dict[str, Any], answerer: Any) -> Any:
    history = []
    for earlier in item.get("history", []):
        history.append(Turn.from_answer(service.ask(earlier)))
    if history:
        return service.ask(item["question"], history=history)
    return answerer(item["question"])


def run_split(service: RagService, items: list[dict[str, Any]], answerer: Any, judge: SupportJudge,
              baselines: bool = True, progress: bool = True, desc: str = "eval", llm: Any = None) -> dict[str, Any]:
    rows = []
    contexts: dict[str, list[str]] = {}
    modes = MODES if baselines else ("hybrid",)
    for item in tqdm(items, desc=desc, disable=not progress):
        row: dict[str, Any] = {"id": item["id"], "type": item["type"], "question": item["question"],
                               "describes": bool(item.get("describes")), "follow_up": bool(item.get("history"))}
        if item["type"] not in ("unanswerable", "table") and not item.get("history"):
            for mode in modes:
                ids = [h.paper_id for h in service.search(item["question"], top_k=20, mode=mode, cutoff=mode == "hybrid")]
                prefix = "" if mode == "hybrid" else f"{mode}_"
                row[f"{prefix}recall@5"] = M.recall_at_k(ids, item["gold"], 5)
                row[f"{prefix}recall@10"] = M.recall_at_k(ids, item["gold"], 10)
                row[f"{prefix}recall@20"] = M.recall_at_k(ids, item["gold"], 20)
                row[f"{prefix}mrr"] = M.mrr(ids, item["gold"])
                row[f"{prefix}ndcg@10"] = M.ndcg_at_k(ids, item["gold"], 10)
        t0 = time.perf_counter()
        answer = _ask(service, item, answerer)
        row["ms"] = round(1000 * (time.perf_counter() - t0), 1)
        row["backend"] = answer.backend
        row.update(score_answer(item, answer, judge, service))
        contexts[item["id"]] = [f"{h.paper.title}\n{h.paper.abstract}" for h in answer.hits[:8]]
        rows.append(row)
    summary = summarize(rows, items)
    if llm is not None:
        from eval.llm_judge import llm_judge_scores

        summary.update({k: round(v, 4) for k, v in llm_judge_scores(rows, items, contexts, llm).items()})
    return {"summary": summary, "by_type": by_type(rows), "questions": rows, "n_questions": len(rows)}


def name_probe(service: RagService) -> dict[str, float]:
    """'What results does X report?' for every paper titled 'X: ...' (X of at most four
    words): the share found first, in the top 3 and in the top 20."""
    ranks = []
    for paper in service.papers():
        head, colon, _ = paper.title.partition(":")
        if not colon or not 1 <= len(head.split()) <= 4:
            continue
        ids = [h.paper_id for h in service.search(f"What results does {head.strip()} report?", top_k=20)]
        ranks.append(ids.index(paper.paper_id) + 1 if paper.paper_id in ids else 99)
    n = len(ranks) or 1
    return {"n": len(ranks), "name_top1": sum(r == 1 for r in ranks) / n,
            "name_top3": sum(r <= 3 for r in ranks) / n, "name_top20": sum(r <= 20 for r in ranks) / n}


def run(service: RagService, answerer: Any = None, items: list[dict[str, Any]] | None = None,
        baselines: bool = True, progress: bool = True, splits: tuple[str, ...] = ("dev", "test"),
        llm: Any = None) -> dict[str, Any]:
    """Score the splits (or just `items`, as split "dev"). `answerer(question) -> Answer`
    defaults to service.ask; with `llm`, llama-index's LLM judges score the answers too."""
    answerer = answerer or service.ask
    judge = SupportJudge(service.retriever.index.embedder)
    t0 = time.perf_counter()
    data = {"dev": items} if items is not None else {s: load_jsonl(SPLITS[s]) for s in splits}
    result: dict[str, Any] = {"splits": {}}
    for name, split_items in data.items():
        result["splits"][name] = run_split(service, split_items, answerer, judge, baselines, progress, desc=name, llm=llm)
    if items is None:
        result["names"] = name_probe(service)
        from eval.claims import run as run_claims

        claims = run_claims([s for s in data if s in SPLITS])
        for name in data:
            c = claims[name]
            result["splits"][name]["summary"].update({
                "claims_number_recall": c["numbers"]["recall"], "claims_value_metric_f1": c["value_metric"]["f1"],
                "claims_full_f1": c["full_claim"]["f1"], "claims_right_method": c["right_method_precision"],
                "claims_flag_precision": c["flags"]["precision"], "claims_deterministic": float(claims["deterministic"]),
            })
    result["judge_accuracy"] = judge_accuracy(judge, service)
    result["seconds"] = round(time.perf_counter() - t0, 1)
    return result


AGG = ["recall@5", "recall@10", "recall@20", "mrr", "ndcg@10",
       *(f"{m}_{k}" for m in MODES[1:] for k in ("recall@10", "recall@20", "mrr", "ndcg@10")),
       "key_coverage", "citation_recall", "citation_precision", "cited_gold", "faithfulness", "traceable",
       "false_abstain", "compare_covered", "table_recall", "table_precision", "table_cell_precision",
       "table_best_correct", "table_empty_correct"]


def summarize(rows: list[dict[str, Any]], items: list[dict[str, Any]]) -> dict[str, float]:
    s = {k: M.mean([r[k] for r in rows if k in r]) for k in AGG}
    lists = [r for r in rows if r["type"] == "list" and "recall@20" in r]
    s["list_recall@20"] = M.mean([r["recall@20"] for r in lists])
    for m in MODES[1:]:
        s[f"{m}_list_recall@20"] = M.mean([r[f"{m}_recall@20"] for r in lists if f"{m}_recall@20" in r])
    s["list_gold_cited"] = M.mean([r["gold_cited"] for r in rows if r["type"] in ("list", "which")])
    s["single_cited_gold"] = M.mean([r["cited_gold"] for r in rows if r["type"] in SINGLE and "cited_gold" in r])
    s["describes_key_coverage"] = M.mean([r["key_coverage"] for r in rows if r["describes"] and "key_coverage" in r])
    words = [r["words"] for r in rows if "words" in r]
    s["single_median_words"] = float(statistics.median(words)) if words else float("nan")
    s["ask_p50_ms"] = float(statistics.median(r["ms"] for r in rows if not r["follow_up"]))
    plain = [(r, i) for r, i in zip(rows, items) if i["type"] != "table"]
    s.update(M.abstention_scores([r["abstained"] for r, _ in plain], [i["type"] == "unanswerable" for _, i in plain]))
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


def _values(result: dict[str, Any], split: str) -> dict[str, float]:
    if split == "names":
        return result.get("names", {})
    return {**result["splits"][split]["summary"], "judge_accuracy": result["judge_accuracy"]}


def check_thresholds(result: dict[str, Any], thresholds: dict[str, dict[str, float]]) -> list[str]:
    """Failed checks. A threshold named max_<metric> is an upper bound."""
    failed = []
    for split, checks in thresholds.items():
        if split != "names" and split not in result["splits"]:
            continue
        values = _values(result, split)
        for k, v in checks.items():
            upper = k.startswith("max_")
            key = k[4:] if upper else k
            got = values.get(key, float("nan"))
            ok = got <= v if upper else got >= v
            if not ok or math.isnan(got):
                failed.append(f"{split}: {key} = {got:.3f} {'>' if upper else '<'} {v}")
    return failed


REPORT_ROWS = [
    ("recall@10", "retrieval recall@10"), ("mrr", "MRR"), ("ndcg@10", "nDCG@10"), ("list_recall@20", "list recall@20"),
    ("key_coverage", "key strings"), ("describes_key_coverage", "key strings, questions that describe the paper"),
    ("false_abstain", "false abstention (answerable questions)"), ("abstention_recall", "abstention recall"),
    ("abstention_precision", "abstention precision"), ("single_cited_gold", "cited papers asked about (single-answer)"),
    ("cited_gold", "cited papers that are gold (all)"), ("list_gold_cited", "gold papers cited (list/which)"),
    ("compare_covered", "compare questions with every item cited"), ("citation_precision", "citation precision"),
    ("citation_recall", "citation recall"), ("faithfulness", "faithfulness (judge)"),
    ("traceable", "traceable (names, numbers in sources)"), ("single_median_words", "median words, single-answer"),
    ("ask_p50_ms", "ask p50 (ms, in the eval loop)"),
    ("table_recall", "table questions: paper recall"), ("table_precision", "table questions: paper precision"),
    ("table_cell_precision", "table questions: cell precision"), ("table_best_correct", "table questions: best row is the gold best"),
    ("table_empty_correct", "table questions with no answer: table empty"),
    ("claims_number_recall", "claims (hand-labelled abstracts): number recall"),
    ("claims_value_metric_f1", "claims: (value, metric) F1"), ("claims_full_f1", "claims: full (method, dataset, metric, value) F1"),
    ("claims_right_method", "claims: right-method precision"), ("claims_flag_precision", "claims: flag precision"),
    ("claims_deterministic", "claims: identical on a second run"),
    ("llm_faithfulness", "LLM judge: faithfulness (llama-index)"), ("llm_correctness", "LLM judge: correctness / 5"),
]


def write_report(result: dict[str, Any], thresholds: dict[str, dict[str, float]], out_dir: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "latest.json").write_text(json.dumps(result, indent=1))
    splits = list(result["splits"])
    _chart(result, out_dir / "latest.png")
    head = " | ".join(f"{s} (n={result['splits'][s]['n_questions']})" for s in splits)
    lines = [f"# Eval report ({result['seconds']} s)", "", "Offline extractive backend unless stated. "
             "dev is tuned on; test was written before the change by a helper that never read the answerer, "
             "and is never tuned on.", "", f"| metric | {head} | gate |", "|---" * (len(splits) + 2) + "|"]

    def gate(key: str) -> str:
        return " / ".join(f"{s}: {'≤' if k.startswith('max_') else '≥'} {v}" for s in splits
                          for k, v in thresholds.get(s, {}).items() if k.removeprefix("max_") == key)

    for key, label in REPORT_ROWS:
        vals = [result["splits"][s]["summary"].get(key) for s in splits]
        if all(v is None for v in vals):
            continue
        lines.append(f"| {label} | " + " | ".join("–" if v is None else f"{v:.3f}" for v in vals) + f" | {gate(key)} |")
    lines.append(f"| judge accuracy (calibration set) | {result['judge_accuracy']:.3f} | | |")
    lines += ["", "## Retrieval: the pipeline against its parts and plain RRF (same run)", "",
              "| split | ranking | recall@10 | recall@20 | MRR | nDCG@10 | list recall@20 |", "|---|---|---|---|---|---|---|"]
    for s in splits:
        sm = result["splits"][s]["summary"]
        for label, prefix in (("pipeline", ""), ("BM25 only", "lexical_"), ("dense only", "dense_"), ("plain RRF", "rrf_")):
            if f"{prefix}mrr" in sm:
                lines.append(f"| {s} | {label} | {sm[f'{prefix}recall@10']:.3f} | {sm[f'{prefix}recall@20']:.3f} | "
                             f"{sm[f'{prefix}mrr']:.3f} | {sm[f'{prefix}ndcg@10']:.3f} | {sm.get(f'{prefix}list_recall@20', float('nan')):.3f} |")
    if "names" in result:
        n = result["names"]
        lines += ["", f"Name probe ({n['n']} papers titled 'X: ...', asked 'What results does X report?'): "
                  f"first {n['name_top1']:.3f}, top 3 {n['name_top3']:.3f}, top 20 {n['name_top20']:.3f}."]
    for s in splits:
        lines += ["", f"## {s}: by question type", ""]
        cols = ["n", "recall@10", "key_coverage", "cited_gold", "citation_precision", "faithfulness", "abstain_rate"]
        lines += ["| type | " + " | ".join(cols) + " |", "|---" * (len(cols) + 1) + "|"]
        for kind, vals in result["splits"][s]["by_type"].items():
            lines.append(f"| {kind} | " + " | ".join(f"{vals[c]:.2f}" if c in vals else "" for c in cols) + " |")
    dev = result["splits"].get("dev")
    if dev:
        worst = sorted(dev["questions"], key=_badness, reverse=True)[:10]
        lines += ["", "## Worst dev questions (test questions are not listed: nobody tunes on them)", ""]
        for r in worst:
            lines.append(f"- **{r['id']}** ({r['type']}) {r['question']}  ")
            lines.append(f"  recall@10={r.get('recall@10', '-')}, key_coverage={r.get('key_coverage', '-')}, abstained={r['abstained']}  ")
            lines.append(f"  > {r['answer'][:300].replace(chr(10), ' ')}")
    (out_dir / "latest.md").write_text("\n".join(lines) + "\n")


def _badness(r: dict[str, Any]) -> float:
    wrong_abstain = float(r["abstained"] != (r["type"] == "unanswerable"))
    return 2 * wrong_abstain + (1 - r.get("recall@10", 1)) + (1 - r.get("key_coverage", 1))


def _chart(result: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    keys = ["recall@10", "key_coverage", "single_cited_gold", "faithfulness", "false_abstain", "abstention_recall"]
    splits = list(result["splits"])
    fig, ax = plt.subplots(figsize=(9, 4))
    width = 0.8 / len(splits)
    for i, s in enumerate(splits):
        sm = result["splits"][s]["summary"]
        ax.bar([x + i * width for x in range(len(keys))], [sm.get(k, 0) for k in keys], width, label=s)
    ax.set_xticks([x + 0.4 - width / 2 for x in range(len(keys))], keys, fontsize=8)
    ax.set_ylim(0, 1.05)
    ax.legend(fontsize=8)
    ax.set_title("dev vs test")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
