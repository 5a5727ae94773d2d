"""The eval suite itself: the dataset is sound, the metrics are right, and they can fail."""

from __future__ import annotations

import re

import pytest

from eval import metrics as M
from eval.judge import SupportJudge
from eval.runner import CALIBRATION, DATASET, SPLITS, check_thresholds, load_jsonl, run
from rag.types import Answer, Citation


@pytest.mark.parametrize("split", sorted(SPLITS))
def test_dataset_is_sound(corpus, split):
    items = load_jsonl(SPLITS[split])
    papers = {p.paper_id: p for p in corpus.papers}
    types = [i["type"] for i in items]
    assert len(items) >= 80 and types.count("list") >= 10 and types.count("unanswerable") >= 10
    assert {"fact", "which", "list", "compare", "yesno", "unanswerable", "table"} <= set(types)
    assert types.count("table") >= 15
    assert len({i["id"] for i in items}) == len(items)
    for item in items:
        assert all(g in papers for g in item["gold"]), item["id"]
        assert item["gold"] or item["type"] in ("unanswerable", "table"), item["id"]
        text = " ".join(" ".join(f"{papers[g].title} {papers[g].abstract}" for g in item["gold"]).lower().split())
        if item["type"] == "table":  # exhaustive gold rows, each an exact sentence of its paper
            assert item["gold"] == list(dict.fromkeys(r["paper_id"] for r in item["gold_rows"])), item["id"]
            for row in item["gold_rows"]:
                assert row["sentence"] in papers[row["paper_id"]].abstract, item["id"]
            assert item["greps"], item["id"]
            continue
        for key in item["key_strings"]:
            assert " ".join(key.lower().split()) in text, (item["id"], key)
        if item["type"] == "list" and not item.get("history"):
            assert ("search" in item or "gold_search" in item) and item["gold"], item["id"]


def test_test_split_is_not_the_dev_split():
    dev = {i["question"].lower() for i in load_jsonl(SPLITS["dev"])}
    assert not dev & {i["question"].lower() for i in load_jsonl(SPLITS["test"])}


def test_calibration_set_has_hard_negatives():
    rows = load_jsonl(CALIBRATION)
    kinds = {r["kind"] for r in rows}
    assert len(rows) >= 100
    assert {"wrong number", "right number, wrong paper", "negated", "hand-written"} <= kinds


def test_judge_accuracy_stays_above_floor(service):
    judge = SupportJudge(service.retriever.index.embedder)
    rows = load_jsonl(CALIBRATION)
    acc = sum(judge(r["claim"], service.paper(r["paper_id"]).abstract) == r["supported"] for r in rows) / len(rows)
    assert acc >= 0.9
    src = "Our model reaches 75.3% top-1 accuracy on ImageNet."
    assert judge("The model reaches 75.3% top-1 accuracy on ImageNet.", src)
    assert not judge("The model reaches 76.3% top-1 accuracy on ImageNet.", src)
    assert not judge("The model does not reach 75.3% top-1 accuracy on ImageNet.", src)


def test_retrieval_metrics():
    assert M.recall_at_k(["a", "b", "c"], ["c", "d"], 2) == 0.0
    assert M.recall_at_k(["a", "b", "c"], ["c", "d"], 3) == 0.5
    assert M.mrr(["x", "y", "g"], ["g"]) == pytest.approx(1 / 3)
    assert M.mrr(["x"], ["g"]) == 0.0
    assert M.ndcg_at_k(["g", "x"], ["g"], 10) == 1.0
    assert 0 < M.ndcg_at_k(["x", "g"], ["g"], 10) < 1


def test_answer_metrics():
    assert M.key_coverage("reaches 84.3%  top-1", ["84.3% top-1", "8.4x"]) == 0.5
    assert M.abstention_scores([True, True, False, False], [True, False, True, False]) == {
        "abstention_precision": 0.5, "abstention_recall": 0.5}
    assert M.cited_gold(["a", "b"], ["a"]) == 0.5


