"""Claims as data: extracted for the whole collection at ingest and stored in SQLite
(`claims.sqlite` in the index generation, next to Chroma), so they can be filtered
(`python -m rag claims --dataset ImageNet --metric top-1 --min 80`) and stay in step with
the papers (every ingest writes them: extracted for new and changed papers and for those a
change of the collection's vocabulary or names can affect, copied from the previous generation
for the rest).
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import Any

from rag.claims import CLAIMS_VERSION, Extractor
from rag.lexicon import own_names
from rag.types import Claim, FlagMention, Paper
from rag.vocabulary import ClaimVocabulary, dataset_family

Rows = tuple[list[tuple[object, ...]], list[tuple[object, ...]]]  # one paper's claim rows and flag rows
_COLUMNS = ("paper_id", "method", "own", "dataset", "family", "task", "metric", "value", "number", "magnitude", "unit", "direction",
            "compared_with", "relative", "flags", "sentence", "position")
_SCHEMA = f"""
CREATE TABLE claims ({", ".join(_COLUMNS)});
CREATE TABLE flags (paper_id, flag, sentence);
CREATE TABLE meta (key PRIMARY KEY, value);
CREATE INDEX claims_paper ON claims(paper_id);
CREATE INDEX claims_family ON claims(family, metric);
"""


def prepare(papers: list[Paper]) -> tuple[Extractor, dict[str, list[str]]]:
    """The extractor with this collection's vocabulary, and each paper's own names."""
    from rag.facts import Analysis

    analysis = Analysis.compute([(p.paper_id, p.title, p.abstract) for p in papers])
    return Extractor(analysis.vocab), analysis.lexicon.names


def build_claims(papers: Sequence[Paper]) -> tuple[list[Claim], list[FlagMention]]:
    """Every claim and flag of the collection, in paper order (deterministic)."""
    extractor, names = prepare(papers)
    return extract_claims(papers, extractor, names)


def extract_claims(papers: list[Paper], extractor: Extractor,
                   names: dict[str, list[str]]) -> tuple[list[Claim], list[FlagMention]]:
    claims: list[Claim] = []
    flags: list[FlagMention] = []
    for p in papers:
        c, f = extractor.extract(p.paper_id, p.abstract, own_names(p.paper_id, p.title, names))
        claims += c
        flags += f
    return claims, flags


def unaffected(papers: list[Paper], old: ClaimVocabulary, new: ClaimVocabulary) -> set[str]:
    """The papers whose claims a change of vocabulary from `old` to `new` cannot change: those
    whose abstract holds none of the mined words added or dropped (a metric or dataset pattern
    that matches nowhere in a text changes nothing the extractor finds there)."""
    moved = {w.lower() for w in set(old.mined_metrics) ^ set(new.mined_metrics)}
    moved |= {d.lower() for d in set(old.mined_datasets) ^ set(new.mined_datasets)}
    if not moved:
        return {p.paper_id for p in papers}
    kept: set[str] = set()
    for p in papers:
        text = p.abstract.lower()  # once per paper, not once per moved word
        if not any(w in text for w in moved):
            kept.add(p.paper_id)
    return kept


def claim_rows_of(extractor: Extractor, items: Sequence[tuple[str, str, list[str]]]) -> list[Rows]:
    """Each (paper_id, abstract, the names it goes by)'s claim rows and flag rows, in order."""
    out: list[Rows] = []
    for pid, abstract, names in items:
        claims, flags = extractor.extract(pid, abstract, names)
        out.append(([_claim_row(c) for c in claims], [_flag_row(f) for f in flags]))
    return out


def write_generation_claims(path: Path, papers: list[Paper], extractor: Extractor, names: dict[str, list[str]],
                            old: Path | None, keep: set[str], run: Callable[..., list[Any]] | None = None) -> int:
    """Write a generation's claims in paper order: the `keep` papers' rows copied from the
    claims file `old` (written by this extractor version), the others extracted now (by
    `run(extract, items)` when given: rag.workers, in worker processes). Returns how many
    claims it holds."""
    carried: dict[str, tuple[list[tuple[object, ...]], list[tuple[object, ...]]]] = {}
    if old is not None and keep:
        con = sqlite3.connect(f"file:{old}?mode=ro", uri=True)
        try:
            for table, slot in (("claims", 0), ("flags", 1)):
                for row in con.execute(f"SELECT * FROM {table} ORDER BY rowid"):  # noqa: S608 - two fixed names
                    if row[0] in keep:
                        carried.setdefault(str(row[0]), ([], []))[slot].append(row)
        finally:
            con.close()
    todo = [(p.paper_id, p.abstract, own_names(p.paper_id, p.title, names)) for p in papers if p.paper_id not in keep]
    extract = partial(claim_rows_of, extractor)
    fresh = dict(zip((pid for pid, _, _ in todo), run(extract, todo) if run else extract(todo)))
    claim_rows: list[tuple[object, ...]] = []
    flag_rows: list[tuple[object, ...]] = []
    for p in papers:
        rows, flagged = fresh[p.paper_id] if p.paper_id in fresh else carried.get(p.paper_id, ([], []))
        claim_rows += rows
        flag_rows += flagged
    _write(path, claim_rows, flag_rows)
    return len(claim_rows)


