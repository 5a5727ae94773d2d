"""Small domain types shared by every layer: Paper, Chunk, Hit, Citation, Answer."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, Field

Backend = Literal["extractive", "openai"]


class SourceRef(BaseModel):
    """Where a paper was listed: the page file and the line of its title."""

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
    published: date | None = None
    authors: int | None = None
    code_urls: list[str] = Field(default_factory=list)

    @property
    def abstract(self) -> str:
        """All abstract versions, the first one first."""
        return "\n\n".join(self.abstracts)

    @property
    def year(self) -> int | None:
        return self.published.year if self.published else None


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
