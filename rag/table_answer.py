"""Compose a table question's answer from `rag.table`'s rows: the table (one cited row per
claim), a summary built from the rows, how complete it is, and the borderline claims
listed apart. Every number in the text is a row's value, every name a row's method or
the paper's own name, every quote a verbatim abstract sentence.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from rag.claimstore import ClaimStore
from rag.paperstore import PaperStore
from rag.question import QuestionPlan
from rag.table import FLAG_WORDS, TableQuery, TableResult, run_table, table_query
from rag.types import Answer, Citation, Hit, Paper, TableRow
from rag.vocabulary import ClaimVocabulary, dataset_family

MAX_ROWS = 40  # rows shown; the summary still counts every qualifying paper
MAX_EXCLUDED = 8


@dataclass
class ClaimTables:
    """The collection's claims, vocabulary and flags, ready for table questions."""

    store: ClaimStore
    papers: PaperStore
    vocab: ClaimVocabulary
    name_of: Callable[[Paper], str]  # the paper's display name
    abstract_key: Callable[[str], str] | None = None  # paper id -> its abstract's name key, kept by the index

    def __post_init__(self) -> None:
        claims = self.store.all()
        self.families = {dataset_family(c.dataset): c.dataset for c in claims if c.dataset}
        self.flags_of: dict[str, set[str]] = {}
        for c in claims:
            self.flags_of.setdefault(c.paper_id, set()).update(c.flags)

    def query(self, plan: QuestionPlan) -> TableQuery | None:
        return table_query(plan, self.vocab, self.families)

    def run(self, query: TableQuery, admits: Callable[[Paper], bool] | None = None) -> TableResult:
        papers: Mapping[str, Paper] = self.papers  # read as the claims (and "beat" keys) need them
        if admits is not None or (query.op == "beat" and self.abstract_key is None):  # one pass over all
            papers = {p.paper_id: p for p in self.papers.all() if admits is None or admits(p)}
        return run_table(query, self.store.all(), papers, self.flags_of, self.abstract_key)

    def answer(self, plan: QuestionPlan, query: TableQuery, result: TableResult) -> Answer:
        return compose_table(plan.question, query, result, self.name_of)


def _cell(value: str, unit: str) -> str:
    if not value:
        return ""
    return f"{value}{unit}" if unit in ("%", "×") else f"{value} {unit}".strip()


def _papers_phrase(n: int) -> str:
    return f"{n} paper{'s' if n != 1 else ''}"


def compose_table(question: str, query: TableQuery, result: TableResult, name_of: Callable[[Paper], str]) -> Answer:
    numbers: dict[str, int] = {}
    citations: list[Citation] = []

    def cite(paper: Paper, quote: str) -> int:
        if paper.paper_id not in numbers:
            numbers[paper.paper_id] = len(numbers) + 1
            citations.append(Citation(n=numbers[paper.paper_id], paper_id=paper.paper_id, title=paper.title, quote=quote))
        else:
            c = citations[numbers[paper.paper_id] - 1]
            if quote not in c.quote:
                c.quote = f"{c.quote} … {quote}"
        return numbers[paper.paper_id]

    rows: list[TableRow] = []
    for claim, paper, quote in result.rows[:MAX_ROWS]:
        n = cite(paper, quote)
        method = (claim.method if claim and claim.method else "") or name_of(paper)
        rows.append(TableRow(
            n=n, paper_id=paper.paper_id, title=paper.title, method=method,
            dataset=claim.dataset if claim else "", metric=claim.metric if claim else "",
            value=claim.value if claim else "", unit=claim.unit if claim else "",
            compared_with=claim.compared_with if claim else query.baseline,
            flags=sorted(claim.flags) if claim else [], quote=quote,
        ))
    lines = [_summary(query, result, rows)]
    excluded = [(p, why, quote) for p, why, quote in result.excluded][:MAX_EXCLUDED]
    if excluded:
        parts = [f"**{name_of(p)}** [{cite(p, quote)}] ({why})" for p, why, quote in excluded]
        lines.append("Borderline, not counted: " + "; ".join(parts) + ".")
    hits = [Hit(paper=result_paper, score=0.0) for result_paper in _cited_papers(result, numbers)]
    return Answer(question=question, text="\n\n".join(lines), abstained=False, backend="extractive",
                  citations=citations, hits=hits, table=rows)