def test_citation_metrics_follow_alce():
    def judge(claim, source):
        return all(w in source for w in re.findall(r"\w+", claim))
    sources = {1: "alpha beta", 2: "gamma"}
    s = M.citation_scores([("alpha beta", [1]), ("gamma", [1, 2]), ("delta", [2])], sources, judge)
    assert s["citation_recall"] == pytest.approx(2 / 3)
    assert s["citation_precision"] == pytest.approx(2 / 4)


def _bad_answerer(service):
    """Wrong numbers, shuffled citations, never abstains."""
    def answer(question):
        hits = service.search(question, top_k=8, cutoff=False)
        good = service.ask(question)
        text = re.sub(r"\d+(\.\d+)?", lambda m: str(round(float(m.group(0)) * 1.7 + 3, 1)), good.text) if not good.abstained \
            else " ".join(f"{h.paper.abstract.split('. ')[0]} [{n}]." for n, h in enumerate(hits[:2], start=1))
        cites = [Citation(n=n, paper_id=h.paper_id, title=h.paper.title) for n, h in enumerate(reversed(hits[:3]), start=1)]
        return Answer(question=question, text=text, abstained=False, backend="extractive", citations=cites, hits=hits)
    return answer


def test_bad_answerer_scores_clearly_below_the_real_one(service):
    items = load_jsonl(DATASET)
    subset = [i for i in items if i["type"] == "fact"][:12] + [i for i in items if i["type"] == "unanswerable"][:6]
    good = run(service, items=subset, baselines=False, progress=False)["splits"]["dev"]["summary"]
    bad = run(service, items=subset, baselines=False, progress=False, answerer=_bad_answerer(service))["splits"]["dev"]["summary"]
    assert bad["key_coverage"] < good["key_coverage"] - 0.3
    assert bad["citation_precision"] < good["citation_precision"] - 0.3
    assert bad["abstention_recall"] == 0.0 < good["abstention_recall"]
    assert bad["faithfulness"] < good["faithfulness"] - 0.3


def test_threshold_gate_fails_on_a_drop():
    result = {"splits": {"dev": {"summary": {"recall@10": 0.97, "faithfulness": 0.5, "false_abstain": 0.2}},
                         "test": {"summary": {"recall@10": 0.9}}},
              "judge_accuracy": 0.95, "names": {"name_top3": 0.95}}
    failed = check_thresholds(result, {
        "dev": {"recall@10": 0.95, "faithfulness": 0.95, "judge_accuracy": 0.9, "missing": 0.1, "max_false_abstain": 0.1},
        "test": {"recall@10": 0.95}, "names": {"name_top3": 0.9}})
    assert [f.split(" = ")[0] for f in failed] == ["dev: faithfulness", "dev: missing", "dev: false_abstain", "test: recall@10"]


def test_llm_judges_run_through_a_real_http_server(service, openai_server, tmp_path):
    """llama-index's Faithfulness and Correctness evaluators, against the local fake server."""
    from rag.llm import make_llm
    from tests.conftest import make_settings

    def reply(body):
        prompt = " ".join(m["content"] for m in body["messages"])
        if "reference answer" in prompt.lower():
            return "4.0\nMatches the reference."
        return "NO" if "75.3%" in prompt and "GhostNetV2" in prompt else "YES"

    openai_server.state.reply = reply
    llm = make_llm(make_settings(tmp_path, openai_base_url=openai_server.base_url, openai_api_key="sk-test"))
    items = [i for i in load_jsonl(SPLITS["dev"]) if i["id"] in ("q06", "q14", "q46")]
    summary = run(service, items=items, baselines=False, progress=False, llm=llm)["splits"]["dev"]["summary"]
    assert summary["llm_correctness"] == pytest.approx(0.8)
    assert summary["llm_faithfulness"] == pytest.approx(0.5)  # the GhostNetV2 answer is judged unsupported
    assert any(r["path"].endswith("/chat/completions") for r in openai_server.state.requests)
