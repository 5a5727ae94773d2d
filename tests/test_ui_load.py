"""20 concurrent sessions through gradio_client: every answer correct, no errors, and
each session's conversation kept apart. Prints the latency distribution."""

from __future__ import annotations

import json

import pytest

from rag.followup import Turn
from eval.runner import DATASET, load_jsonl
from tests.pages import ARTIFACTS, percentiles, run_sessions, serve

SESSIONS = 20


@pytest.mark.slow
def test_twenty_concurrent_sessions(service):
    questions = [it["question"] for it in load_jsonl(DATASET)][: SESSIONS * 2]
    per_session = [[questions[i], questions[i + SESSIONS]] for i in range(SESSIONS)]
    expected = {}  # the same service, one question at a time, with the same conversation
    for first, second in per_session:
        expected[first] = service.ask(first)
        expected[second] = service.ask(second, history=[Turn.from_answer(expected[first])])

    with serve(service) as url:
        results, wall = run_sessions(url, per_session)

    flat = [r for session in results for r in session]
    errors = [f"{r.question}: {r.error}" for r in flat if r.error]
    assert not errors, errors
    for session in results:
        assert [r.turn for r in session] == [0, 1]  # own state per session: turns 0 then 1
        for r in session:
            want = expected[r.question]
            assert r.abstained == want.abstained, r.question
            assert r.cited == [c.paper_id for c in want.citations], r.question
    stats = percentiles([r.seconds for r in flat]) | {"sessions": SESSIONS, "wall_s": wall,
                                                      "answers_per_s": len(flat) / wall}
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "load.json").write_text(json.dumps(stats, indent=2))
    print(f"\n{SESSIONS} sessions x 2 questions: " + ", ".join(f"{k} {v:.1f}" for k, v in stats.items()))
