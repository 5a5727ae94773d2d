"""Evaluation metrics, each a small function. Paper-level retrieval, key strings,
abstention, ALCE-style citation recall/precision, faithfulness."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

Judge = Callable[[str, str], bool]  # (claim, source text) -> supported?


def recall_at_k(retrieved: Sequence[str], gold: Sequence[str], k: int) -> float:
    if not gold:
        return 1.0
    return len(set(retrieved[:k]) & set(gold)) / len(set(gold))


def mrr(retrieved: Sequence[str], gold: Sequence[str]) -> float:
    for rank, pid in enumerate(retrieved, start=1):
        if pid in gold:
            return 1.0 / rank
    return 0.0


def ndcg_at_k(retrieved: Sequence[str], gold: Sequence[str], k: int) -> float:
    gold_set = set(gold)
    dcg = sum(1.0 / math.log2(i + 2) for i, pid in enumerate(retrieved[:k]) if pid in gold_set)
    ideal = sum(1.0 / math.log2(i + 2) for i in range(min(k, len(gold_set))))
    return dcg / ideal if ideal else 0.0


def _norm(text: str) -> str:
    return " ".join(text.lower().split())


def key_coverage(answer: str, keys: Sequence[str]) -> float:
    """Share of key strings that occur in the answer (case and spacing ignored)."""
    if not keys:
        return 1.0
    a = _norm(answer)
    return sum(1 for k in keys if _norm(k) in a) / len(keys)


def abstention_scores(predicted: Sequence[bool], truth: Sequence[bool]) -> dict[str, float]:
    """Precision and recall of abstaining (abstaining on an answerable question is an error)."""
    tp = sum(1 for p, t in zip(predicted, truth) if p and t)
    fp = sum(1 for p, t in zip(predicted, truth) if p and not t)
    fn = sum(1 for p, t in zip(predicted, truth) if not p and t)
    return {
        "abstention_precision": tp / (tp + fp) if tp + fp else 1.0,
        "abstention_recall": tp / (tp + fn) if tp + fn else 1.0,
    }


def citation_scores(sentences: Sequence[tuple[str, Sequence[int]]], sources: dict[int, str], judge: Judge) -> dict[str, float]:
    """ALCE-style: recall = sentences supported by the union of their citations;
    precision = citations that support their sentence on their own, or are needed
    because the others alone do not."""
    if not sentences:
        return {"citation_recall": 0.0, "citation_precision": 0.0}
    supported = 0
    cites = precise = 0
    for sentence, nums in sentences:
        valid = [n for n in nums if n in sources]
        union = " ".join(sources[n] for n in valid)
        ok = bool(valid) and judge(sentence, union)
        supported += ok
        for n in valid:
            cites += 1
            alone = judge(sentence, sources[n])
            others = " ".join(sources[m] for m in valid if m != n)
            needed = ok and not (others and judge(sentence, others))
            precise += alone or needed
    return {
        "citation_recall": supported / len(sentences),
        "citation_precision": precise / cites if cites else 0.0,
    }


def faithfulness(sentences: Sequence[str], context: str, judge: Judge) -> float:
    """Share of answer sentences supported by the retrieved context."""
    if not sentences:
        return 1.0
    return sum(1 for s in sentences if judge(s, context)) / len(sentences)


def cited_gold(cited: Sequence[str], gold: Sequence[str]) -> float:
    """Share of cited papers that are gold papers."""
    if not cited:
        return 0.0
    return sum(1 for c in cited if c in set(gold)) / len(cited)


def gold_cited(cited: Sequence[str], gold: Sequence[str]) -> float:
    """Share of gold papers the answer cites (for list questions: how complete it is)."""
    if not gold:
        return float("nan")
    return sum(1 for g in set(gold) if g in set(cited)) / len(set(gold))


def mean(xs: Sequence[float]) -> float:
    xs = [x for x in xs if x is not None and not (isinstance(x, float) and math.isnan(x))]
    return sum(xs) / len(xs) if xs else float("nan")


