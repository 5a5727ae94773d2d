"""Hybrid retrieval over papers: BM25 (bm25s, with the question's spelling corrections
and aliases), dense similarity of every abstract sentence and title (exact, over the
memory-mapped vectors; above RAG_DENSE_EXACT_MAX_ROWS only the best papers' sentences, picked
by each paper's mean vector), the paper's own name, and coverage of the question's terms,
fused on normalised scores. Each paper once, a relevance floor that drops a paper only
when every signal is weak, and filters. The Retriever is also the answerer's
EvidenceStore: sentences, their vectors, term statistics.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal

import numpy as np

from rag.errors import IndexCorruptError
from rag.chunkstore import from_collection, row_ranges
from rag.index import PaperIndex
from rag.jsonlines import Lines
from rag.question import QuestionPlan, analyse
from rag.settings import Settings
from rag.text import content_terms, name_key, tokens
from rag.types import Hit, Paper, Why

Mode = Literal["hybrid", "dense", "lexical", "rrf"]  # dense / lexical / rrf: plain baselines on the raw question
_EMPTY = np.zeros(0, dtype=int)
_MENTION_CACHE = 4096  # terms whose corpus-wide mention count a Retriever keeps
_MEDIAN_SAMPLE = 1000  # papers (at most a tenth) scored exactly in a large collection to estimate its median


@dataclass(frozen=True)
class Filters:
    """Optional restrictions applied before the cut to top-k."""

    year_min: int | None = None
    year_max: int | None = None
    has_code: bool = False
    paper_ids: frozenset[str] | None = None  # only these papers (a follow-up about "those")

    @property
    def chosen(self) -> bool:
        """Whether a user's filter (year or code) is set; a follow-up's scope is not one."""
        return bool(self.year_min or self.year_max or self.has_code)

    def describe(self) -> str:
        """The user's filters in words: "from 2024 and with code"."""
        years = (f"{self.year_min}–{self.year_max}" if self.year_min and self.year_max else
                 f"from {self.year_min}" if self.year_min else f"until {self.year_max}" if self.year_max else "")
        return " and ".join(p for p in (years, "with code" if self.has_code else "") if p)

    def admits(self, paper: Paper) -> bool:
        if self.paper_ids is not None and paper.paper_id not in self.paper_ids:
            return False
        if self.has_code and not paper.code_urls:
            return False
        if (self.year_min or self.year_max) and paper.year is None:
            return False
        if self.year_min and paper.year is not None and paper.year < self.year_min:
            return False
        return not (self.year_max and paper.year is not None and paper.year > self.year_max)


@dataclass(frozen=True)
class Sentence:
    """One abstract sentence as indexed: its text and its row in the vector matrix."""

    text: str
    row: int
    position: int


def _top(scores: np.ndarray, k: int) -> np.ndarray:
    """The rows of the k highest scores, in no particular order."""
    return np.arange(len(scores)) if k >= len(scores) else np.argpartition(-scores, k)[:k]


def _best_first(scores: np.ndarray, first: int) -> Iterator[int]:
    """Rows by descending score, ties in row order (a stable argsort of -scores), sorting only
    the `first` best (and any tied with them) unless more are asked for: a search usually
    takes the first top_k, and at 100,000 papers the full sort is 12 ms."""
    if first < len(scores):
        head = np.flatnonzero(scores >= -np.partition(-scores, first - 1)[first - 1])  # ascending rows
        head = head[np.argsort(-scores[head], kind="stable")]
        yield from head.tolist()
        if len(head) == len(scores):
            return
        rest = np.argsort(-scores, kind="stable")[len(head):]  # the same order, continued
    else:
        rest = np.argsort(-scores, kind="stable")
    yield from rest.tolist()


def rrf(rankings: list[list[str]], k: int = 60) -> dict[str, float]:
    """Reciprocal-rank fusion (the baseline the eval compares against)."""
    fused: dict[str, float] = {}
    for ranking in rankings:
        for rank, key in enumerate(ranking, start=1):
            fused[key] = fused.get(key, 0.0) + 1.0 / (k + rank)
    return fused


@dataclass
class Signals:
    """Per-paper scores for one question, arrays aligned with `Retriever.papers`."""

    dense: np.ndarray
    lexical: np.ndarray
    coverage: np.ndarray
    named: dict[int, str]  # paper row -> the name of it the question contains
    fused: np.ndarray


