"""The collection as MCP tools (RAG_UI_MCP): `search_papers` and `ask_papers`, served by the
page's own server at /gradio_api/mcp/. Gradio derives each tool's schema from the type hints
and its description from the docstring (the "Args:" lines describe the arguments)."""

from __future__ import annotations

import json

import gradio as gr

from rag.errors import RagError
from rag.export import answer_json, hit_json
from rag.redact import redact
from rag.retrieve import Filters
from rag.service import RagService


def _filters(year_from: int, year_to: int, has_code: bool) -> Filters | None:
    chosen = Filters(year_min=year_from or None, year_max=year_to or None, has_code=has_code)
    return chosen if chosen.chosen else None


def add_tools(service: RagService) -> None:
    """Register the tools inside the current `gr.Blocks` (each is also a plain API endpoint)."""

    def search_papers(query: str, top_k: int = 8, year_from: int = 0, year_to: int = 0,
                      has_code: bool = False) -> str:
        """Search the collection of research-paper abstracts by meaning and by words (hybrid search).

        Args:
            query: What to look for: a method, a paper's name, a dataset, a question.
            top_k: How many papers to return (1-100).
            year_from: Only papers from this year on (0: no limit; undated papers are then left out).
            year_to: Only papers up to this year (0: no limit).
            has_code: Only papers whose abstract links to code.

        Returns:
            JSON: the papers, best first, each with paper_id, title, year, code_urls, the closest sentence (snippet) and why each was found.
        """
        try:
            if not 1 <= top_k <= 100:
                raise RagError(f"top_k must be between 1 and 100, not {top_k}")
            hits = service.search(query, top_k=top_k, filters=_filters(year_from, year_to, has_code))
        except RagError as exc:
            raise gr.Error(redact(exc), print_exception=False) from None
        return json.dumps([hit_json(h) for h in hits], ensure_ascii=False)

    def ask_papers(question: str, year_from: int = 0, year_to: int = 0, has_code: bool = False) -> str:
        """Answer a question from the collection's abstracts, citing the sentences used.

        Args:
            question: A question about the papers, e.g. "which methods beat ResNet-50 without extra data?".
            year_from: Only papers from this year on (0: no limit; undated papers are then left out).
            year_to: Only papers up to this year (0: no limit).
            has_code: Only papers whose abstract links to code.

        Returns:
            JSON: answer (with [n] markers), citations (n, paper_id, title, the quoted sentence), abstained (true when the collection does not answer), a results table when the question asks for numbers across papers, and the papers retrieved.
        """
        try:
            answer = service.ask(question, filters=_filters(year_from, year_to, has_code))
        except RagError as exc:
            raise gr.Error(redact(exc), print_exception=False) from None
        return json.dumps(answer_json(answer), ensure_ascii=False)

    gr.api(search_papers, api_name="search_papers")
    gr.api(ask_papers, api_name="ask_papers")
