"""Taking the work away: an answer as clean Markdown with its numbered sources, a whole
conversation as Markdown, and the cited papers as BibTeX (bibtexparser) or CSV."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable
from typing import Any

from rag.types import Answer, Hit, Paper

_BIB_SPECIAL = re.compile(r"([&%$#_{}])")
CSV_FIELDS = ["paper_id", "title", "year", "authors", "author_names", "venue", "doi", "arxiv_id", "url", "code",
              "cited_in", "abstract"]


def answer_markdown(answer: Answer) -> str:
    """The answer's text (its `[n]` markers kept), any table, and a numbered source list with
    the quoted sentences: what a researcher pastes into notes."""
    parts = [answer.text.strip()]
    if answer.table:
        parts.append(_table_markdown(answer))
    if answer.notice:
        parts.append(f"> Note: {answer.notice}")
    if answer.citations:
        lines = ["Sources:"]
        for c in answer.citations:
            line = f"[{c.n}] {c.title}"
            if c.quote:
                line += f" — “{c.quote}”"
            lines.append(line)
        parts.append("\n".join(lines))
    return "\n\n".join(p for p in parts if p)


def _table_markdown(answer: Answer) -> str:
    head = ["[n]", "paper", "method", "dataset", "metric", "value", "compared with", "flags"]
    cell = lambda s: str(s).replace("|", "\\|").replace("\n", " ")  # noqa: E731
    rows = [[f"[{r.n}]", r.title, r.method, r.dataset, r.metric, f"{r.value}{r.unit}", r.compared_with,
             ", ".join(r.flags)] for r in answer.table]
    return "\n".join(["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
                     + ["| " + " | ".join(cell(x) for x in row) + " |" for row in rows])


def conversation_markdown(answers: Iterable[Answer], title: str = "Ask the papers") -> str:
    """Every question and answer of a conversation, in order, each with its sources."""
    out = [f"# {title}"]
    for i, a in enumerate(answers, start=1):
        out.append(f"## {i}. {a.question}")
        if a.interpreted_as:
            out.append(f"*Interpreted as: {a.interpreted_as}*")
        out.append(answer_markdown(a))
    return "\n\n".join(out) + "\n"


def cited_papers(answers: Iterable[Answer]) -> list[tuple[Paper, list[int]]]:
    """The papers the answers cite, once each in order of first citation, with the numbers
    (1-based) of the answers that cite them."""
    seen: dict[str, tuple[Paper, list[int]]] = {}
    for i, a in enumerate(answers, start=1):
        papers = {h.paper_id: h.paper for h in a.hits}
        for c in a.citations:
            if c.paper_id in papers:
                seen.setdefault(c.paper_id, (papers[c.paper_id], []))[1].append(i)
    return [(p, sorted(set(turns))) for p, turns in seen.values()]


def _bib(text: str) -> str:
    return _BIB_SPECIAL.sub(r"\\\1", " ".join(text.split()))


def bibtex(papers: Iterable[Paper]) -> str:
    """One @misc entry per paper with what the collection gives: title, author, year, venue
    (howpublished), doi, eprint (arXiv), url (the paper's, else its code) and the abstract;
    keys are unique, readable slugs."""
    import bibtexparser
    from bibtexparser.model import Entry, Field

    library = bibtexparser.Library()
    keys: set[str] = set()
    for p in papers:
        words = re.findall(r"[a-z0-9]+", p.paper_id)
        key = "".join(words[:3])[:30] + (str(p.year) if p.year else "")
        while key in keys:
            key += "x"
        keys.add(key)
        fields = [Field("title", "{" + _bib(p.title) + "}")]
        if p.author_names:
            fields.append(Field("author", " and ".join(_bib(n) for n in p.author_names)))
        if p.year:
            fields.append(Field("year", str(p.year)))
        if p.venue:
            fields.append(Field("howpublished", _bib(p.venue)))
        if p.doi:
            fields.append(Field("doi", p.doi))
        if p.arxiv_id:
            fields += [Field("eprint", p.arxiv_id), Field("archiveprefix", "arXiv")]
        if p.url or p.code_urls:
            fields.append(Field("url", p.url or p.code_urls[0]))
        fields.append(Field("abstract", _bib(p.abstract)))
        library.add(Entry("misc", key, fields))
    return bibtexparser.write_string(library)


def papers_csv(papers: Iterable[tuple[Paper, list[int]]]) -> str:
    """The cited papers as CSV (for a spreadsheet), with the answers that cite each."""
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(CSV_FIELDS)
    for p, turns in papers:
        writer.writerow([p.paper_id, p.title, p.year or "", p.authors or "", "; ".join(p.author_names), p.venue or "",
                         p.doi or "", p.arxiv_id or "", p.url or "", " ".join(p.code_urls), " ".join(map(str, turns)),
                         p.abstract])
    return buf.getvalue()


def hit_json(hit: Hit) -> dict[str, Any]:
    """One search result as JSON (the CLI's `--json` and the MCP tools)."""
    p = hit.paper
    out: dict[str, Any] = {"paper_id": hit.paper_id, "title": p.title, "score": round(hit.score, 6),
                           "snippet": hit.snippet, "year": p.year, "url": p.url, "doi": p.doi, "arxiv_id": p.arxiv_id,
                           "code_urls": p.code_urls}
    if hit.why is not None:
        out["why"] = hit.why.model_dump(exclude_none=True)
    return out


def answer_json(a: Answer) -> dict[str, Any]:
    """An answer as JSON: its text with [n] markers, the citations they map to, the results table."""
    return {
        "question": a.question, "answer": a.text, "abstained": a.abstained, "backend": a.backend,
        "citations": [c.model_dump() for c in a.citations], "hits": [hit_json(h) for h in a.hits],
        "notice": a.notice, "table": [r.model_dump() for r in a.table], "unsupported": a.unsupported,
        "filters": a.filters,
    }
