"""What each paper's text says about the collection's words, computed once per paper at ingest
and kept in the index generation, so that opening an index adds these up instead of running
the rules over every abstract again (at 10,000 papers that was 8 s before the first search and
10 s more before the first table question).

    facts.jsonl    one line per paper, in the papers.sqlite order: its `PaperFacts` (rag.jsonlines)
    facts.i64      where each line starts (n + 1 byte offsets): a paper's facts are parsed
                   when first asked for, not all of them at open (58 MB at 10,000 papers)
    keys.jsonl, cased_keys.jsonl  every paper's name key, one per line (rag.jsonlines), with
                   keys.i64 / cased_keys.i64: a key is read when asked for (counting a name's
                   mentions reads the papers holding its rarest piece), not every key at open
    analysis.json  the collection's `Lexicon`, the mined part of its `ClaimVocabulary` and
                   the papers' order
    postings.i64   term -> rows of the papers holding it (the coverage signal's postings)
    pieces.i64     name-key piece -> rows of the papers whose key holds it (lower-cased):
                   counting the papers that mention a name reads only those of its rarest piece

An ingest computes facts only for new or changed papers and carries the others' lines forward
(`carry_facts`); the collection-wide parts are sums over the papers' facts (`lexicon_from`,
`claim_vocabulary_from`), cheap next to the rules. An index without these files (built before
them) or by other rules (`rules_digest`: the rule modules' source) gets them computed in
memory at open, as before, and its next ingest computes them anew.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, fields
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from rag.jsonlines import Lines, write_lines
from rag.lexicon import MAX_NAME_DF, MAX_NAME_SHARE, Lexicon, find_acronyms, paper_names
from rag.text import content_terms, name_key
from rag.vocabulary import ClaimVocabulary, claim_words

FACTS = "facts.jsonl"
FACT_ROWS = "facts.i64"  # raw little-endian int64 byte offsets of the lines
KEYS = {False: ("keys.jsonl", "keys.i64"), True: ("cased_keys.jsonl", "cased_keys.i64")}  # by cased
ANALYSIS = "analysis.json"
POSTINGS = "postings.i64"  # raw little-endian int64: np.load's header parse (ast) is not thread-safe on 3.11
PIECES = "pieces.i64"
_RAG = Path(__file__).parent
_RULES = ("facts.py", "text.py", "lexicon.py", "vocabulary.py", "quantities.py", "claims.py", "question.py",
          "types.py", "assets/synonyms.json")
_WORDS = re.compile(r"[a-z][a-z\-]+")  # the surface words spelling correction knows


@dataclass(frozen=True)
class PaperFacts:
    """One paper's contribution to the collection's statistics and names."""

    paper_id: str
    terms: tuple[str, ...]  # stemmed content terms of title + abstract (BM25's tokeniser)
    words: tuple[str, ...]  # lower-cased surface words (the spelling-correction vocabulary)
    acronyms: tuple[tuple[str, str], ...]  # (acronym, long form) defined in the text
    names: tuple[str, ...]  # the names it gives itself, before the collection-wide filter
    key: str  # name_key of title + abstract
    cased_key: str  # the same, case kept (acronyms match case-sensitively)
    near_numbers: tuple[str, ...]  # ClaimVocabulary: words written next to its numbers
    datasets: tuple[str, ...]  # ClaimVocabulary: names written before "dataset"

    @classmethod
    def of(cls, paper_id: str, title: str, abstract: str) -> PaperFacts:
        text = f"{title} {abstract}"
        near, datasets = claim_words(abstract)
        return cls(paper_id=paper_id, terms=tuple(sorted(content_terms(text))),
                   words=tuple(sorted(set(_WORDS.findall(text.lower())))),
                   acronyms=tuple(find_acronyms(text)), names=tuple(paper_names(title, abstract)),
                   key=name_key(text), cased_key=name_key(text, cased=True),
                   near_numbers=tuple(sorted(near)), datasets=tuple(sorted(datasets)))

    def to_json(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}  # not asdict: it deep-copies every string

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> PaperFacts:
        return cls(paper_id=d["paper_id"], terms=tuple(d["terms"]), words=tuple(d["words"]),
                   acronyms=tuple((a, lf) for a, lf in d["acronyms"]), names=tuple(d["names"]), key=d["key"],
                   cased_key=d["cased_key"], near_numbers=tuple(d["near_numbers"]), datasets=tuple(d["datasets"]))


def lexicon_from(facts: Sequence[PaperFacts]) -> Lexicon:
    """The collection's Lexicon as a sum over its papers' facts (what `Lexicon.build` gives)."""
    df: Counter[str] = Counter()
    vocab: Counter[str] = Counter()
    acronyms: dict[str, set[str]] = {}
    for f in facts:
        df.update(f.terms)
        vocab.update(f.words)
        for acronym, long_form in f.acronyms:
            acronyms.setdefault(acronym.lower(), set()).add(long_form.lower())
    long_forms = {name_key(lf): acr for acr, lfs in acronyms.items() for lf in lfs}
    generic = _generic_names(facts)
    names = {f.paper_id: [n for n in f.names if name_key(n) not in generic] for f in facts}
    return Lexicon(n_docs=len(facts), df=dict(df), vocab=dict(vocab), acronyms=acronyms, long_forms=long_forms,
                   names=names)


def _generic_names(facts: Sequence[PaperFacts]) -> set[str]:
    """Name keys that do not identify a paper: claimed by more than MAX_NAME_DF papers, three
    letters or fewer, or mentioned by more than MAX_NAME_SHARE of the papers. A key is matched
    as whole pieces, so only the papers holding its rarest piece can mention it: a key whose
    rarest piece is in few enough papers is kept without looking, the others are counted among
    those papers (from a piece -> papers map), not among every paper."""
    claims: Counter[str] = Counter()
    for f in facts:
        claims.update(set(map(name_key, f.names)))
    generic = {k for k, c in claims.items() if c > MAX_NAME_DF or len(k) <= 3}
    limit = max(MAX_NAME_DF, int(MAX_NAME_SHARE * len(facts)))
    wanted = {piece for k in claims if k not in generic for piece in k.split()}
    holders: dict[str, list[int]] = {piece: [] for piece in wanted}
    for row, f in enumerate(facts):
        for piece in wanted.intersection(f.key.split()):
            holders[piece].append(row)
    for k in claims:
        if k in generic:
            continue
        rows = min((holders[piece] for piece in k.split()), key=len)
        if len(rows) > limit and sum(1 for r in rows if k in facts[r].key) > limit:
            generic.add(k)
    return generic


def claim_vocabulary_from(facts: Iterable[PaperFacts]) -> ClaimVocabulary:
    near: Counter[str] = Counter()
    datasets: Counter[str] = Counter()
    for f in facts:
        near.update(f.near_numbers)
        datasets.update(f.datasets)
    return ClaimVocabulary.from_counts(near, datasets)


# ----------------------------------------------------------------------------- on disk
@lru_cache(maxsize=1)
def rules_digest() -> str:
    """A digest of the code and data the facts and claims are computed by: stored ones are used
    only when it is unchanged, so editing a rule never leaves an index answering by the old one."""
    h = hashlib.sha256()
    for name in _RULES:
        h.update(name.encode() + b"\0" + (_RAG / name).read_bytes())
    return h.hexdigest()[:16]


class Postings(Mapping[str, np.ndarray]):
    """Term -> the sorted rows of the papers holding it, as one indptr and one rows array (the
    slices are made when asked for, not one array per term at open)."""

    def __init__(self, terms: list[str], indptr: np.ndarray, rows: np.ndarray):
        if len(indptr) != len(terms) + 1 or indptr[-1] != len(rows):
            raise ValueError("postings that do not add up")
        self.terms, self._at = terms, {t: i for i, t in enumerate(terms)}
        self._indptr, self._rows = indptr, rows

    @classmethod
    def of(cls, row_terms: Iterable[Iterable[str]]) -> Postings:
        """From each row's distinct terms."""
        return cls.carried(None, np.zeros(0, dtype=np.int64), dict(enumerate(row_terms)))

    @classmethod
    def carried(cls, old: Postings | None, remap: np.ndarray, fresh: dict[int, Iterable[str]]) -> Postings:
        """`old` with its row r moved to remap[r] (left out where that is -1), plus the distinct
        terms of the `fresh` rows: what `of` gives for the new rows, in O(changed rows) Python
        (an ingest carries the unchanged papers' rows instead of going over every paper again)."""
        terms = list(old.terms) if old is not None else []
        at = dict(old._at) if old is not None else {}
        fresh_ids: list[int] = []
        fresh_rows: list[int] = []
        for row, row_terms in fresh.items():
            before = len(fresh_ids)
            for t in row_terms:
                i = at.get(t)
                if i is None:
                    i = at[t] = len(terms)
                    terms.append(t)
                fresh_ids.append(i)
            fresh_rows.extend([row] * (len(fresh_ids) - before))
        ids = [np.array(fresh_ids, dtype=np.int64)]
        rows = [np.array(fresh_rows, dtype=np.int64)]
        if old is not None and len(old._rows):
            moved = remap[old._rows]
            keep = moved >= 0
            ids.append(np.repeat(np.arange(len(old.terms), dtype=np.int64), np.diff(old._indptr))[keep])
            rows.append(moved[keep])
        # one canonical form whatever the history: terms sorted, rows ascending, no empty term
        by_name = sorted(range(len(terms)), key=terms.__getitem__)
        rank = np.empty(len(terms), dtype=np.int64)
        rank[by_name] = np.arange(len(terms), dtype=np.int64)
        term_of, row_of = rank[np.concatenate(ids)], np.concatenate(rows)
        order = np.lexsort((row_of, term_of))
        counts = np.bincount(term_of, minlength=len(terms))
        present = counts > 0
        indptr = np.zeros(int(present.sum()) + 1, dtype=np.int64)
        np.cumsum(counts[present], out=indptr[1:])
        return cls([terms[i] for i, p in zip(by_name, present.tolist()) if p], indptr, row_of[order])

    def write(self, path: Path) -> None:
        np.concatenate([self._indptr, self._rows]).astype("<i8").tofile(path)  # indptr, then rows

    @classmethod
    def read(cls, path: Path, terms: list[str], n_rows: int) -> Postings:
        saved = np.fromfile(path, dtype="<i8")
        got = cls(terms, saved[: len(terms) + 1], saved[len(terms) + 1 :])
        if len(got._rows) and (got._rows.max() >= n_rows or got._rows.min() < 0):
            raise ValueError(f"{path.name} names rows past the collection")
        return got

    def __getitem__(self, term: str) -> np.ndarray:
        i = self._at[term]
        return self._rows[self._indptr[i] : self._indptr[i + 1]]

    def count(self, term: str) -> int:
        i = self._at.get(term)
        return 0 if i is None else int(self._indptr[i + 1] - self._indptr[i])

    def __iter__(self) -> Iterator[str]:
        return iter(self.terms)

    def __len__(self) -> int:
        return len(self.terms)


