"""Votes from the page go to a JSONL file, one complete record per line."""

from __future__ import annotations

import json
import threading

import pytest

from rag.errors import RagError
from rag.feedback import record_vote
from rag.types import Answer, Citation


def _answer(i: int = 0) -> Answer:
    return Answer(question=f"q{i}?", text=f"answer {i} [1].", abstained=False, backend="extractive",
                  citations=[Citation(n=1, paper_id="p", title="T", quote="Q.")])


def test_appends_question_answer_citations_and_vote(tmp_path):
    path = tmp_path / "sub" / "votes.jsonl"
    record_vote(path, _answer(), "up")
    record_vote(path, _answer(1), "down")
    lines = [json.loads(x) for x in path.read_text().splitlines()]
    assert [x["vote"] for x in lines] == ["up", "down"]
    assert lines[1]["question"] == "q1?" and lines[1]["answer"] == "answer 1 [1]."
    assert lines[0]["citations"] == [{"n": 1, "paper_id": "p", "title": "T", "quote": "Q."}]


def test_concurrent_votes_do_not_interleave(tmp_path):
    path = tmp_path / "votes.jsonl"
    threads = [threading.Thread(target=record_vote, args=(path, _answer(i), "up")) for i in range(40)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    lines = path.read_text().splitlines()
    assert sorted(json.loads(x)["question"] for x in lines) == sorted(f"q{i}?" for i in range(40))


def test_unwritable_path_says_what_to_change(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(RagError, match="RAG_FEEDBACK_PATH"):
        record_vote(blocker / "votes.jsonl", _answer(), "up")


def test_down_votes_become_eval_drafts(tmp_path, capsys):
    from eval.from_feedback import main

    path = tmp_path / "votes.jsonl"
    record_vote(path, _answer(1), "down")
    record_vote(path, _answer(1), "down")  # twice: one draft
    record_vote(path, _answer(2), "up")  # liked: no draft
    known = _answer(3)
    known.question = "What does DeepCache get on SDXL?"  # already in eval/dev.jsonl
    record_vote(path, known, "down")
    with path.open("a") as f:
        f.write("{broken\n")
    assert main([str(path)]) == 0
    out = capsys.readouterr()
    drafts = [json.loads(x) for x in out.out.splitlines()]
    assert [d["question"] for d in drafts] == ["q1?"]
    assert drafts[0]["gold"] == ["p"] and drafts[0]["type"] == "TODO"
    assert drafts[0]["draft"]["answer_voted_down"] == "answer 1 [1]."
    assert "not JSON, skipped" in out.err
