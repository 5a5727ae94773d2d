"""Answers and sources as page markup. Pure functions, no Gradio.

Everything that comes from the corpus or the LLM (titles, abstracts, answer text, URLs) is
escaped here: HTML-escaped for the sources panel, and HTML- plus Markdown-escaped for the
chat (which renders Markdown), so an abstract with `<script>`, `<img onerror>` or
`[a link](javascript:...)` is shown as text. The only markup is the markup built here.
"""

from __future__ import annotations

import base64
import html
import re
from urllib.parse import quote_plus

from rag.citations import parse_markers, supporting_sentences
from rag.export import answer_markdown
from rag.types import Answer, Citation, Hit, Paper

_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|~$<>])")


def esc(text: str) -> str:
    """Escape for an HTML context (element text or a quoted attribute)."""
    return html.escape(text, quote=True)


def esc_md(text: str) -> str:
    """Escape for the chat's Markdown: no HTML, no links, no emphasis, no maths."""
    return _MD_SPECIAL.sub(r"\\\1", html.escape(text, quote=False))


def source_id(turn: int, n: int) -> str:
    return f"src-{turn}-{n}"


_BOLD = re.compile(r"\*\*(.+?)\*\*")
_BULLET = re.compile(r"^- ", re.M)


def _inline(text: str) -> str:
    """Escaped text in which only the answer's own `**name**` lead-ins stay bold."""
    out, last = [], 0
    for m in _BOLD.finditer(text):
        out += [esc_md(text[last : m.start()]), f"<strong>{esc(m.group(1))}</strong>"]
        last = m.end()
    out.append(esc_md(text[last:]))
    return "".join(out)


def linked_text(text: str, turn: int, n_sources: int) -> str:
    """Escaped answer text whose `[n]` markers link to the sources panel cards; `**name**`
    is bold and a line starting with "- " stays a list item."""
    bullets = [m.start() for m in _BULLET.finditer(text)]
    out: list[str] = []
    last = 0
    for m in parse_markers(text):
        out.append(_inline(text[last : m.start]))
        links = [
            f'<a class="cite" href="#{source_id(turn, n)}" title="Show source {n}">\\[{n}\\]</a>'
            for n in m.numbers
            if 1 <= n <= n_sources
        ]
        out.append("".join(links) if links else esc_md(text[m.start : m.end]))
        last = m.end
    out.append(_inline(text[last:]))
    rendered = "".join(out)
    return re.sub(r"^\\- ", "- ", rendered, flags=re.M) if bullets else rendered


def _paragraphs(markdown: str) -> str:
    return "\n\n".join(p.strip() for p in re.split(r"\n\s*\n", markdown) if p.strip())


def chat_message(answer: Answer, turn: int) -> str:
    """The assistant's message for a finished answer (Markdown with a little inline HTML)."""
    parts: list[str] = []
    if answer.notice:
        parts.append(f'<span class="notice">⚠ {esc_md(answer.notice)}</span>')
    if answer.interpreted_as:
        scope = f" — within the {len(answer.scope)} paper(s) of the previous answer" if answer.scope else ""
        parts.append(f'<span class="interp">Interpreted as: “{esc_md(answer.interpreted_as)}”{esc_md(scope)}</span>')
    if answer.abstained:
        parts.append('<span class="abstain">Not answered by the collection</span>')
        parts.append(esc_md(answer.text))
    else:
        parts.append(_paragraphs(linked_text(answer.text, turn, max((c.n for c in answer.citations), default=0))))
        if answer.table:
            parts.append(table_html(answer, turn))
    cited = len(answer.citations)
    limited = f" · filters: {esc_md(answer.filters)}" if answer.filters else ""
    # in the link itself, base64: the page's sanitizer keeps an href (not data-*), and Markdown leaves it alone
    md64 = base64.b64encode(answer_markdown(answer).encode("utf-8")).decode("ascii")
    copy = (f' · <a class="copy-md" href="#copy:{md64}" '
            f'title="Copy this answer and its numbered sources as Markdown">copy as Markdown</a>')
    parts.append(
        f'<span class="meta">{esc_md(answer.backend)} · {len(answer.hits)} papers retrieved, {cited} cited{limited}{copy}</span>'
    )
    return "\n\n".join(parts)