def write_claims(path: Path, claims: list[Claim], flags: list[FlagMention]) -> None:
    _write(path, [_claim_row(c) for c in claims], [_flag_row(f) for f in flags])


def _claim_row(c: Claim) -> tuple[object, ...]:
    return (c.paper_id, c.method, int(c.own), c.dataset, dataset_family(c.dataset) if c.dataset else "", c.task,
            c.metric, c.value, c.number, c.magnitude, c.unit, c.direction, c.compared_with, int(c.relative),
            json.dumps(c.flags), c.sentence, c.position)


def _flag_row(f: FlagMention) -> tuple[object, ...]:
    return (f.paper_id, f.flag, f.sentence)


def _write(path: Path, claims: list[tuple[object, ...]], flags: list[tuple[object, ...]]) -> None:
    path.unlink(missing_ok=True)
    con = sqlite3.connect(path)
    try:
        _fill(con, claims, flags)
    finally:
        con.close()


def _fill(con: sqlite3.Connection, claims: list[tuple[object, ...]], flags: list[tuple[object, ...]]) -> None:
    con.executescript(_SCHEMA)
    con.executemany(f"INSERT INTO claims VALUES ({', '.join('?' * len(_COLUMNS))})", claims)
    con.executemany("INSERT INTO flags VALUES (?, ?, ?)", flags)
    con.execute("INSERT INTO meta VALUES ('version', ?)", (CLAIMS_VERSION,))
    con.commit()


class ClaimStore:
    """Read access to one generation's claims (opened read-only; safe across threads)."""

    def __init__(self, path: Path | None, *, connection: sqlite3.Connection | None = None):
        self.path = path
        self._con = connection or sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)
        self._lock = threading.Lock()
        self._all: list[Claim] | None = None

    @classmethod
    def open(cls, path: Path, papers: Sequence[Paper]) -> ClaimStore:
        """The stored claims, or (an index written by another extractor version) claims
        extracted now into memory, so that answers never use stale claims."""
        if path.exists():
            store = cls(path)
            if store.version == CLAIMS_VERSION:
                return store
            store.close()
        return cls.in_memory(*build_claims(papers))

    @classmethod
    def in_memory(cls, claims: list[Claim], flags: list[FlagMention]) -> ClaimStore:
        con = sqlite3.connect(":memory:", check_same_thread=False)
        _fill(con, [_claim_row(c) for c in claims], [_flag_row(f) for f in flags])
        return cls(None, connection=con)

    @property
    def version(self) -> str:
        row = self._rows("SELECT value FROM meta WHERE key = 'version'", ())
        return row[0][0] if row else ""

    def _rows(self, sql: str, args: tuple[object, ...]) -> list[tuple[object, ...]]:
        with self._lock:
            return self._con.execute(sql, args).fetchall()

    @staticmethod
    def _claim(row: tuple[object, ...]) -> Claim:
        d = dict(zip(_COLUMNS, row))
        d.pop("family")
        d["own"], d["relative"] = bool(d["own"]), bool(d["relative"])
        d["flags"] = json.loads(str(d["flags"]))
        return Claim.model_validate(d)

    def all(self) -> list[Claim]:
        if self._all is None:
            self._all = [self._claim(r) for r in self._rows("SELECT * FROM claims ORDER BY rowid", ())]
        return self._all

    def query(self, *, dataset: str | None = None, metric: str | None = None, min_value: float | None = None,
              max_value: float | None = None, flag: str | None = None, paper_id: str | None = None) -> list[Claim]:
        """Claims matching every given filter (dataset by family: 'ImageNet' finds ImageNet-1k)."""
        where, args = [], []
        if dataset:
            where.append("(family = ? OR dataset LIKE ?)")
            args += [dataset_family(dataset), f"%{dataset}%"]
        if metric:
            where.append("metric LIKE ?")
            args.append(f"%{metric}%")
        if min_value is not None:
            where.append("number >= ?")
            args.append(min_value)
        if max_value is not None:
            where.append("number <= ?")
            args.append(max_value)
        if flag:
            where.append("flags LIKE ?")
            args.append(f'%"{flag}"%')
        if paper_id:
            where.append("paper_id = ?")
            args.append(paper_id)
        sql = "SELECT * FROM claims" + (f" WHERE {' AND '.join(where)}" if where else "") + " ORDER BY rowid"
        return [self._claim(r) for r in self._rows(sql, tuple(args))]

    def flags(self, paper_id: str) -> list[FlagMention]:
        return [FlagMention(paper_id=str(p), flag=str(f), sentence=str(s))
                for p, f, s in self._rows("SELECT * FROM flags WHERE paper_id = ? ORDER BY rowid", (paper_id,))]

    def close(self) -> None:
        self._con.close()
