"""Small domain types shared by every layer: Paper, Chunk, Hit, Citation, Answer."""

from __future__ import annotations

from datetime import date
from typing import Literal
from urllib.parse import quote

from pydantic import BaseModel, Field

Backend = Literal["extractive", "openai"]


class SourceRef(BaseModel):
    """Where a paper was listed: the file (a listing page, or a JSONL/CSV/BibTeX/arXiv file) and
    the line its record starts on."""

    file: str
    line: int


class Paper(BaseModel):
    """One unique paper, merged over every page that lists it."""

    paper_id: str = Field(description="Stable id derived from the normalised title.")
    title: str
    abstracts: list[str] = Field(
        description="Abstract texts; more than one when pages disagree (kept, not dropped)."
    )
    sources: list[SourceRef] = Field(default_factory=list)
    published: date | None = Field(None, description="The full date, when a source gives year, month and day.")
    published_year: int | None = Field(
        None, description="The year, when a source gives only a year (no day is made up); see `year`."
    )
    authors: int | None = Field(None, description="How many authors (counted from author_names when given).")
    author_names: list[str] = Field(default_factory=list, description="As the source writes them, first name first.")
    code_urls: list[str] = Field(default_factory=list)
    url: str | None = Field(None, description="The paper's own page (e.g. https://arxiv.org/abs/<id>).")
    doi: str | None = Field(None, description="e.g. 10.1109/CVPR.2016.90 (without https://doi.org/).")
    arxiv_id: str | None = Field(None, description="e.g. 1512.03385 or hep-th/9901001.")
    venue: str | None = Field(None, description="Journal, proceedings or arXiv journal-ref, as the source writes it.")

    @property
    def abstract(self) -> str:
        """All abstract versions, the first one first."""
        return "\n\n".join(self.abstracts)

    @property
    def year(self) -> int | None:
        """The publication year, from the full date or, failing that, the year alone."""
        return self.published.year if self.published else self.published_year

    @property
    def links(self) -> list[tuple[str, str]]:
        """(label, URL) of the paper itself: arXiv, DOI, then its own URL when that is another page."""
        out = []
        if self.arxiv_id:
            out.append(("arXiv", f"https://arxiv.org/abs/{self.arxiv_id}"))
        if self.doi:
            out.append(("DOI", f"https://doi.org/{quote(self.doi, safe='/:;()')}"))
        if self.url and all(self.url.rstrip("/") != u for _, u in out):
            out.append(("link", self.url))
        return out


class Chunk(BaseModel):
    """A piece of a paper that is embedded and indexed: the title or one abstract sentence."""

    chunk_id: str
    paper_id: str
    text: str
    kind: Literal["title", "abstract"] = "abstract"
    position: int = Field(0, description="Order within the paper: 0 is the title, then the sentences.")


class Why(BaseModel):
    """Why a paper was retrieved, in words a user understands."""

    name: str | None = Field(None, description="The paper's own name, when the question names it.")
    terms: list[str] = Field(default_factory=list, description="Question words the paper contains.")
    sentence: str = Field("", description="The paper's sentence closest in meaning to the question.")
    similarity: float = Field(0.0, description="Cosine similarity of that sentence (or the title).")

    def in_words(self) -> str:
        """'names DenseNet; has densenet, connect; closest sentence very close in meaning (0.74)'."""
        parts = []
        if self.name:
            parts.append(f"names {self.name}")
        if self.terms:
            parts.append("has " + ", ".join(self.terms[:5]))
        if self.similarity:
            closeness = ("very close" if self.similarity >= 0.6 else "close" if self.similarity >= 0.4
                         else "loosely related")
            parts.append(f"closest sentence {closeness} in meaning ({self.similarity:.2f})")
        return "; ".join(parts)