def key_pieces(key: str, cased_key: str) -> set[str]:
    """A paper's name-key pieces, lower-cased, for `Analysis.pieces`: those of its key and of
    its cased key (so that a cased name's rows are found by its lower-cased pieces too)."""
    return set(key.split()).union(cased_key.lower().split())  # pieces are ASCII: lower-casing the string is per piece


class StoredFacts(Mapping[str, PaperFacts]):
    """A generation's facts.jsonl, memory-mapped: a paper's line is parsed when it is first
    asked for (answering reads a few papers' terms; an ingest carrying facts forward reads all)."""

    def __init__(self, lines: Lines, ids: Sequence[str]):
        self._lines = lines
        self._row = {pid: i for i, pid in enumerate(ids)}
        self._ids = list(ids)
        self._parsed: dict[int, PaperFacts] = {}

    def __getitem__(self, paper_id: str) -> PaperFacts:
        row = self._row[paper_id]
        got = self._parsed.get(row)
        if got is None:
            got = PaperFacts.from_json(self._lines[row])
            if got.paper_id != paper_id:
                raise ValueError(f"{FACTS} line {row + 1} holds {got.paper_id}, not {paper_id}")
            self._parsed[row] = got
        return got

    def __iter__(self) -> Iterator[str]:
        return iter(self._ids)

    def __len__(self) -> int:
        return len(self._ids)