class Retriever:
    """Searches one opened PaperIndex. Cheap per query; build once per process."""

    def __init__(self, index: PaperIndex, settings: Settings):
        self.index = index
        self.settings = settings
        self.papers: Sequence[Paper] = index.papers.rows()  # row i is bm25's row i; read when asked for
        self._row_of = index.papers.row_of
        analysis = index.analysis
        self.lexicon = analysis.lexicon
        self.vocab = analysis.vocab  # the collection's metrics and datasets, for result tables
        self._facts = analysis.facts  # stored at ingest (rag.facts), in this order (Analysis.read checks)
        self._terms: dict[int, frozenset[str]] = {}  # a paper's terms, made when it is first scored
        self._postings = analysis.postings()
        self._keys = analysis.keys()
        self._cased_keys = analysis.keys(cased=True)
        self._names = [(self._row_of(pid), n, name_key(n)) for pid, ns in self.lexicon.names.items()
                       if pid in index.papers for n in ns]
        self._titles = index.papers.titles
        self._pieces = analysis.pieces()
        self._mention_count = lru_cache(maxsize=_MENTION_CACHE)(self._count_mentions)  # thread-safe
        self._load_vectors()
        self._bm25 = index.bm25  # bm25s, called directly; its row i is paper i (rag.bm25)
        self._qcache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._last_sims: tuple[np.ndarray, np.ndarray] | None = None  # (query vector, every row's similarity)

    # -- state computed once ------------------------------------------------------------
    def _load_vectors(self) -> None:
        table = self.index.chunks
        if table is None:  # an index built before vectors.npy: read every vector out of Chroma once
            try:
                table = from_collection(self.index.collection, self.index.papers.ids, self.index.embedder.dim)
            except Exception as exc:  # noqa: BLE001 - a damaged vector file: say so, not a traceback
                raise IndexCorruptError(str(self.settings.index_dir), f"{type(exc).__name__}: {exc}") from None
        self._table = table  # per paper: title, then its sentences (parsed when a paper is first read)
        self._sentences: dict[int, list[Sentence]] = {}  # made when a paper is first read, not for every paper
        ids = self.index.papers.ids  # rows grouped by paper, in this order
        counts = np.fromiter((table.counts.get(p, 0) for p in ids), dtype=np.int64, count=len(ids))
        first = np.cumsum(counts) - counts  # where each paper's rows start in this order
        has = counts > 0
        starts = np.fromiter((table.starts[p] for p, c in zip(ids, counts.tolist()) if c), dtype=np.int64,
                             count=int(has.sum()))
        row = int(counts.sum())
        # the table's rows already in this order (the usual case): the map is used as it is
        in_place = bool(np.array_equal(starts, first[has])) and table.vectors.shape[0] == row
        self._title_row = np.where(has, first, -1)  # position 0 is the title
        self._row_count = counts
        self._vecs = (np.asarray(table.vectors) if in_place
                      else np.concatenate([table.rows(p) for p, c in zip(ids, counts.tolist()) if c]) if row
                      else np.zeros((0, self.index.embedder.dim), np.float32))
        # a large collection: every paper scored by the mean of its rows, the rows read for the best only
        preselect = (row > self.settings.dense_exact_max_rows and in_place and table.means is not None
                     and len(table.means) == len(self.papers))
        self._means = np.asarray(table.means) if preselect else None
        self._sample = _EMPTY  # papers whose best row estimates the median (a collection that preselects)
        if preselect:
            sample = max(1, min(_MEDIAN_SAMPLE, len(self.papers) // 10))
            spread = np.arange(0, len(self.papers), max(1, len(self.papers) // sample))
            self._sample = spread[self._row_count[spread] > 0]
        self._in_place = in_place
        self._sample_vecs, self._sample_seg = self._paper_rows(self._sample)  # read at every search: once
        self._with_rows = int((self._row_count > 0).sum())
        owner = np.repeat(np.arange(len(ids)), counts)
        self._owner = owner
        self._starts = np.flatnonzero(np.r_[True, owner[1:] != owner[:-1]]) if len(owner) else np.array([], int)
        self._start_owner = owner[self._starts] if len(owner) else np.array([], int)

    # -- the evidence store -------------------------------------------------------------
    def plan(self, question: str) -> QuestionPlan:
        return analyse(question, self.lexicon)

    def paper(self, paper_id: str) -> Paper:
        return self.index.papers[paper_id]

    def sentences(self, paper_id: str) -> list[Sentence]:
        """The paper's abstract sentences as indexed, in order."""
        return self._paper_sentences(self._row_of(paper_id))

    def _paper_sentences(self, row: int) -> list[Sentence]:
        got = self._sentences.get(row)
        if got is None:  # two threads may both make it: the same list either way
            start = int(self._title_row[row])
            texts = self._table.texts[self.index.papers.ids[row]] if self._row_count[row] else []
            got = self._sentences[row] = [Sentence(t, start + k, k) for k, t in enumerate(texts) if k > 0]
        return got

    def sentence_similarities(self, qvec: np.ndarray, paper_id: str) -> np.ndarray:
        rows = [s.row for s in self.sentences(paper_id)]
        if not rows:
            return np.zeros(0, np.float32)
        last = self._last_sims  # read once: the page asks from several threads
        if last is not None and last[0] is qvec:  # this query's similarities are already known
            return last[1][rows]
        return self._paper_rows(np.array([self._row_of(paper_id)]), titles=False)[0] @ qvec  # those rows

    def idf(self, term: str) -> float:
        return self.lexicon.idf(term)

    def paper_terms(self, paper_id: str) -> frozenset[str]:
        return self._row_terms(self._row_of(paper_id))

    def _row_terms(self, row: int) -> frozenset[str]:
        terms = self._terms.get(row)
        if terms is None:
            terms = self._terms[row] = frozenset(self._facts[self.index.papers.ids[row]].terms)
        return terms

    def abstract_key(self, paper_id: str) -> str:
        """`name_key` of the paper's abstract: its stored key (of title and abstract) less the
        title's pieces, so the abstract is neither read nor keyed again."""
        row = self._row_of(paper_id)
        title = name_key(self._titles[row])
        rest = self._keys[row][len(title) - 1 :] if title else self._keys[row]
        return rest if rest.strip() else ""

    def paper_key(self, paper_id: str, *, cased: bool = False) -> str:
        row = self._row_of(paper_id)
        return self._cased_keys[row] if cased else self._keys[row]

    def corpus_mentions(self, term: str) -> int:
        """How many papers mention `term` as whole words (acronyms case-sensitively): what
        `mentions` says of each paper, asked only of the papers whose key holds the name's
        rarest piece (rag.facts `pieces`)."""
        return self._mention_count(term)

    def _count_mentions(self, term: str) -> int:
        cased = term.isupper()
        key = name_key(term, cased=cased)
        if not key.strip():
            return 0
        keys = self._cased_keys if cased else self._keys
        raw = keys.raw if isinstance(keys, Lines) else None
        rows: set[int] = set()
        for form in {key, key[:-1] + "s "} | ({key[:-2] + " "} if key.endswith("s ") and len(key) > 4 else set()):
            # the same three forms `mentions` tries; a key holding one holds each of its pieces,
            # so only the papers with its rarest piece are looked at
            rarest = min((p.lower() for p in form.split()), key=self._pieces.count)
            found = self._pieces.get(rarest, _EMPTY).tolist()
            if raw is not None:  # keys.jsonl: a key (letters, digits, dots, spaces) is its line's UTF-8
                needle = form.encode()  # between quotes, so the bytes hold the form where the key does
                rows.update(r for r in found if needle in raw(r))
            else:
                rows.update(r for r in found if form in keys[r])
        return len(rows)

    def embed_query(self, query: str) -> np.ndarray:
        """The query vector (a small cache: retrieval and the answerer embed once)."""
        vec = self._qcache.get(query)
        if vec is None:
            vec = self.index.embedder.embed([query])[0]
            self._qcache[query] = vec
            if len(self._qcache) > 64:
                self._qcache.popitem(last=False)
        return vec

    # -- signals -------------------------------------------------------------------------
    def named_papers(self, plan: QuestionPlan) -> dict[int, str]:
        """Papers whose own name the question contains, as whole words."""
        q = name_key(plan.corrected)
        found: dict[int, str] = {}
        for row, name, key in self._names:
            if len(key.replace(" ", "")) >= 3 and key in q and len(key) > len(name_key(found.get(row, ""))):
                found[row] = name
        for quoted in plan.quoted:  # 'Rethinking the Value of Network Pruning': a title
            row = self._titled(quoted)
            if row is not None:
                found[row] = self._titles[row].split(":")[0]
        return found

    def _titled(self, quoted: str) -> int | None:
        """The paper titled `quoted` (the last such), else the first whose title holds it as
        whole words: looked for among the papers whose name key holds its rarest piece (a
        title's pieces are its paper's), not by making every title's key."""
        key = name_key(quoted)
        if not key:
            return None
        rarest = min(key.split(), key=self._pieces.count)
        exact = inside = None
        for row in self._pieces.get(rarest, _EMPTY).tolist():
            title = name_key(self._titles[row])
            if title == key:
                exact = row
            elif inside is None and key in title:
                inside = row
        return exact if exact is not None else inside

    def signals(self, plan: QuestionPlan, qvec: np.ndarray, *, understand: bool = True) -> Signals:
        """Every signal for every paper. `understand=False` scores the raw question (no
        spelling correction, no aliases): the plain baselines the eval compares with."""
        s = self.settings
        n = len(self.papers)
        lexical = np.zeros(n, dtype=np.float32)
        text = plan.lexical_query() if understand else plan.question
        query_tokens = [t for t in tokens(text) if t in self._bm25.vocab_dict]
        if query_tokens:
            lexical[:] = self._bm25.get_scores(query_tokens)
        coverage = self.coverage(plan)
        named = self.named_papers(plan)
        dense = np.full(n, -1.0, dtype=np.float32)
        mid_d = None
        if self._means is not None:
            mid_d = self._preselected_dense(dense, qvec, lexical, named)
        elif len(self._vecs):  # rows are grouped by paper: one max per group
            sims = self._vecs @ qvec
            self._last_sims = (qvec, sims)
            best = np.maximum.reduceat(sims, self._starts)
            ok = self._start_owner >= 0
            dense[self._start_owner[ok]] = best[ok]
        top_d = float(dense.max()) if n else 0.0
        mid_d = mid_d if mid_d is not None else float(np.median(dense)) if n else 0.0
        dn = np.clip((dense - mid_d) / max(top_d - mid_d, 1e-6), 0, 1)
        ln = lexical / max(float(lexical.max()), 1e-6)
        fused = s.fuse_dense * dn + s.fuse_lexical * ln + s.fuse_coverage * coverage
        for row in named:
            fused[row] += s.fuse_name
        return Signals(dense=dense, lexical=lexical, coverage=coverage, named=named, fused=fused)

    def _preselected_dense(self, dense: np.ndarray, qvec: np.ndarray, lexical: np.ndarray,
                           named: dict[int, str]) -> float:
        """Dense scores of a large collection without reading every row: each paper's mean row
        similarity (`paper_means`, never above its best row's), then the best row exactly for
        the dense_candidates papers with the highest mean, as many best by BM25, the named
        ones and an evenly spread sample of the collection. Returns the sample's median best
        similarity, which stands in for the collection's in the fusion's normalisation (the
        mean similarities, lower, would shift every paper's normalised score)."""
        assert self._means is not None  # noqa: S101 - only called when it is set
        k = self.settings.dense_candidates
        dense[:] = self._means @ qvec
        dense[self._row_count == 0] = -1.0
        by_lexical = _top(lexical, k)
        picked = [_top(dense, k), by_lexical[lexical[by_lexical] > 0], np.fromiter(named, int, len(named))]
        cand = np.setdiff1d(np.concatenate(picked), self._sample)  # the sample's rows are held apart
        cand = cand[self._row_count[cand] > 0]
        if len(self._sample):
            dense[self._sample] = np.maximum.reduceat(self._sample_vecs @ qvec, self._sample_seg)
        if len(cand):
            vecs, seg = self._paper_rows(cand)
            dense[cand] = np.maximum.reduceat(vecs @ qvec, seg)
        if len(cand) + len(self._sample) == self._with_rows or not len(self._sample):  # every paper scored exactly
            return float(np.median(dense))
        return float(np.median(dense[self._sample]))

    def _paper_rows(self, papers: np.ndarray, *, titles: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """The vectors of `papers`' rows (papers that have some; with or without the title's),
        one paper after another, and where each paper's rows start among them. Read from the table
        (`ChunkTable.gather`: pread, not the memory map) when its rows are in this order."""
        first = self._title_row[papers] + (0 if titles else 1)
        lens = self._row_count[papers] - (0 if titles else 1)
        seg = np.cumsum(lens) - lens
        if self._in_place:
            return self._table.gather(first, lens), seg
        return self._vecs[row_ranges(first, lens)], seg

    def _rows_with(self, term: str) -> np.ndarray:
        return self._postings.get(term, _EMPTY)

    def coverage(self, plan: QuestionPlan) -> np.ndarray:
        """`plan.coverage` for every paper at once, from the term postings."""
        total = sum(g.weight for g in plan.terms)
        out = np.zeros(len(self.papers), dtype=np.float32)
        if not total:
            return out
        holding: dict[frozenset[str], np.ndarray] = {}  # each term lists the question's aliases: one intersection each
        for g in plan.terms:
            covered = np.zeros(len(self.papers), dtype=bool)
            covered[self._rows_with(g.term)] = True
            for alt in g.alternatives:
                rows = holding.get(alt)
                if rows is None:
                    rows = holding[alt] = self._rows_with_all(alt)
                covered[rows] = True
            np.add(out, np.float64(g.weight), out=out, where=covered)  # float64 sum, as `out += weight * covered`
        return out / total

    def _rows_with_all(self, terms: frozenset[str]) -> np.ndarray:
        """The rows holding every one of `terms`: the rarest term's rows, kept where each other
        term's sorted rows hold them (O(rarest · log) instead of sorting both lists)."""
        postings = sorted((self._rows_with(t) for t in terms), key=len)
        rows = postings[0] if postings else _EMPTY
        for other in postings[1:]:
            if not len(rows):
                break
            at = np.minimum(np.searchsorted(other, rows), len(other) - 1)
            rows = rows[other[at] == rows]
        return rows

    def _order(self, sig: Signals, mode: Mode, first: int) -> Iterator[int]:
        if mode == "dense":
            return _best_first(sig.dense, first)
        if mode == "lexical":
            return _best_first(sig.lexical, first)
        if mode == "rrf":
            k = self.settings.candidate_k
            d = [self.index.papers.ids[i] for i in np.argsort(-sig.dense, kind="stable")[:k]]
            lex = [self.index.papers.ids[i] for i in np.argsort(-sig.lexical, kind="stable")[:k] if sig.lexical[i] > 0]
            fused = rrf([d, lex], k=self.settings.rrf_k)
            return iter([self._row_of(p) for p in sorted(fused, key=lambda p: -fused[p])])
        return _best_first(sig.fused, first)

    def relevant(self, sig: Signals, row: int) -> bool:
        """The floor: drop a paper only when every signal is weak."""
        s = self.settings
        return row in sig.named or sig.dense[row] >= s.min_dense or sig.coverage[row] >= s.min_coverage

    def search(
        self,
        query: str,
        *,
        plan: QuestionPlan | None = None,
        top_k: int | None = None,
        mode: Mode = "hybrid",
        filters: Filters | None = None,
        cutoff: bool = True,
    ) -> list[Hit]:
        """Papers for `query`, best first, at most `top_k`, each paper once."""
        top_k = top_k or self.settings.search_top_k
        plan = plan or self.plan(query)
        understand = mode == "hybrid"  # the other modes are the plain baselines
        qvec = self.embed_query(plan.corrected if understand else plan.question)
        sig = self.signals(plan, qvec, understand=understand)
        hits: list[Hit] = []
        for row in self._order(sig, mode, max(4 * top_k, 100)):
            paper = self.papers[row]
            if filters and not filters.admits(paper):
                continue
            if cutoff and not self.relevant(sig, row):
                continue
            hits.append(self._hit(row, sig, plan, qvec))
            if len(hits) >= top_k:
                break
        return hits

    def _hit(self, row: int, sig: Signals, plan: QuestionPlan, qvec: np.ndarray) -> Hit:
        paper = self.papers[row]
        sentences = self._paper_sentences(row)
        sims = self.sentence_similarities(qvec, paper.paper_id)
        best = int(np.argmax(sims)) if len(sims) else -1
        snippet = sentences[best].text if best >= 0 else paper.abstracts[0][:300]
        matched = [g.term for g in plan.terms if g.term in self._row_terms(row)]
        surface = [w for w in dict.fromkeys(plan.corrected.replace("?", " ").split())
                   if content_terms(w) and content_terms(w) <= set(matched)]
        why = Why(name=sig.named.get(row), terms=surface[:8], sentence=snippet,
                  similarity=round(float(sig.dense[row]), 3))
        return Hit(paper=paper, score=float(sig.fused[row]), dense=float(sig.dense[row]),
                   lexical=float(sig.lexical[row]), snippet=snippet, coverage=float(sig.coverage[row]), why=why)
