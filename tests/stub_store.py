"""A small in-memory EvidenceStore: a handful of hand-written papers, the deterministic
hash embedder, and the real Lexicon. The answerer's heuristics are unit-tested on it in
milliseconds, without an index."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rag.lexicon import Lexicon
from rag.question import QuestionPlan, analyse
from rag.text import content_terms, mentions, name_key, split_sentences
from rag.types import Hit, Paper, Why
from tests.fakes import HashEmbedder


@dataclass(frozen=True)
class StubSentence:
    text: str
    position: int


class StubStore:
    def __init__(self, papers: list[tuple[str, str]]):
        self.papers = {}
        for title, abstract in papers:
            pid = "-".join(name_key(title).split())[:60]
            self.papers[pid] = Paper(paper_id=pid, title=title, abstracts=[abstract])
        self.lexicon = Lexicon.build([(p.paper_id, p.title, p.abstract) for p in self.papers.values()])
        self.embedder = HashEmbedder()
        self._sentences = {pid: [StubSentence(s, i + 1) for i, s in enumerate(split_sentences(p.abstract))]
                           for pid, p in self.papers.items()}

    # -- EvidenceStore ----------------------------------------------------------------
    def paper(self, paper_id: str) -> Paper:
        return self.papers[paper_id]

    def sentences(self, paper_id: str) -> list[StubSentence]:
        return self._sentences[paper_id]

    def sentence_similarities(self, qvec: np.ndarray, paper_id: str) -> np.ndarray:
        texts = [s.text for s in self._sentences[paper_id]]
        return self.embedder.embed(texts) @ qvec if texts else np.zeros(0)

    def embed_query(self, query: str) -> np.ndarray:
        return self.embedder.embed([query])[0]

    def idf(self, term: str) -> float:
        return self.lexicon.idf(term)

    def paper_terms(self, paper_id: str) -> frozenset[str]:
        p = self.papers[paper_id]
        return frozenset(content_terms(f"{p.title} {p.abstract}"))

    def paper_key(self, paper_id: str, *, cased: bool = False) -> str:
        p = self.papers[paper_id]
        return name_key(f"{p.title} {p.abstract}", cased=cased)

    def corpus_mentions(self, term: str) -> int:
        cased = term.isupper()
        return sum(1 for pid in self.papers if mentions(self.paper_key(pid, cased=cased), term, cased=cased))

    # -- helpers for tests --------------------------------------------------------------
    def plan(self, question: str) -> QuestionPlan:
        return analyse(question, self.lexicon)

    def hits(self, plan: QuestionPlan, order: list[str] | None = None) -> list[Hit]:
        """Every paper as a hit, in `order` (by paper id prefix) or as given, with the
        plan's coverage and name match, scores falling with rank."""
        ids = list(self.papers)
        if order:
            ids = [next(pid for pid in ids if pid.startswith(o)) for o in order]
        q = name_key(plan.corrected)
        out = []
        for rank, pid in enumerate(ids):
            named = next((n for n in self.lexicon.names.get(pid, []) if len(name_key(n)) > 3 and name_key(n) in q), None)
            out.append(Hit(paper=self.papers[pid], score=2.0 - 0.2 * rank, dense=0.6 - 0.05 * rank,
                           coverage=plan.coverage(self.paper_terms(pid)), why=Why(name=named)))
        return out
