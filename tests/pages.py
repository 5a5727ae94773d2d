"""Serving the chat page in-process on a free port, and a headless Chromium for it."""

from __future__ import annotations

import os
import re
import shutil
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from rag.service import RagService
from ui.app import build_demo, launch
from tests.fakes import free_port
from ui.build import IndexBuild

CHROMIUM = os.environ.get("RAG_CHROMIUM", "/usr/bin/chromium")
# the machine has no network: nothing may try to reach Google's update/metrics servers
BROWSER_ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-background-networking", "--disable-component-update", "--no-first-run"]
ARTIFACTS = Path(__file__).parent / "_artifacts"


@contextmanager
def serve(service: RagService, build: IndexBuild | None = None) -> Iterator[str]:
    """The page for `service` on 127.0.0.1:<free port>; yields its URL."""
    demo = build_demo(service, build)
    port = free_port()
    launch(demo, service, server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        demo.close()


def require_chromium() -> str:
    """Chromium's path; under CI a missing browser fails instead of skipping."""
    path = CHROMIUM if Path(CHROMIUM).exists() else shutil.which("chromium")
    if not path:
        msg = f"Chromium not found at {CHROMIUM}; run `bash scripts/setup.sh --test` (apt-get install chromium)"
        if os.environ.get("CI"):
            pytest.fail(msg)
        pytest.skip(msg)
    return path


# --- many sessions at once, through gradio_client (load test and bench) -------------------
CITED = re.compile(r'id="src-(\d+)-(\d+)" data-paper="([^"]+)"')


@dataclass
class SessionResult:
    question: str
    seconds: float
    turn: int  # the turn number the page gave this answer (per session)
    cited: list[str]  # paper ids in citation order
    abstained: bool
    error: str | None = None


def ask_via_client(url: str, questions: list[str]) -> list[SessionResult]:
    """One browser-like session (its own Client, so its own state) asking in turn."""
    from gradio_client import Client

    client = Client(url, verbose=False)
    out = []
    for q in questions:
        t0 = time.perf_counter()
        try:
            chat, panel = client.predict(q, [], api_name="/ask")
            elapsed = time.perf_counter() - t0
            last = chat[-1]["content"]
            text = last[0]["text"] if isinstance(last, list) else str(last)
            latest = re.search(r'id="turn-(\d+)" open', panel)
            turn = int(latest.group(1)) if latest else -1
            cited = [pid for t, _, pid in CITED.findall(panel) if int(t) == turn]
            out.append(SessionResult(q, elapsed, turn, cited, 'class="abstain"' in text))
        except Exception as exc:  # noqa: BLE001 - counted and reported as a failure
            out.append(SessionResult(q, time.perf_counter() - t0, -1, [], False, f"{type(exc).__name__}: {exc}"))
    return out


def run_sessions(url: str, per_session: list[list[str]]) -> tuple[list[list[SessionResult]], float]:
    """All sessions at once, one thread each; returns their results and the wall time."""
    t0 = time.perf_counter()
    with ThreadPoolExecutor(max_workers=len(per_session)) as pool:
        results = list(pool.map(lambda qs: ask_via_client(url, qs), per_session))
    return results, time.perf_counter() - t0


def percentiles(values: list[float]) -> dict[str, float]:
    import numpy as np

    a = np.asarray(values) * 1000
    return {"n": len(values), "p50_ms": float(np.percentile(a, 50)), "p90_ms": float(np.percentile(a, 90)),
            "p95_ms": float(np.percentile(a, 95)), "max_ms": float(a.max()), "mean_ms": float(a.mean())}
