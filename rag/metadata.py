"""Questions about the papers' metadata rather than their text: "which of those have
code?", "which are from 2023?". They are answered from the listing pages' metadata
(code links, publication dates) of the papers in scope, not by searching abstracts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from rag.evidence import display_name
from rag.lexicon import Lexicon
from rag.text import split_sentences
from rag.types import Answer, Citation, Paper

_CODE = re.compile(r"\b(code|implementation|github|source|open[- ]source[d]?)\b", re.I)
_YEAR = re.compile(r"\b(?:(from|in|published in|since|after|before|until)\s+)?((?:19|20)\d\d)\b", re.I)
# words a metadata question may contain besides its filter
_FILLER = {"which", "what", "those", "these", "them", "ones", "paper", "papers", "of", "the", "are", "is", "have",
           "has", "with", "were", "was", "available", "release", "released", "provide", "provides", "public", "publicly", "any",
           "from", "in", "published", "since", "after", "before", "until", "year", "do", "does", "and", "also",
           "code", "implementation", "github", "source", "open", "come", "comes", "link", "links", "there"}


@dataclass(frozen=True)
class MetaFilter:
    has_code: bool = False
    year_min: int | None = None
    year_max: int | None = None

    def admits(self, paper: Paper) -> bool:
        if self.has_code and not paper.code_urls:
            return False
        if self.year_min is not None and (paper.year is None or paper.year < self.year_min):
            return False
        return self.year_max is None or (paper.year is not None and paper.year <= self.year_max)

    def describe(self) -> str:
        parts = []
        if self.has_code:
            parts.append("a code link")
        if self.year_min is not None or self.year_max is not None:
            lo, hi = self.year_min, self.year_max
            parts.append(f"a date in {lo}" if lo == hi else f"a date from {lo or '…'} to {hi or '…'}")
        return " and ".join(parts)


def metadata_filter(question: str) -> MetaFilter | None:
    """The filter a question asks for when it asks only about metadata, else None."""
    words = set(re.findall(r"[a-z]+", question.lower()))
    year = _YEAR.search(question)
    has_code = bool(_CODE.search(question))
    if not (has_code or year) or words - _FILLER:
        return None
    lo = hi = None
    if year:
        y, how = int(year.group(2)), (year.group(1) or "in").lower()
        lo = y if how in ("from", "in", "published in", "since", "after") else None
        hi = y if how in ("from", "in", "published in", "before", "until") else None
        if how == "after":
            lo = y + 1
        if how == "before":
            hi = y - 1
    return MetaFilter(has_code=has_code, year_min=lo, year_max=hi)


def metadata_answer(question: str, papers: list[Paper], filt: MetaFilter, lexicon: Lexicon) -> Answer:
    """List the papers in scope that pass the filter, each with the fact that admits it."""
    kept = [p for p in papers if filt.admits(p)]
    what = filt.describe()
    if not kept:
        text = f"None of the {len(papers)} papers has {what} in the listing."
        return Answer(question=question, text=text, abstained=False, backend="extractive")
    lines, citations = [f"{len(kept)} of the {len(papers)} papers have {what} in the listing:", ""], []
    for n, paper in enumerate(kept, start=1):
        facts = []
        if filt.year_min is not None or filt.year_max is not None:
            facts.append(f"published {paper.published.isoformat() if paper.published else paper.year}" if paper.year else "")
        quote = ""
        if filt.has_code:
            facts.append("code: " + ", ".join(paper.code_urls))
            quote = next((s for s in split_sentences(paper.abstract) if paper.code_urls[0] in s), "")
        lines.append(f"- **{display_name(paper, lexicon)}** [{n}]: {'; '.join(f for f in facts if f)}")
        citations.append(Citation(n=n, paper_id=paper.paper_id, title=paper.title, quote=quote.strip()))
    return Answer(question=question, text="\n".join(lines), abstained=False, backend="extractive",
                  citations=citations)

