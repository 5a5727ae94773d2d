"""RagService: the one object the CLI, the page and the eval call."""

from __future__ import annotations

import logging
import re
import shutil
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, Literal

from rag.answer import Answerer, ExtractiveAnswerer, extractive_answer
from rag.catalog import Overview, overview
from rag.corpus import CorpusReport, load_corpus
from rag.embed import Embedder, get_embedder
from rag.evidence import display_name
from rag.errors import ConfigError, LLMError, QuestionError
from rag.followup import Turn, interpret
from rag.index import IngestStats, Progress, index_exists, ingest, open_index, read_papers
from rag.llm import OpenAIAnswerer, make_llm
from rag.metadata import metadata_answer, metadata_filter
from rag.question import QuestionPlan
from rag.redact import redact
from rag.paperstore import PaperRows
from rag.prompts import check_all
from rag.retrieve import Filters, Mode, Retriever
from rag.settings import Settings, get_settings
from rag.table_answer import ClaimTables
from rag.types import Answer, Claim, Hit, Paper

log = logging.getLogger(__name__)

BackendChoice = Literal["auto", "extractive", "openai"]


class RagService:
    """Owns the settings, the opened index and the retriever; answers questions."""

    def __init__(self, settings: Settings | None = None, *, embedder: Embedder | None = None, llm: Any = None):
        self.settings = settings or get_settings()
        self.embedder = embedder
        self.llm = llm  # an injected llama-index LLM (tests); else built from settings
        self._retriever: Retriever | None = None
        self._tables: ClaimTables | None = None
        self._corpus: CorpusReport | None = None
        self._catalog: list[Paper] | None = None
        self._lock = threading.Lock()  # the page answers several sessions at once
        # LLM answers at once; one more falls back at once instead of holding a page worker
        self._llm_slots = threading.BoundedSemaphore(self.settings.llm_concurrency)
        check_all()

    # -- index ---------------------------------------------------------------------------
    def load_corpus(self, *, strict: bool = False) -> CorpusReport:
        """The corpus, plus the files added from the page (RAG_ADDED_DIR) when there are any."""
        added = self.settings.added_dir
        also = [added] if added.is_dir() and any(added.iterdir()) else []
        self._corpus = load_corpus(self.settings.corpus_dir, strict=strict, categories=self.settings.corpus_categories,
                                   also=also)
        return self._corpus

    def add_papers(self, file: Path, *, name: str | None = None,
                   progress: Progress | None = None) -> tuple[CorpusReport, IngestStats]:
        """Add the papers of one collection file (any format `load_corpus` reads): checked first,
        kept in RAG_ADDED_DIR, then an incremental ingest embeds only the new papers. A file that
        gives no paper, or an ingest that fails, leaves the collection and the index as they were."""
        report = load_corpus(file, categories=self.settings.corpus_categories)  # raises when nothing is usable
        added = self.settings.added_dir
        added.mkdir(parents=True, exist_ok=True)
        safe = re.sub(r"[^A-Za-z0-9._-]+", "-", name or file.name).strip("-.") or "papers"
        kept = added / f"{time.strftime('%Y%m%dT%H%M%S')}-{safe}"
        shutil.copyfile(file, kept)
        try:
            _, stats = self.ingest(progress=progress)
        except BaseException:
            kept.unlink(missing_ok=True)
            self._corpus = None
            raise
        return report, stats

    def corpus(self) -> CorpusReport:
        """The parsed corpus (parsed once; `ingest` re-reads it)."""
        return self._corpus if self._corpus is not None else self.load_corpus()

    def catalog(self) -> Sequence[Paper]:
        """The papers there are to ask about: the index's when there is one (so a broken page in
        the corpus folder does not stop the page from starting), else the corpus's."""
        if self._retriever is not None:
            return self._retriever.papers
        if self._catalog is None:
            self._catalog = (read_papers(self.settings) if index_exists(self.settings) else None) or self.corpus().papers
        return self._catalog

    def paper_count(self) -> int:
        return len(self.catalog())

    def _year_counts(self) -> Counter[int | None]:
        papers = self.catalog()
        return papers.store.year_counts() if isinstance(papers, PaperRows) else Counter(p.year for p in papers)

    def dated_count(self) -> int:
        return sum(n for year, n in self._year_counts().items() if year)

    def years(self) -> list[int]:
        """Publication years present in the collection, for the page's year filter."""
        return sorted(year for year in self._year_counts() if year)

    def backends(self) -> list[str]:
        """Answer backends usable now: extractive always, openai when configured."""
        return ["extractive", "openai"] if (self.llm is not None or self.settings.openai_configured) else ["extractive"]

    def ingest(self, *, rebuild: bool = False, strict: bool = False,
               progress: Progress | None = None) -> tuple[CorpusReport, IngestStats]:
        report = self.load_corpus(strict=strict)
        stats = ingest(report.papers, self.settings, embedder=self._embedder(), rebuild=rebuild, progress=progress)
        stats.warnings = report.warnings + stats.warnings
        self._retriever = None
        self._tables = None
        self._catalog = None
        return report, stats

    def ensure_index(self, progress: Progress | None = None) -> bool:
        """Build the index if there is none. Returns True when it had to build."""
        if index_exists(self.settings):
            return False
        self.ingest(progress=progress)
        return True

    def _embedder(self) -> Embedder:
        if self.embedder is None:
            self.embedder = get_embedder(self.settings)
        return self.embedder

    @property
    def retriever(self) -> Retriever:
        with self._lock:
            if self._retriever is None:
                self._retriever = Retriever(open_index(self.settings, embedder=self._embedder()), self.settings)
            return self._retriever

    # -- questions -----------------------------------------------------------------------
    def check_question(self, question: str) -> str:
        q = " ".join((question or "").split())
        if not q:
            raise QuestionError("The question is empty; type a question about the papers.")
        if len(q) > self.settings.max_question_chars:
            raise QuestionError(
                f"The question is {len(q)} characters long; the limit is "
                f"{self.settings.max_question_chars} (RAG_MAX_QUESTION_CHARS). Shorten it."
            )
        return q

    def search(self, query: str, *, top_k: int | None = None, mode: Mode = "hybrid",
               filters: Filters | None = None, cutoff: bool = True) -> list[Hit]:
        q = self.check_question(query)
        return self.retriever.search(q, top_k=top_k or self.settings.search_top_k, mode=mode, filters=filters,
                                     cutoff=cutoff)

    def tables(self) -> ClaimTables:
        """The collection's result claims, for table questions and `python -m rag claims`."""
        retriever = self.retriever
        with self._lock:
            if self._tables is None or self._tables.store is not retriever.index.claims:
                self._tables = ClaimTables(
                    store=retriever.index.claims, papers=retriever.index.papers,
                    vocab=retriever.vocab,
                    name_of=lambda p: display_name(p, retriever.lexicon), abstract_key=retriever.abstract_key,
                )
            return self._tables

    def claims(self, **filters: Any) -> list[Claim]:
        """Claims matching the filters of `ClaimStore.query` (dataset, metric, min_value, ...)."""
        return self.retriever.index.claims.query(**filters)

    def papers(self) -> list[Paper]:
        """Every indexed paper."""
        return list(self.retriever.papers)

    def overview(self) -> Overview:
        """Every paper with year, authors, code and gist; counts by year; the collection's topics."""
        return overview(self.catalog())

    def paper(self, paper_id: str) -> Paper:
        return self.retriever.paper(paper_id)

    def plan(self, question: str) -> QuestionPlan:
        """The question analysis the pipeline uses (intent, entities, attribute, ...)."""
        return self.retriever.plan(self.check_question(question))

    def retrieve(self, plan: QuestionPlan, *, top_k: int | None = None, filters: Filters | None = None) -> list[Hit]:
        """The papers an answer is composed from: `top_k` when given, else deep for list
        questions (the answerer then keeps those with the asked property); for a comparison, the best papers for
        each compared item as well, so that no item is lost to the others."""
        k = top_k or (self.settings.list_candidates if plan.is_list else self.settings.top_k)
        hits = self.retriever.search(plan.question, plan=plan, top_k=k, filters=filters)
        if plan.intent == "compare":
            seen = {h.paper_id for h in hits}
            extra: list[Hit] = []
            for item in plan.items:
                for h in self.retriever.search(item, top_k=3, filters=filters):
                    if h.paper_id not in seen:
                        seen.add(h.paper_id)
                        extra.append(h)
            hits = hits + extra
        return hits

    def backend_for(self, backend: BackendChoice | None) -> Literal["extractive", "openai"]:
        if backend in (None, "auto"):
            return self.settings.resolved_backend() if self.llm is None else "openai"
        return backend

    def _chat_llm(self) -> Any:
        """The LLM used to rewrite follow-ups, or None when none is configured. No retries
        and a short timeout: when it fails, the offline heuristic rewrites instead."""
        if self.llm is not None:
            return self.llm
        quick = self.settings.model_copy(
            update={"llm_max_retries": 0, "llm_timeout": min(10.0, self.settings.llm_timeout)}
        )
        try:
            return make_llm(quick)
        except ConfigError:
            return None

    def ask_stream(self, question: str, *, backend: BackendChoice | None = None, top_k: int | None = None,
                   filters: Filters | None = None, history: list[Turn] | None = None,
                   on_hits: Callable[[list[Hit]], None] | None = None) -> Iterator[str | Answer]:
        """Yield text deltas (openai backend only), then the final Answer.

        `history` (earlier turns of a chat) lets a follow-up such as "which of those used
        transformers?" be rewritten and searched within the papers it refers to. With year or
        code `filters`, the answer says so, and when they leave nothing to answer from, it says
        how many papers they left out and whether the collection answers without them.
        """
        for event in self._ask_stream(question, backend=backend, top_k=top_k, filters=filters, history=history,
                                      on_hits=on_hits):
            if isinstance(event, Answer) and filters is not None and filters.chosen:
                self._explain_filters(event, filters, top_k=top_k, history=history)
            yield event

    def _explain_filters(self, answer: Answer, filters: Filters, *, top_k: int | None,
                         history: list[Turn] | None) -> None:
        answer.filters = filters.describe()
        if not answer.abstained and answer.citations:
            return
        papers = self.catalog()
        left_out = [p for p in papers if not filters.admits(p)]
        why = []
        if filters.year_min or filters.year_max:
            undated = sum(1 for p in left_out if p.year is None)
            why.append(f"{undated} of them because they have no date")
        if filters.has_code:
            why.append(f"{sum(1 for p in left_out if not p.code_urls)} because they link no code")
        unfiltered = self.ask(answer.question, backend="extractive", top_k=top_k, history=history)
        found = ("; without them the collection answers it, citing "
                 + "; ".join(f"“{c.title}”" for c in unfiltered.citations[:3]) + " — clear the filters to see that answer"
                 if not unfiltered.abstained and unfiltered.citations else "; without them it does not answer either")
        note = (f"The filters ({answer.filters}) left out {len(left_out)} of the {len(papers)} papers"
                f"{' (' + ', '.join(why) + ')' if why else ''}{found}.")
        answer.notice = f"{answer.notice} {note}" if answer.notice else note

    def _ask_stream(self, question: str, *, backend: BackendChoice | None, top_k: int | None,
                    filters: Filters | None, history: list[Turn] | None,
                    on_hits: Callable[[list[Hit]], None] | None) -> Iterator[str | Answer]:
        original = self.check_question(question)
        chosen = self.backend_for(backend)
        start = time.monotonic()
        deadline = start + self.settings.llm_deadline  # the whole answer, follow-up rewrite included
        # the rewrite gets at most a third of it: the answer itself must still have time
        meaning = interpret(original, history or [], llm=self._chat_llm() if chosen == "openai" else None,
                            deadline=start + self.settings.llm_deadline / 3)
        q = meaning.question
        meta = metadata_filter(original)
        previous = next((t for t in reversed(history or []) if t.cited), None)
        if meta is not None and previous is not None:  # "which of those have code?"
            scoped = [self.retriever.paper(pid) for pid in previous.cited]
            answer = metadata_answer(original, scoped, meta, self.retriever.lexicon)
            answer.hits = [Hit(paper=p, score=0.0) for p in scoped]  # the sources panel shows them
            answer.interpreted_as = f"Which of the {len(scoped)} papers of the previous answer have {meta.describe()}?"
            answer.scope = list(previous.cited)
            yield answer
            return
        if meaning.scope:
            filters = replace(filters or Filters(), paper_ids=frozenset(meaning.scope))
        plan = self.retriever.plan(q)
        tables = self.tables()
        query = tables.query(plan)
        if query is not None:  # a question over many papers' numbers: answered from the claims
            table = tables.answer(plan, query, tables.run(query, admits=filters.admits if filters else None))
            if on_hits:
                on_hits(table.hits)
            events = iter([table]) if chosen == "extractive" else self._answer(plan, table.hits, chosen, table=table,
                                                                               deadline=deadline)
            for event in events:
                if isinstance(event, Answer):
                    event.question = original
                    event.interpreted_as = q if meaning.rewritten else None
                    event.scope = meaning.scope
                yield event
            return
        hits = self.retrieve(plan, top_k=top_k, filters=filters)
        if on_hits:
            on_hits(hits)
        for event in self._answer(plan, hits, chosen, deadline=deadline):
            if isinstance(event, Answer):
                event.question = original
                event.interpreted_as = q if meaning.rewritten else None
                event.scope = meaning.scope
            yield event

    def answerer(self, backend: str) -> Answerer:
        """The backend that answers: a new backend is one class and one entry here."""
        if backend == "openai":
            return OpenAIAnswerer(self.settings, llm=self.llm, embedder=self.retriever.index.embedder)
        return ExtractiveAnswerer(self.retriever, self.settings)

    def _answer(self, plan: QuestionPlan, hits: list[Hit], backend: str,
                table: Answer | None = None, deadline: float | None = None) -> Iterator[str | Answer]:
        try:
            answerer = self.answerer(backend)
            if isinstance(answerer, OpenAIAnswerer):
                if not self._llm_slots.acquire(blocking=False):
                    raise LLMError(f"the LLM is busy with {self.settings.llm_concurrency} other answers "
                                   "(RAG_LLM_CONCURRENCY)")
                try:
                    yield from answerer.stream(plan, hits, table=table.table if table is not None else None,
                                               deadline=deadline)
                finally:
                    self._llm_slots.release()
            else:
                yield from answerer.stream(plan, hits)
        except LLMError as exc:
            fallback = table.model_copy() if table is not None else extractive_answer(plan, hits, self.retriever, self.settings)
            reason = redact(exc)
            log.warning("LLM fallback (%s): %s", self.settings.llm_model, reason)
            fallback.notice = f"{reason[0].upper()}{reason[1:]}; showing the extractive answer instead."
            yield fallback

    def ask(self, question: str, **kwargs: Any) -> Answer:
        final: Answer | None = None
        for event in self.ask_stream(question, **kwargs):
            if isinstance(event, Answer):
                final = event
        assert final is not None
        return final