@dataclass
class Analysis:
    """A collection's per-paper facts, its lexicon and its claim vocabulary."""

    facts: Mapping[str, PaperFacts]  # in the collection's order
    lexicon: Lexicon
    vocab: ClaimVocabulary
    stored_postings: Postings | None = field(default=None, repr=False, compare=False)
    stored_keys: dict[bool, Sequence[str]] | None = field(default=None, repr=False, compare=False)
    stored_pieces: Postings | None = field(default=None, repr=False, compare=False)

    def keys(self, *, cased: bool = False) -> Sequence[str]:
        """Every paper's name key (`PaperFacts.key` / `cased_key`) in order: read from the
        generation, or taken from the facts."""
        if self.stored_keys is not None:
            return self.stored_keys[cased]
        return [f.cased_key if cased else f.key for f in self.facts.values()]

    def postings(self) -> Postings:
        """Term -> the rows (in facts order) of the papers holding it: read from the generation,
        or made from the facts once."""
        if self.stored_postings is None:
            self.stored_postings = Postings.of(f.terms for f in self.facts.values())
        return self.stored_postings

    def pieces(self) -> Postings:
        """Lower-cased name-key piece -> the rows whose key or cased key holds it (`key_pieces`):
        read from the generation, or made from the keys once."""
        if self.stored_pieces is None:
            self.stored_pieces = Postings.of(map(key_pieces, self.keys(), self.keys(cased=True)))
        return self.stored_pieces

    @classmethod
    def of(cls, facts: Sequence[PaperFacts], old: Analysis | None = None, changed: Iterable[str] = ()) -> Analysis:
        """The collection's analysis; given the `old` one and the papers whose facts were
        computed anew (`changed`; carry_facts carried the others), the postings are carried."""
        analysis = cls({f.paper_id: f for f in facts}, lexicon_from(facts), claim_vocabulary_from(facts))
        if old is not None:
            changed, row, had = set(changed), {f.paper_id: i for i, f in enumerate(facts)}, set(old.facts)
            remap = np.array([-1 if pid in changed else row.get(pid, -1) for pid in old.facts], dtype=np.int64)
            fresh = [i for i, f in enumerate(facts) if f.paper_id in changed or f.paper_id not in had]
            analysis.stored_postings = Postings.carried(old.postings(), remap, {i: facts[i].terms for i in fresh})
            analysis.stored_pieces = Postings.carried(old.pieces(), remap,
                                                      {i: key_pieces(facts[i].key, facts[i].cased_key) for i in fresh})
        return analysis

    @classmethod
    def compute(cls, papers: Sequence[tuple[str, str, str]]) -> Analysis:
        """From (paper_id, title, abstract): what an ingest writes, computed now."""
        return cls.of([PaperFacts.of(*p) for p in papers])

    def write(self, gen: Path) -> None:
        """Into a generation, facts in the order given by the collection (dict order)."""
        write_lines(gen / FACTS, gen / FACT_ROWS, (f.to_json() for f in self.facts.values()))
        for cased, (name, offsets) in KEYS.items():
            write_lines(gen / name, gen / offsets, self.keys(cased=cased))
        self.postings().write(gen / POSTINGS)
        self.pieces().write(gen / PIECES)
        lx = self.lexicon
        (gen / ANALYSIS).write_text(json.dumps({
            "rules": rules_digest(),
            "papers": list(self.facts),
            "postings_terms": self.postings().terms,
            "pieces": self.pieces().terms,
            "lexicon": {"n_docs": lx.n_docs, "df": lx.df, "vocab": lx.vocab,
                        "acronyms": {a: sorted(lfs) for a, lfs in lx.acronyms.items()},
                        "long_forms": lx.long_forms, "names": lx.names},
            "claim_vocabulary": {"metrics": list(self.vocab.mined_metrics), "datasets": list(self.vocab.mined_datasets)},
        }, ensure_ascii=False), encoding="utf-8")

    @classmethod
    def read(cls, gen: Path, order: Sequence[str] | None = None) -> Analysis | None:
        """A generation's stored analysis when it is whole, written by these rules and (given
        `order`) of exactly those papers; else None (the caller computes what it needs)."""
        try:
            head = json.loads((gen / ANALYSIS).read_text(encoding="utf-8"))
            if head.get("rules") != rules_digest():
                return None
            ids = head["papers"]
            lines = Lines.open(gen / FACTS, gen / FACT_ROWS, len(ids))
            keys = {cased: Lines.open(gen / name, gen / offsets, len(ids)) for cased, (name, offsets) in KEYS.items()}
            if lines is None or None in keys.values() or (order is not None and ids != list(order)):
                return None
            facts = StoredFacts(lines, ids)
            lx, cv = head["lexicon"], head["claim_vocabulary"]
            lexicon = Lexicon(n_docs=lx["n_docs"], df=lx["df"], vocab=lx["vocab"],
                              acronyms={a: set(lfs) for a, lfs in lx["acronyms"].items()},
                              long_forms=lx["long_forms"], names=lx["names"])
            vocab = ClaimVocabulary.mined(cv["metrics"], cv["datasets"])
            postings = Postings.read(gen / POSTINGS, head["postings_terms"], len(ids))
            pieces = Postings.read(gen / PIECES, head["pieces"], len(ids))
        except (OSError, ValueError, KeyError, TypeError):
            return None
        return cls(facts, lexicon, vocab, postings, keys, pieces)


def facts_of(items: Sequence[tuple[str, str, str]]) -> list[PaperFacts]:
    """Each (paper_id, title, abstract)'s facts, in order."""
    return [PaperFacts.of(pid, title, abstract) for pid, title, abstract in items]


def carry_facts(papers: Sequence[tuple[str, str, str]], changed: set[str], old: Analysis | None,
                run: Callable[..., list[Any]] | None = None) -> list[PaperFacts]:
    """Every paper's facts in order: carried forward from the `old` analysis for papers not in
    `changed`, computed for the rest (and for any the old analysis lacks), by `run(facts_of,
    items)` when given (rag.workers: in worker processes)."""
    known = old.facts if old is not None else {}
    todo = [item for item in papers if item[0] in changed or item[0] not in known]
    fresh = dict(zip((pid for pid, _, _ in todo), run(facts_of, todo) if run else facts_of(todo)))
    return [fresh[pid] if pid in fresh else known[pid] for pid, _, _ in papers]