TABLE_COLUMNS = ("[n]", "paper", "method", "dataset", "metric", "value", "compared with", "flags")


def table_html(answer: Answer, turn: int) -> str:
    """A table answer's rows (sortable by any column, CSV download; page.js does both).
    Each row's [n] links to its source card like the citations in the text."""
    if not answer.table:
        return ""
    n_sources = max((c.n for c in answer.citations), default=0)
    head = "".join(f"<th>{esc(c)}</th>" for c in TABLE_COLUMNS)
    body = []
    for r in answer.table:
        cite = (f'<a class="cite" href="#{source_id(turn, r.n)}" title="Show source {r.n}">[{r.n}]</a>'
                if 1 <= r.n <= n_sources else f"[{r.n}]")
        value = f"{r.value}{r.unit}" if r.unit in ("%", "×") else f"{r.value} {r.unit}".strip()
        cells = [esc(x) for x in (r.title, r.method, r.dataset, r.metric, value, r.compared_with, ", ".join(r.flags))]
        numeric = f' data-sort="{r.value.replace(",", "")}"' if r.value else ""
        body.append(f"<tr><td>{cite}</td>" + "".join(
            f"<td{numeric if i == 4 else ''}>{c}</td>" for i, c in enumerate(cells)) + "</tr>")
    return (f'<div class="claims-table"><table class="claims" data-turn="{turn}"><thead><tr>{head}</tr></thead>'
            f'<tbody>{"".join(body)}</tbody></table>'
            f'<a class="table-csv" href="#" title="Download this table as CSV">⬇ table as CSV</a></div>')


def streaming_message(partial: str, turn: int, n_sources: int) -> str:
    """The message while LLM tokens arrive: the text so far, citations already linked."""
    return _paragraphs(linked_text(partial, turn, n_sources)) + ' <span class="typing">▍</span>'


def _code_links(paper: Paper) -> str:
    links = [u for u in paper.code_urls if re.match(r"https?://[^\s\"'<>]+$", u)]
    return " ".join(
        f'<a class="code" href="{esc(u)}" target="_blank" rel="noopener noreferrer">code</a>' for u in links[:2]
    )


def _authors(paper: Paper) -> str:
    """'Kaiming He, Xiangyu Zhang et al.' (the full list in the tooltip), or '4 authors'."""
    names = paper.author_names
    if names:
        shown = ", ".join(names[:3]) + (" et al." if len(names) > 3 else "")
        return f'<span class="authors" title="{esc(", ".join(names))}">{esc(shown)}</span>'
    return f"{paper.authors} author{'s' if paper.authors != 1 else ''}" if paper.authors else ""


def paper_meta(paper: Paper) -> str:
    bits = []
    if paper.published:
        bits.append(esc(paper.published.isoformat()))
    elif paper.year:  # a year alone is shown as a year, not as a made-up 1 January
        bits.append(str(paper.year))
    if paper.venue:
        bits.append(f'<span class="venue">{esc(paper.venue)}</span>')
    if authors := _authors(paper):
        bits.append(authors)
    code = _code_links(paper)
    if code:
        bits.append(code)
    bits.append(_paper_links(paper) or _search_links(paper))
    return " · ".join(bits)


def _paper_links(paper: Paper) -> str:
    """Links to the paper itself (arXiv abstract page, DOI, its URL), when the collection gives them."""
    return " ".join(
        f'<a class="out" href="{esc(u)}" target="_blank" rel="noopener noreferrer" title="{esc(u)}">{esc(label)}</a>'
        for label, u in paper.links if re.match(r"https?://[^\s\"'<>]+$", u)
    )