def _cited_papers(result: TableResult, numbers: dict[str, int]) -> list[Paper]:
    by_id = {p.paper_id: p for _, p, _ in result.rows} | {p.paper_id: p for p, _, _ in result.excluded}
    return [by_id[pid] for pid in sorted(numbers, key=numbers.get) if pid in by_id]


def _row_ref(row: TableRow) -> str:
    value = _cell(row.value, row.unit)
    return f"**{row.method}** {value} [{row.n}]".replace("  ", " ") if value else f"**{row.method}** [{row.n}]"


def _summary(query: TableQuery, result: TableResult, rows: list[TableRow]) -> str:
    papers = list(dict.fromkeys(r.paper_id for r in rows))
    n = len({p.paper_id for _, p, _ in result.rows})
    what = query.describe()
    flag = f" with {FLAG_WORDS[query.flag]}" if query.flag and query.flag != "no_extra_data" else (
        " without extra data" if query.flag == "no_extra_data" else "")
    if query.op == "beat":
        head = (f"{_papers_phrase(n)} {'claims' if n == 1 else 'claim'} to beat {query.baseline}{flag}"
                + (f" on {query.dataset}" if query.dataset else "") + ": "
                + ", ".join(_row_ref(r) for r in _first_per_paper(rows)) + ".") if n else \
            f"No paper in the collection claims to beat {query.baseline}{flag}."
        mention = "mentions" if result.considered == 1 else "mention"
        return head + f" ({_papers_phrase(result.considered)} {mention} {query.baseline}; {n} {'claims' if n == 1 else 'claim'} to beat it.)"
    if not n:
        closest = f" {_papers_phrase(result.considered)} report {what}{flag}, none of them " \
                  f"{'above' if query.op == 'more_than' else 'below'} {query.threshold_text.split(' ', 1)[-1]}." \
            if query.threshold is not None and result.considered else ""
        return f"No paper in the collection reports {what}{flag}" + (
            f" {query.threshold_text}." if query.threshold is not None else ".") + closest
    if query.op in ("best", "max", "min"):
        top = rows[0]
        word = {"max": "highest", "min": "lowest"}.get(query.op) or (
            "best (lowest)" if top.metric and top.metric in ("FID", "error rate", "top-1 error", "perplexity", "WER",
                                                             "latency", "parameters", "FLOPs", "memory") else "best")
        rest = ", ".join(_row_ref(r) for r in _first_per_paper(rows)[1:4])
        return (f"The {word} {what}{flag} in the collection is {_cell(top.value, top.unit)}, by **{top.method}** "
                f"[{top.n}]." + (f" Next: {rest}." if rest else "")
                + f" ({_papers_phrase(n)} report {what}; all rows below, best first.)")
    cond = f" {query.threshold_text}" if query.threshold is not None else ""
    listed = ", ".join(_row_ref(r) for r in _first_per_paper(rows)[:12])
    more = f" and {len(papers) - 12} more (table)" if len(papers) > 12 else ""
    of = f" (of {_papers_phrase(result.considered)} that report {what})" if query.threshold is not None and result.considered else ""
    return f"{_papers_phrase(n)} {'reports' if n == 1 else 'report'} {what}{cond}{flag}{of}: {listed}{more}."


def _first_per_paper(rows: list[TableRow]) -> list[TableRow]:
    seen: set[str] = set()
    out = []
    for r in rows:
        if r.paper_id not in seen:
            seen.add(r.paper_id)
            out.append(r)
    return out
