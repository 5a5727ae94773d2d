"""LLM judges, when an LLM is configured: llama-index's FaithfulnessEvaluator (is the
answer supported by the retrieved abstracts?) and CorrectnessEvaluator (1-5 against the
reference answer), over the answered questions of a split. Offline, the deterministic
judge in eval/judge.py is the only one."""

from __future__ import annotations

from typing import Any

from eval import metrics as M


def llm_judge_scores(rows: list[dict[str, Any]], items: list[dict[str, Any]], contexts: dict[str, list[str]],
                     llm: Any) -> dict[str, float]:
    """Mean faithfulness (share judged supported) and correctness (score / 5) of the
    answered rows; `contexts[id]` are the abstracts the answer was given."""
    from llama_index.core.evaluation import CorrectnessEvaluator, FaithfulnessEvaluator

    faithful = FaithfulnessEvaluator(llm=llm)
    correct = CorrectnessEvaluator(llm=llm)
    by_id = {i["id"]: i for i in items}
    f_scores, c_scores = [], []
    for row in rows:
        if row["abstained"] or row["type"] == "unanswerable":
            continue
        item = by_id[row["id"]]
        f = faithful.evaluate(query=item["question"], response=row["answer"], contexts=contexts[row["id"]])
        c = correct.evaluate(query=item["question"], response=row["answer"], reference=item.get("reference", ""))
        row["llm_faithful"] = float(bool(f.passing))
        row["llm_correctness"] = (c.score or 0.0) / 5.0
        f_scores.append(row["llm_faithful"])
        c_scores.append(row["llm_correctness"])
    return {"llm_faithfulness": M.mean(f_scores), "llm_correctness": M.mean(c_scores)}