def _search_links(paper: Paper) -> str:
    """No link to the paper (listing pages give none): a title search on arXiv and Semantic Scholar."""
    q = quote_plus(paper.title)
    return (f'<a class="out" href="https://arxiv.org/search/?query={q}&amp;searchtype=title" target="_blank" rel="noopener noreferrer" '
            f'title="Search arXiv for this title">arXiv</a> '
            f'<a class="out" href="https://www.semanticscholar.org/search?q={q}" target="_blank" '
            f'rel="noopener noreferrer" title="Search Semantic Scholar for this title">Semantic Scholar</a>')


def _abstract(paper: Paper, quote: str) -> str:
    paragraphs = []
    for text in paper.abstracts:
        spans = supporting_sentences(text, quote)
        paragraphs.append(
            '<p class="abstract">'
            + " ".join(f"<mark>{esc(s)}</mark>" if hit else esc(s) for s, hit in spans)
            + "</p>"
        )
    return "".join(paragraphs)


def _card(paper: Paper, *, label: str, elem_id: str, quote: str = "", open_: bool = True, extra: str = "") -> str:
    meta = paper_meta(paper)
    return (
        f'<details class="src" id="{esc(elem_id)}" data-paper="{esc(paper.paper_id)}"{" open" if open_ else ""}>'
        f'<summary><span class="n">{esc(label)}</span> <span class="title">{esc(paper.title)}</span></summary>'
        + (f'<div class="meta">{meta}{extra}</div>' if meta or extra else "")
        + _abstract(paper, quote)
        + "</details>"
    )


def _why(hit: Hit | None) -> str:
    """Why the paper was retrieved, in words (its name, the question's words, closeness in meaning)."""
    words = hit.why.in_words() if hit is not None and hit.why is not None else ""
    return f'<div class="why">Found because it {esc(words)}.</div>' if words else ""


def _cited_card(c: Citation, paper: Paper, turn: int, hit: Hit | None = None) -> str:
    return _card(paper, label=f"[{c.n}]", elem_id=source_id(turn, c.n), quote=c.quote, extra=_why(hit))


def _uncited(hits: list[Hit], turn: int, heading: str, open_: bool) -> str:
    if not hits:
        return ""
    cards = "".join(
        _card(h.paper, label="○", elem_id=f"hit-{turn}-{i}", open_=False, extra=_why(h))
        for i, h in enumerate(hits)
    )
    return (
        f'<details class="uncited"{" open" if open_ else ""}><summary>{esc(heading)} ({len(hits)})</summary>'
        f"{cards}</details>"
    )


def turn_sources(answer: Answer, turn: int, *, latest: bool) -> str:
    """One turn's sources: cited papers with highlighted support, then the rest, collapsed."""
    papers = {h.paper_id: h.paper for h in answer.hits}
    cited_ids = {c.paper_id for c in answer.citations}
    body: list[str] = []
    if answer.abstained:
        body.append('<p class="abstain-note">No paper in the collection answers this question.</p>')
        body.append(_uncited(answer.hits, turn, "Closest papers", open_=True))
    else:
        by_id = {h.paper_id: h for h in answer.hits}
        body += [_cited_card(c, papers[c.paper_id], turn, by_id.get(c.paper_id))
                 for c in answer.citations if c.paper_id in papers]
        rest = [h for h in answer.hits if h.paper_id not in cited_ids]
        body.append(_uncited(rest, turn, "Retrieved but not cited", open_=False))
    return (
        f'<details class="turn" id="turn-{turn}"{" open" if latest else ""}>'
        f'<summary class="question">{esc(answer.question)}</summary>{"".join(body)}</details>'
    )


MAX_TURNS = 10  # the panel is resent whole with each answer; keep it bounded


def sources_panel(answers: list[Answer]) -> str:
    """The sources of the last MAX_TURNS answers, the latest first and open; older collapsed."""
    if not answers:
        return '<div class="sources empty">Sources for each answer appear here.</div>'
    first = max(0, len(answers) - MAX_TURNS)
    turns = [turn_sources(a, t, latest=(t == len(answers) - 1)) for t, a in enumerate(answers) if t >= first]
    dropped = (f'<p class="dropped">Sources of the first {first} answer(s) are no longer shown.</p>'
               if first else "")
    return '<div class="sources">' + "".join(reversed(turns)) + dropped + "</div>"
