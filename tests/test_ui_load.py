"""20 concurrent sessions through gradio_client: every answer correct, no errors, and
each session's conversation kept apart. Prints the latency distribution."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor

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


@pytest.mark.slow
def test_extractive_questions_never_wait_behind_slow_llm_answers(service, openai_server, tmp_path):
    """Every LLM slot held by a silent model: an extractive question is still answered at once,
    and an LLM question beyond the slots is answered extractively at once, with a notice."""
    from gradio_client import Client

    from rag.service import RagService
    from tests.conftest import make_settings

    openai_server.state.mode, openai_server.state.delay = "slow", 8
    settings = make_settings(tmp_path, index_dir=service.settings.index_dir, llm="openai", llm_deadline=30,
                             openai_base_url=openai_server.base_url, openai_api_key="test-key", llm_max_retries=0,
                             ui_concurrency=1, llm_concurrency=2)
    svc = RagService(settings, embedder=service.retriever.index.embedder)

    def ask(backend: str, question: str) -> tuple[float, str]:
        client = Client(url, verbose=False)
        t0 = time.perf_counter()
        chat, _panel = client.predict(question, [], backend, api_name="/ask")
        last = chat[-1]["content"]
        return time.perf_counter() - t0, last[0]["text"] if isinstance(last, list) else str(last)

    with serve(svc) as url, ThreadPoolExecutor(max_workers=4) as pool:
        slow = [pool.submit(ask, "openai", "How does DenseNet connect layers?") for _ in range(2)]
        while len(openai_server.state.requests) < 2:  # both LLM slots are now waiting on the model
            time.sleep(0.05)
        extra_s, extra = ask("openai", "What does DeepCache speed up?")
        quick_s, quick = ask("extractive", "What speed-up does DeepCache give on Stable Diffusion?")
        assert not any(f.done() for f in slow)  # the model still holds both slots
        assert quick_s < 4.0, quick_s  # not the 8 s the model takes
        assert "DeepCache" in quick
        assert extra_s < 4.0 and "busy with 2 other answers" in extra
        assert len(openai_server.state.requests) == 2  # the extra question never reached the model
        for f in slow:
            f.result(timeout=60)


def test_the_upload_route_takes_no_files(service, tmp_path):
    """The page has no file input: Gradio's anonymous upload route refuses every file."""
    import urllib.error
    import urllib.request

    boundary = "----ragtest"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"files\"; filename=\"big.bin\"\r\n"
            f"Content-Type: application/octet-stream\r\n\r\n").encode() + b"x" * 200_000 + f"\r\n--{boundary}--\r\n".encode()
    with serve(service) as url:
        request = urllib.request.Request(f"{url}gradio_api/upload", data=body, method="POST",
                                         headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request, timeout=30)
    assert refused.value.code == 413 and b"maximum allowed size of 0 bytes" in refused.value.read()
