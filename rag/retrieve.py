"""Hybrid retrieval: BM25 over papers + dense over chunks (Chroma), fused by reciprocal
rank, grouped per paper (never a paper twice), with a relevance cutoff and filters."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

import numpy as np

from rag.index import PaperIndex, chunk_paper
from rag.settings import Settings
from rag.text import content_terms, split_sentences
from rag.types import Hit, Paper

Mode = Literal["hybrid", "dense", "lexical"]


@dataclass(frozen=True)
class Filters:
    """Optional restrictions applied before the cut to top-k."""

    year_min: int | None = None
    year_max: int | None = None
    has_code: bool = False
    paper_ids: frozenset[str] | None = None  # only these papers (a follow-up about "those")

    def admits(self, paper: Paper) -> bool:
        if self.paper_ids is not None and paper.paper_id not in self.paper_ids:
            return False
        if self.has_code and not paper.code_urls:
            return False
        if (self.year_min or self.year_max) and paper.year is None:
            return False
        if self.year_min and paper.year is not None and paper.year < self.year_min:
            return False
        return not (self.year_max and paper.year is not None and paper.year > self.year_max)


def rrf(rankings: Iterable[list[str]], k: int = 60) -> dict[str, float]:
    """Reciprocal-rank fusion: sum of 1/(k + rank) over every ranking an id appears in."""
    fused: dict[str, float] = {}
    for ranking in rankings:
        for rank, key in enumerate(ranking, start=1):
            fused[key] = fused.get(key, 0.0) + 1.0 / (k + rank)
    return fused


class Retriever:
    """Searches one opened PaperIndex. Cheap per query; build once per process."""

    def __init__(self, index: PaperIndex, settings: Settings):
        from llama_index.core import VectorStoreIndex

        from rag.embed import LlamaEmbedding

        self.index = index
        self.settings = settings
        self._dense = VectorStoreIndex.from_vector_store(
            index.vector_store, embed_model=LlamaEmbedding(index.embedder)
        ).as_retriever(similarity_top_k=settings.candidate_k)
        self._load_chunk_vectors()
        self._idf = self._document_frequencies()

    # -- state computed once ------------------------------------------------------------
    def _load_chunk_vectors(self) -> None:
        got = self.index.vector_store.client.get(include=["embeddings", "metadatas"])
        self._chunk_ids: list[str] = list(got["ids"])
        self._chunk_vecs = np.asarray(got["embeddings"], dtype=np.float32)
        self._rows_by_paper: dict[str, list[int]] = {}
        for row, meta in enumerate(got["metadatas"]):
            self._rows_by_paper.setdefault(meta["paper_id"], []).append(row)
        self._sentences: dict[str, list[tuple[str, str]]] = {}  # paper -> [(sentence, chunk_id)]

    def _document_frequencies(self) -> dict[str, float]:
        df: dict[str, int] = {}
        for paper in self.index.papers.values():
            for term in content_terms(f"{paper.title} {paper.abstract}"):
                df[term] = df.get(term, 0) + 1
        n = len(self.index.papers)
        return {t: math.log(1 + (n - c + 0.5) / (c + 0.5)) for t, c in df.items()}

    def idf(self, term: str) -> float:
        return self._idf.get(term, math.log(1 + len(self.index.papers)))

    def sentences(self, paper_id: str) -> list[tuple[str, str]]:
        """(sentence, chunk_id) pairs of a paper, in order, computed lazily and cached."""
        if paper_id not in self._sentences:
            paper = self.index.papers[paper_id]
            pairs: list[tuple[str, str]] = []
            seen: set[str] = set()
            chunks = chunk_paper(paper, self.index.embedder.count_tokens, self.settings.chunk_tokens)
            for chunk in chunks:
                if chunk.kind == "title":
                    continue
                for sentence in split_sentences(chunk.text):
                    if sentence not in seen:
                        seen.add(sentence)
                        pairs.append((sentence, chunk.chunk_id))
            self._sentences[paper_id] = pairs
        return self._sentences[paper_id]

    def embed_query(self, query: str) -> np.ndarray:
        return self.index.embedder.embed([query])[0]

    def chunk_similarities(self, qvec: np.ndarray, paper_id: str) -> dict[str, float]:
        rows = self._rows_by_paper.get(paper_id, [])
        sims = self._chunk_vecs[rows] @ qvec if rows else []
        return {self._chunk_ids[r]: float(s) for r, s in zip(rows, sims)}

    # -- search -------------------------------------------------------------------------
    def search(
        self,
        query: str,
        *,
        top_k: int | None = None,
        mode: Mode = "hybrid",
        filters: Filters | None = None,
        cutoff: bool = True,
    ) -> list[Hit]:
        """Papers for `query`, best first, at most `top_k`, each paper once."""
        from llama_index.core.schema import QueryBundle

        top_k = top_k or self.settings.search_top_k
        qvec = self.embed_query(query)
        bundle = QueryBundle(query_str=query, embedding=qvec.tolist())

        dense_best: dict[str, float] = {}
        snippet: dict[str, str] = {}
        dense_rank: list[str] = []
        if mode in ("hybrid", "dense"):
            for nws in self._dense.retrieve(bundle):
                pid = nws.node.metadata["paper_id"]
                cos = 1.0 + math.log(max(nws.score or 1e-12, 1e-12))  # Chroma: exp(-(1-cos))
                if pid not in dense_best:
                    dense_rank.append(pid)
                    dense_best[pid] = cos
                    snippet[pid] = nws.node.get_content()
        lexical: dict[str, float] = {}
        lexical_rank: list[str] = []
        if mode in ("hybrid", "lexical"):
            for nws in self.index.bm25.retrieve(query):
                if (nws.score or 0) > 0:
                    lexical_rank.append(nws.node.node_id)
                    lexical[nws.node.node_id] = float(nws.score or 0)

        rankings = [r for r in (dense_rank, lexical_rank) if r]
        fused = rrf(rankings, k=self.settings.rrf_k)
        hits: list[Hit] = []
        for pid, score in sorted(fused.items(), key=lambda kv: -kv[1]):
            paper = self.index.papers.get(pid)
            if paper is None or (filters and not filters.admits(paper)):
                continue
            if pid not in dense_best:  # found lexically only: score its chunks exactly
                sims = self.chunk_similarities(qvec, pid)
                dense_best[pid] = max(sims.values(), default=0.0)
                snippet[pid] = paper.abstracts[0][:300]
            if cutoff and dense_best[pid] < self.settings.min_dense:
                continue
            hits.append(Hit(paper=paper, score=score, dense=dense_best[pid],
                            lexical=lexical.get(pid, 0.0), snippet=snippet[pid]))
            if len(hits) >= top_k:
                break
        return hits
