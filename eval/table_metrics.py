"""Scores of a table answer against a question's exhaustive gold rows (eval/*.jsonl,
type "table"): paper recall and precision of the table, cell precision (a row of a gold
paper whose value, metric and dataset match one of that paper's gold rows), whether the
best row is the gold best, and, for questions whose honest answer is empty, whether the
table is empty."""

from __future__ import annotations

from typing import Any

from eval.claims import _num, dataset_match, metric_match
from rag.types import Answer


def score_table(item: dict[str, Any], answer: Answer) -> dict[str, float]:
    gold = set(item["gold"])
    rows = answer.table
    got = list(dict.fromkeys(r.paper_id for r in rows))
    out: dict[str, float] = {}
    if not gold:
        out["table_empty_correct"] = float(not got)
        return out
    hit = [p for p in got if p in gold]
    out["table_recall"] = len(set(hit)) / len(gold)
    out["table_precision"] = len(hit) / len(got) if got else 0.0
    by_paper: dict[str, list[dict[str, Any]]] = {}
    for g in item["gold_rows"]:
        by_paper.setdefault(g["paper_id"], []).append(g)
    cells = [r for r in rows if r.paper_id in gold and r.value]
    if cells:
        ok = 0
        for r in cells:
            ok += any(_num(g.get("value") or "") == _num(r.value)
                      and (not item.get("metric") or metric_match(g.get("metric", ""), r.metric) or not r.metric)
                      and dataset_match(g.get("dataset", "") or r.dataset, r.dataset or g.get("dataset", ""))
                      for g in by_paper.get(r.paper_id, []))
        out["table_cell_precision"] = ok / len(cells)
    if item.get("best"):
        out["table_best_correct"] = float(bool(got) and got[0] == item["best"])
    return out
