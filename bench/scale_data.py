"""Synthetic collections for bench_scale.py, and the cached embedder that gives them real vectors.

- `synthetic_papers(seeds, n)`: the first len(seeds) papers are the seeds themselves; paper i
  beyond that keeps the first half of seed (i mod S)'s abstract sentences and fills the rest with
  sentences of two other seeds chosen by `random.Random(i)`, titled "<seed title> (variant k)".
  Deterministic: the same n gives the same papers, with real text and vocabulary.
- `CachedEmbedder`: real MiniLM vectors of every distinct seed title and sentence, embedded once
  and kept in a file; a synthetic title gets its seed title's vector, a longer text (the
  baseline's "title\\nabstract" document) the normalised mean of its sentences' vectors. Its `id`
  is the real embedder's, so `python -m rag search` opens the index it built and embeds queries
  with the real model. Any text it cannot resolve goes to the real model and is counted (`misses`).
"""

from __future__ import annotations

import hashlib
import json
import random
import re
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from rag.corpus import paper_id_for
from rag.embed import MiniLMEmbedder
from rag.index import chunk_paper
from rag.text import split_sentences
from rag.types import Paper

_VARIANT = re.compile(r" \(variant \d+\)$")


def seed_sentences(seeds: list[Paper]) -> list[list[str]]:
    return [[c.text for c in chunk_paper(p)[1:]] for p in seeds]


def synthetic_papers(seeds: list[Paper], n: int) -> list[Paper]:
    sents = seed_sentences(seeds)
    s = len(seeds)
    out = list(seeds[:n])
    ids = {p.paper_id for p in out}
    for i in range(s, n):
        rng = random.Random(i)
        base = seeds[i % s]
        own = sents[i % s]
        k = max(len(own), 3)
        body = own[: (len(own) + 1) // 2]
        need = k - len(body)
        for donor, take in ((rng.randrange(s), (need + 1) // 2), (rng.randrange(s), need // 2)):
            extra = [x for x in sents[donor] if x not in body]
            rng.shuffle(extra)
            body += extra[:take]
        title = f"{base.title} (variant {i // s})"
        pid = paper_id_for(title)
        pid = paper_id_for(title, digest=16) if pid in ids else pid  # as rag.corpus.merge_entries does
        ids.add(pid)
        out.append(Paper(paper_id=pid, title=title, abstracts=[" ".join(body[:k])],
                         published=base.published, published_year=base.published_year,
                         code_urls=base.code_urls if i % 3 == 0 else [], authors=base.authors))
    return out


def changed_copy(papers: list[Paper], every: int = 100) -> tuple[list[Paper], int]:
    """The same collection with every `every`-th paper's abstract changed (sentences rotated)."""
    out, changed = [], 0
    for i, p in enumerate(papers):
        if i % every == 0:
            body = split_sentences(p.abstracts[0])
            if len(body) > 1:
                p = p.model_copy(update={"abstracts": [" ".join(body[1:] + body[:1])]})
                changed += 1
        out.append(p)
    return out, changed


def seed_texts(seeds: list[Paper]) -> list[str]:
    """Every distinct text a synthetic collection's chunks are made of."""
    return list(dict.fromkeys([p.title for p in seeds] + [t for ss in seed_sentences(seeds) for t in ss]))


def cache_file(seeds: list[Paper], folder: Path) -> Path:
    key = hashlib.sha256(json.dumps([MiniLMEmbedder.id, seed_texts(seeds)]).encode()).hexdigest()[:12]
    return folder / f"vectors-{key}.npz"


class CachedEmbedder:
    """The Embedder protocol over precomputed vectors (see the module docstring)."""

    id = MiniLMEmbedder.id
    dim = MiniLMEmbedder.dim
    max_tokens = MiniLMEmbedder.max_tokens

    def __init__(self, path: Path):
        data = np.load(path, allow_pickle=False)
        self._matrix = data["vectors"]
        self._row = {t: i for i, t in enumerate(data["texts"].tolist())}
        self._model: MiniLMEmbedder | None = None
        self.misses = 0
        self.hits = 0

    def _real(self) -> MiniLMEmbedder:
        if self._model is None:
            self._model = MiniLMEmbedder()
        return self._model

    def count_tokens(self, text: str) -> int:
        return self._real().count_tokens(text)

    def _lookup(self, text: str) -> np.ndarray | None:
        row = self._row.get(_VARIANT.sub("", text))
        if row is not None:
            return self._matrix[row]
        pieces = [s for line in text.split("\n") for s in ([line] if _VARIANT.sub("", line) in self._row
                                                           else split_sentences(line))]
        rows = [self._row.get(_VARIANT.sub("", s)) for s in pieces]
        if not rows or any(r is None for r in rows):
            return None
        v = self._matrix[rows].mean(axis=0)
        return v / max(float(np.linalg.norm(v)), 1e-12)

    def embed(self, texts: Sequence[str], progress: Callable[[int], None] | None = None) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        missing = []
        for i, text in enumerate(texts):
            v = self._lookup(text)
            if v is None:
                missing.append(i)
            else:
                out[i] = v
        if missing:
            self.misses += len(missing)
            out[missing] = self._real().embed([texts[i] for i in missing])
        self.hits += len(texts) - len(missing)
        if progress:
            progress(len(texts))
        return out


def build_cache(seeds: list[Paper], path: Path, embedder: MiniLMEmbedder) -> None:
    texts = seed_texts(seeds)
    vectors = embedder.embed(texts)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, texts=np.array(texts), vectors=vectors)
