"""No secret ever reaches an output: every failure path run with sentinel secrets, and every
output (stdout, stderr, JSON, logs, the page's HTML, the feedback file) searched for them."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from rag.errors import ConfigError
from rag.feedback import record_vote
from rag.redact import MARK, redact, register_secret
from rag.service import RagService
from rag.settings import PROJECT_ROOT, Settings, load_settings
from tests.fakes import free_port
from tests.conftest import make_settings
from ui.render import chat_message

KEY = "sk-SENTINEL-key-" + "0123456789"  # a sentinel, not a key
VAR = "OPENAI_" + "API_KEY"
PASSWORD = "PWSENTINEL42"
SENTINELS = (KEY, PASSWORD, "SENTINEL")


def _clean(*outputs: str) -> None:
    for out in outputs:
        for s in SENTINELS:
            assert s not in out, f"{s!r} leaked: {out[:300]}"


def test_redact_strips_keys_bearer_headers_and_url_userinfo():
    register_secret("opaque-token-without-shape\n")
    text = (f"Illegal header value b'Bearer {KEY}\\n'; Authorization: Bearer abc.def-123; "
            f"http://bob:{PASSWORD}@127.0.0.1:8000/v1 https://tok3n@host/v1 api_key=hunter22 "
            "and opaque-token-without-shape")
    out = redact(text)
    _clean(out)
    assert "hunter22" not in out and "abc.def-123" not in out and "opaque-token-without-shape" not in out
    assert "tok3n" not in out and out.count(MARK) >= 5 and "127.0.0.1:8000/v1" in out


def test_bad_settings_name_the_setting_and_never_echo_the_value(tmp_path):
    env = tmp_path / ".env"
    env.write_text(f"OPENAI_KEY={KEY}\n")
    with pytest.raises(ConfigError) as err:
        load_settings(_env_file=env)
    assert "setting OPENAI_KEY is not known (did you mean OPENAI_API_KEY?)" in str(err.value)
    _clean(str(err.value))
    env.write_text(f'{VAR}="sk-SENTINEL with space"\nRAG_TOP_K=abc\n')
    with pytest.raises(ConfigError) as err:
        load_settings(_env_file=env)
    assert "setting OPENAI_API_KEY is invalid" in str(err.value) and "setting RAG_TOP_K is invalid" in str(err.value)
    _clean(str(err.value))
    env.write_text(f'{VAR}="{KEY}\\n"\n')  # a trailing newline: stripped, not sent in a header
    assert load_settings(_env_file=env).openai_api_key.get_secret_value() == KEY


def _cli(tmp_path: Path, env_file: str, *args: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / ".env").write_text(env_file)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "RAG_"))}
    return subprocess.run([sys.executable, "-m", "rag", *args], capture_output=True, text=True, cwd=tmp_path,
                          env=env | {"PYTHONPATH": str(PROJECT_ROOT)}, timeout=300)


def test_cli_failure_paths_leak_nothing(service, tmp_path):
    index = str(service.settings.index_dir)
    down = f"http://bob:{PASSWORD}@127.0.0.1:{free_port()}/v1"
    runs = [
        _cli(tmp_path, f'{VAR}="{KEY}\\n"\nOPENAI_BASE_URL={down}\nRAG_LLM_MAX_RETRIES=0\n',
             "ask", "How does DenseNet reduce the number of parameters?", "--index", index, "--json"),
        _cli(tmp_path, f'{VAR}="{KEY}\\n"\nOPENAI_BASE_URL={down}\nRAG_LLM_MAX_RETRIES=0\n',
             "ask", "How does DenseNet reduce the number of parameters?", "--index", index),
        _cli(tmp_path, f"OPENAI_KEY={KEY}\n", "search", "densenet", "--index", index),
        _cli(tmp_path, f'{VAR}="{KEY} x"\n', "search", "densenet", "--index", index),
        # embedder=openai against a server that is down: one line, no traceback, no header
        _cli(tmp_path, f"{VAR}={KEY}\nOPENAI_BASE_URL={down}\nRAG_EMBEDDER=openai\n",
             "ingest", "--index", str(tmp_path / "oa-index")),
    ]
    for proc in runs:
        _clean(proc.stdout, proc.stderr)
        assert "Traceback" not in proc.stderr
    answer = json.loads(runs[0].stdout)
    assert answer["backend"] == "extractive" and "cannot reach" in answer["notice"].lower() and MARK in answer["notice"]
    assert "LLM fallback" in runs[1].stderr  # the operator sees every fallback
    assert all(p.returncode != 0 and p.stderr.strip().count("\n") == 0 for p in runs[2:]), [p.stderr for p in runs[2:]]


def test_page_html_logs_and_feedback_leak_nothing(service, tmp_path, caplog):
    register_secret(PASSWORD)
    down = f"http://bob:{PASSWORD}@127.0.0.1:{free_port()}/v1"
    settings: Settings = make_settings(tmp_path, index_dir=service.settings.index_dir, llm="openai",
                                       openai_api_key=KEY + "\n", openai_base_url=down, llm_max_retries=0)
    svc = RagService(settings, embedder=service.retriever.index.embedder)
    with caplog.at_level(logging.WARNING):
        answer = svc.ask("How does DenseNet reduce the number of parameters?")
    html = chat_message(answer, 0)
    record_vote(settings.feedback_path, answer, "down")
    _clean(html, caplog.text, settings.feedback_path.read_text(), answer.model_dump_json())
    assert "LLM fallback" in caplog.text and answer.notice and MARK in answer.notice