class Hit(BaseModel):
    """One retrieved paper (never twice in a result list)."""

    paper: Paper
    score: float = Field(description="Fused relevance (higher is better).")
    dense: float = Field(0.0, description="Best cosine similarity of a sentence or the title to the query.")
    lexical: float = Field(0.0, description="BM25 score of the paper for the query.")
    snippet: str = Field("", description="The best-matching sentence.")
    coverage: float = Field(0.0, description="idf-weighted share of the question's terms the paper contains.")
    why: Why | None = None

    @property
    def paper_id(self) -> str:
        return self.paper.paper_id


class Citation(BaseModel):
    """A numbered source used by an answer, with the sentence that supports it."""

    n: int
    paper_id: str
    title: str
    quote: str = Field("", description="Supporting sentence(s) from the abstract.")


class Usage(BaseModel):
    prompt_tokens: int = 0
    completion_tokens: int = 0


class TableRow(BaseModel):
    """One row of a results table: a claim of a cited paper ('[n]' is its citation)."""

    n: int
    paper_id: str
    title: str
    method: str
    dataset: str = ""
    metric: str = ""
    value: str = Field("", description="As written in the quote; '' when the paper states the comparison without a number.")
    unit: str = ""
    compared_with: str = ""
    flags: list[str] = Field(default_factory=list)
    quote: str = Field(description="The abstract sentence the row comes from, verbatim.")


class Answer(BaseModel):
    """What `ask` returns, whatever the backend."""

    question: str
    text: str
    abstained: bool
    backend: Backend
    citations: list[Citation] = Field(default_factory=list)
    hits: list[Hit] = Field(default_factory=list)
    notice: str | None = Field(None, description="e.g. why the LLM answer fell back.")
    usage: Usage | None = None
    interpreted_as: str | None = Field(
        None, description="The standalone question actually answered, when a follow-up was rewritten."
    )
    scope: list[str] = Field(
        default_factory=list, description="Paper ids the search was limited to (a follow-up about 'those')."
    )
    table: list[TableRow] = Field(
        default_factory=list, description="Result rows, for questions over many papers' numbers; empty otherwise."
    )
    unsupported: list[str] = Field(
        default_factory=list, description="LLM answer sentences that the sources they cite do not support."
    )
    filters: str | None = Field(None, description="The year/code filters the answer was limited to, in words.")


class Claim(BaseModel):
    """One result an abstract states: a value of a metric, for a method, on a dataset,
    with the exact sentence it comes from (so every table cell is citable)."""

    paper_id: str
    method: str = Field("", description="The method the value belongs to, as named; '' = the paper's own, unnamed.")
    own: bool = Field(True, description="The paper's own method; False for a baseline's or prior work's number.")
    dataset: str = Field("", description="The dataset/benchmark as written; '' when the abstract names none.")
    task: str = ""
    metric: str = Field("", description="Canonical metric ('top-1 accuracy', 'mAP', 'speedup', ...).")
    value: str = Field(description="The number exactly as written in the sentence ('76.3', '1.2M').")
    number: float
    magnitude: str = Field("", description="K, M, B... ('1.2M', '25 million'); `scaled` applies it.")
    unit: str = ""
    direction: Literal["higher", "lower", ""] = ""
    compared_with: str = Field("", description="What the sentence compares the value with, when it says.")
    relative: bool = Field(False, description="A gain or ratio over something ('by 2.1%', '2x faster'), not a score.")
    flags: list[str] = Field(default_factory=list, description="Paper-level flags: no_extra_data, extra_data, zero_shot, ...")
    sentence: str
    position: int = Field(0, description="Index of the sentence in the paper's abstract.")

    @property
    def scaled(self) -> float:
        from rag.quantities import MAGNITUDE_FACTORS

        return self.number * MAGNITUDE_FACTORS.get(self.magnitude, 1.0)


class FlagMention(BaseModel):
    """A paper-level flag ('without extra data', 'pre-trained on JFT-300M') and the sentence stating it."""

    paper_id: str
    flag: str
    sentence: str
