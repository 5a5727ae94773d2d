"""Know the collection: every paper with its year, author count, code link and gist, counts by
year, and topics taken from the collection itself (the words its titles share most)."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

from rag.text import STOPWORDS, split_sentences
from rag.types import Paper

GIST_CHARS = 180
_TITLE_WORD = re.compile(r"[A-Za-z][A-Za-z\-]+")
# title words that say nothing about a topic
_GENERIC = {"via", "using", "towards", "toward", "based", "new", "novel", "efficient", "learning", "deep", "neural",
            "network", "networks", "model", "models", "approach", "method", "methods", "study", "analysis", "beyond",
            "simple", "fast", "better", "large", "scale", "improving", "improved", "rethinking", "make", "makes"}


@dataclass(frozen=True)
class PaperRow:
    paper_id: str
    title: str
    year: int | None
    authors: int | None
    code: str
    gist: str
    topics: tuple[str, ...]
    link: str = ""  # the paper's own page (arXiv, DOI or its URL), when the collection gives one


@dataclass
class Overview:
    papers: list[PaperRow]
    by_year: dict[str, int]  # "2023" -> n; "undated" last
    topics: list[tuple[str, int]]  # most shared title words, with how many papers have them
    with_code: int = 0
    notes: list[str] = field(default_factory=list)

    def matching(self, text: str = "", *, year: int | None = None, has_code: bool = False,
                 topic: str = "") -> list[PaperRow]:
        """Papers whose title or gist contains every word of `text`, in `year`, with code, on `topic`
        (one of the listed topics, or any word its title starts a word with)."""
        words = text.lower().split()
        return [r for r in self.papers
                if all(w in f"{r.title} {r.gist}".lower() for w in words)
                and (year is None or r.year == year) and (not has_code or r.code)
                and (not topic or topic in r.topics or re.search(rf"\b{re.escape(topic)}", r.title, re.I))]


def _words(title: str) -> set[str]:
    return {w.lower() for w in _TITLE_WORD.findall(title)
            if len(w) > 3 and w.lower() not in STOPWORDS and w.lower() not in _GENERIC}


def gist(paper: Paper) -> str:
    """The abstract's first sentence, shortened at a word to GIST_CHARS."""
    sentences = split_sentences(paper.abstract)
    first = sentences[0] if sentences else paper.abstract
    return first if len(first) <= GIST_CHARS else first[:GIST_CHARS].rsplit(" ", 1)[0] + " …"


def overview(papers: list[Paper], *, n_topics: int = 15) -> Overview:
    """Every paper, sorted by title, with counts by year and the collection's topics (a plural
    counts with its singular: "architectures" is "architecture")."""
    vocabulary = {w for p in papers for w in _words(p.title)}

    def fold(words: set[str]) -> set[str]:
        return {w[:-1] if w.endswith("s") and w[:-1] in vocabulary else w for w in words}

    words_of = {p.paper_id: fold(_words(p.title)) for p in papers}
    counts = Counter(w for ws in words_of.values() for w in ws)
    topics = [(w, n) for w, n in counts.most_common() if n >= 2][:n_topics]
    names = {w for w, _ in topics}
    rows = [PaperRow(paper_id=p.paper_id, title=p.title, year=p.year, authors=p.authors,
                     code=p.code_urls[0] if p.code_urls else "", gist=gist(p),
                     topics=tuple(sorted(words_of[p.paper_id] & names)), link=p.links[0][1] if p.links else "")
            for p in sorted(papers, key=lambda p: p.title.lower())]
    years = Counter(str(r.year) for r in rows if r.year)
    by_year = dict(sorted(years.items(), reverse=True))
    if any(r.year is None for r in rows):
        by_year["undated"] = sum(1 for r in rows if r.year is None)
    return Overview(papers=rows, by_year=by_year, topics=topics, with_code=sum(1 for r in rows if r.code))
