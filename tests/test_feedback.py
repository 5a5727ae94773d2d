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


def test_one_vote_per_answer_per_session_the_last_one_wins(tmp_path):
    from rag.feedback import latest_votes

    path = tmp_path / "votes.jsonl"
    for _ in range(50):  # a script hammering the same answer
        record_vote(path, _answer(1), "down", vote_id="s1:3")
    assert len(path.read_text().splitlines()) == 1
    assert record_vote(path, _answer(1), "up", vote_id="s1:3") is not None  # changed its mind
    record_vote(path, _answer(1), "down", vote_id="s2:3")  # another session, same answer: its own vote
    records = [json.loads(x) for x in path.read_text().splitlines()]
    assert [(r["vote_id"], r["vote"]) for r in latest_votes(records)] == [("s1:3", "up"), ("s2:3", "down")]


def test_the_votes_file_is_capped_and_rotated(tmp_path):
    path = tmp_path / "votes.jsonl"
    for i in range(200):
        record_vote(path, _answer(i), "up", vote_id=f"s:{i}", max_bytes=4000, keep=2)
    files = sorted(p.name for p in tmp_path.iterdir())
    assert files == ["votes.jsonl", "votes.jsonl.1", "votes.jsonl.2"]
    assert all((tmp_path / f).stat().st_size <= 4000 for f in files)
    newest = [json.loads(x)["question"] for x in path.read_text().splitlines()]
    assert newest[-1] == "q199?"  # the newest votes are kept, the oldest rotated away
    older = [json.loads(x)["question"] for x in (tmp_path / "votes.jsonl.1").read_text().splitlines()]
    assert int(older[-1][1:-1]) + 1 == int(newest[0][1:-1])
