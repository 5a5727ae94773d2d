from __future__ import annotations

import time

import numpy as np
import pytest

from rag.embed import MiniLMEmbedder


@pytest.fixture(scope="module")
def minilm() -> MiniLMEmbedder:
    return MiniLMEmbedder()


class _CountingTokenizer:
    """The real tokenizer, counting how many texts it encodes."""

    def __init__(self, tok):
        self._tok = tok
        self.encoded = 0

    def encode_batch(self, texts):
        self.encoded += len(texts)
        return self._tok.encode_batch(texts)

    def __getattr__(self, name):
        return getattr(self._tok, name)


def test_token_sorted_batches_give_the_single_text_vectors(minilm, corpus):
    texts = [p.title for p in corpus.papers[:20]] + [p.abstract for p in corpus.papers[:20]] + ["a", "densenet"]
    texts = texts[::-1]  # mixed lengths, not in length order
    batched = minilm.embed(texts)
    single = np.stack([minilm.embed([t])[0] for t in texts])
    assert batched.shape == (len(texts), minilm.dim) and batched.dtype == np.float32
    assert float(np.abs(batched - single).max()) < 1e-5
    assert np.allclose(np.linalg.norm(batched, axis=1), 1.0, atol=1e-5)


def test_each_text_is_tokenised_once_and_progress_counts_every_text(minilm, corpus, monkeypatch):
    counting = _CountingTokenizer(minilm._tok)
    monkeypatch.setattr(minilm, "_tok", counting)
    texts = [p.abstract for p in corpus.papers[:40]]
    done: list[int] = []
    minilm.embed(texts, progress=done.append)
    assert counting.encoded == len(texts)
    assert sum(done) == len(texts)
    assert minilm.embed([]).shape == (0, minilm.dim)


def test_the_model_leaves_the_cores_idle_between_runs(minilm):
    # onnxruntime's default pool threads busy-wait after a run (a whole core on 2 cores: 200 ms of
    # CPU in 200 ms of waiting), starving the numpy scoring that follows a query's embedding
    minilm.embed(["warm up", "the model"])
    cpu = 0.0
    for _ in range(10):
        minilm.embed(["which methods beat ResNet-50 without extra data?"])
        start = time.process_time()
        time.sleep(0.02)
        cpu += time.process_time() - start
    assert cpu < 0.05, f"{cpu * 1000:.0f} ms of CPU in 200 ms of idle after embedding"


def test_the_dynamic_int8_model_is_made_once_deterministically_with_its_own_id(minilm, corpus, tmp_path):
    pytest.importorskip("onnx")
    from rag.embed import get_embedder
    from rag.quantise import dynamic_model
    from tests.conftest import make_settings

    first = dynamic_model(tmp_path / "a")
    assert dynamic_model(tmp_path / "a") == first  # made once, then reused
    assert dynamic_model(tmp_path / "b").read_bytes() == first.read_bytes()
    settings = make_settings(tmp_path, embedder="minilm-dynamic", model_dir=tmp_path / "a")
    dyn = get_embedder(settings)
    assert dyn.id == settings.embedder_id != minilm.id  # an index of one never opens with the other
    texts = [p.abstract for p in corpus.papers[:10]]
    cosine = (dyn.embed(texts) * minilm.embed(texts)).sum(axis=1)
    assert cosine.min() > 0.95


def test_the_session_is_made_beside_the_caller_and_its_error_comes_with_the_first_embed(tmp_path):
    """MiniLMEmbedder makes its onnxruntime session on a thread of its own (a cold `search`
    opens the index meanwhile); a model that cannot be loaded fails the embed, every time."""
    from rag.embed import MiniLMEmbedder

    broken = tmp_path / "model.onnx"
    broken.write_bytes(b"not a model")
    emb = MiniLMEmbedder(model=broken)  # returns; the session is being made
    for _ in range(2):
        with pytest.raises(Exception, match="(?i)protobuf|load|invalid|parse"):
            emb.embed(["a question"])
    good = MiniLMEmbedder()
    assert good.embed(["a question"]).shape == (1, good.dim)
