"""RAG_EMBEDDER=openai against a real OpenAI-compatible embeddings server on 127.0.0.1
(what a vLLM or text-embeddings-inference server speaks): batches, bounded concurrency, retries."""

from __future__ import annotations

import numpy as np
import pytest

from rag.corpus import load_corpus
from rag.embed import OpenAIEmbedder
from rag.errors import EmbedderError
from rag.index import chunk_paper
from rag.service import RagService
from tests.conftest import make_settings
from tests.fakes import fake_embedding

KEY = "sk-" + "fake-embeddings-key"  # a sentinel, not a key


def _settings(tmp_path, server, **kw):
    return make_settings(tmp_path, embedder="openai", openai_base_url=server.base_url, openai_api_key=KEY,
                         openai_embedding_model="fake-embed", **kw)


def test_batches_run_concurrently_and_keep_their_order(tmp_path, openai_server):
    openai_server.state.embed_delay = 0.05
    emb = OpenAIEmbedder(_settings(tmp_path, openai_server, openai_embed_batch=7, openai_embed_concurrency=3))
    texts = [f"text number {i} about sparse attention {i % 5}" for i in range(50)]
    done = []
    vectors = emb.embed(texts, progress=done.append)
    calls = [r for r in openai_server.state.requests if r["path"].endswith("/embeddings")]
    assert len(calls) == 8 and max(len(r["body"]["input"]) for r in calls) == 7 and sum(done) == 50
    assert 1 < openai_server.state.max_in_flight <= 3  # concurrent, and never more than the setting
    expected = np.asarray([fake_embedding(t) for t in texts], dtype=np.float32)
    expected /= np.linalg.norm(expected, axis=1, keepdims=True)
    assert np.allclose(vectors, expected, atol=1e-6)  # row i is text i, whatever order the batches finished in
    assert emb.dim == 24 and emb.id == "openai:fake-embed"


def test_an_overloaded_server_is_retried(tmp_path, openai_server):
    openai_server.state.embed_fail = 1
    emb = OpenAIEmbedder(_settings(tmp_path, openai_server, llm_max_retries=2, openai_embed_concurrency=1))
    assert emb.embed(["one text", "another"]).shape == (2, 24)
    assert len([r for r in openai_server.state.requests if r["path"].endswith("/embeddings")]) == 2


def test_a_failing_server_is_one_line_without_the_key(tmp_path, openai_server):
    openai_server.state.mode = "500"
    emb = OpenAIEmbedder(_settings(tmp_path, openai_server, llm_max_retries=0))
    with pytest.raises(EmbedderError) as err:
        emb.embed(["a text"])
    assert "embedding server" in str(err.value) and KEY not in str(err.value) and "\n" not in str(err.value)


def test_ingest_and_search_through_the_embeddings_server(tmp_path, openai_server, small_corpus):
    svc = RagService(_settings(tmp_path, openai_server, corpus_dir=small_corpus, openai_embed_batch=16))
    _, stats = svc.ingest()
    papers = load_corpus(small_corpus).papers
    assert stats.chunks_embedded == sum(len(chunk_paper(p)) for p in papers)
    asked = len(openai_server.state.requests)
    hit = svc.search("Robust Mixture-of-Expert Training for Convolutional Neural Networks", top_k=1)[0]
    assert hit.paper_id == "robust-mixture-of-expert-training-for-convolutional-neural-networks"
    assert openai_server.state.requests[asked]["body"]["input"] == [hit.paper.title]  # the question, embedded there
