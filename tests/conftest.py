from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from rag.corpus import load_corpus
from rag.service import RagService
from rag.settings import PROJECT_ROOT, Settings
from tests.fakes import OpenAIServer

SEEDS = PROJECT_ROOT / "data" / "seeds"


def make_settings(tmp: Path, **kw) -> Settings:
    """Settings isolated from the user's .env and environment."""
    base = dict(corpus_dir=SEEDS, index_dir=tmp / "index", llm="extractive", openai_api_key=None,
                openai_base_url=None, feedback_path=tmp / "votes.jsonl", added_dir=tmp / "added")
    base.update(kw)
    return Settings(_env_file=None, **base)


@pytest.fixture(scope="session")
def corpus():
    return load_corpus(SEEDS)


@pytest.fixture(scope="session")
def service(tmp_path_factory) -> RagService:
    """The real thing: MiniLM embeddings, persistent Chroma, BM25 — built once per run."""
    tmp = tmp_path_factory.mktemp("real")
    svc = RagService(make_settings(tmp))
    svc.ensure_index()
    return svc


@pytest.fixture
def openai_server():
    with OpenAIServer() as server:
        yield server


@pytest.fixture
def small_corpus(tmp_path: Path) -> Path:
    """Two real pages copied into a folder the test may change."""
    d = tmp_path / "pages"
    d.mkdir()
    for name in ("002_b672903fa418843c.txt", "004_e042a9c637ce68d9.txt"):
        shutil.copy(SEEDS / name, d / name)
    return d
