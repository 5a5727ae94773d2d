"""A generation's papers in one SQLite file, `papers.sqlite`, read when asked for.

Opening holds only each paper's id and title (what the retriever's name lookup needs); a paper
is parsed when it is first read and kept in a small cache. At 50,000 papers the whole list as
JSON cost 2.2 s and 200 MiB at every open. An index built before this file has `papers.json`,
which is still read (whole, as before) until its next ingest writes the store.

Schema: ``papers(row INTEGER PRIMARY KEY, paper_id TEXT UNIQUE, title TEXT, data TEXT, year
INTEGER)``; `row` is the paper's place in the collection (the row of bm25, facts and vectors),
`data` its `Paper` as JSON, `year` its `Paper.year` (the page's year filter counts them; a store
written before the column has its years taken out of `data`).
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections import Counter, OrderedDict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import overload

from rag.types import Paper

FILE = "papers.sqlite"
LEGACY = "papers.json"
_CACHE = 4096  # parsed papers kept: a search reads tens, an answer a few


def write(gen: Path, papers: Iterable[Paper]) -> None:
    """Write the store of a generation that no reader sees yet (nothing to lock)."""
    path = gen / FILE
    path.unlink(missing_ok=True)
    con = sqlite3.connect(path)
    try:
        con.execute("CREATE TABLE papers (row INTEGER PRIMARY KEY, paper_id TEXT NOT NULL UNIQUE, "
                    "title TEXT NOT NULL, data TEXT NOT NULL, year INTEGER)")
        con.executemany("INSERT INTO papers VALUES (?, ?, ?, ?, ?)",
                        ((i, p.paper_id, p.title, p.model_dump_json(), p.year) for i, p in enumerate(papers)))
        con.commit()
    finally:
        con.close()


class PaperStore(Mapping[str, Paper]):
    """paper id -> Paper, iterated in the collection's order; `at(row)` reads by place. Safe
    across threads."""

    def __init__(self, ids: list[str], titles: list[str], *, con: sqlite3.Connection | None = None,
                 papers: Sequence[Paper] | None = None):
        if len(ids) != len(titles) or (papers is not None and len(papers) != len(ids)):
            raise ValueError("paper ids, titles and papers that do not line up")
        self.ids, self.titles = ids, titles
        self._row = {pid: i for i, pid in enumerate(ids)}
        if len(self._row) != len(ids):
            raise ValueError("two papers with one id")
        self._con, self._held = con, papers
        self._lock = threading.Lock()
        self._cache: OrderedDict[int, Paper] = OrderedDict()
        self._years: Counter[int | None] | None = None  # year_counts, counted once

    @classmethod
    def of(cls, papers: Sequence[Paper]) -> PaperStore:
        """Papers already in memory (an older index's papers.json, a test)."""
        papers = list(papers)
        return cls([p.paper_id for p in papers], [p.title for p in papers], papers=papers)

    @classmethod
    def open(cls, gen: Path) -> PaperStore:
        """The generation's store (read-only, never locked: a generation does not change once
        written), or its papers.json when it is older than the store."""
        path = gen / FILE
        if not path.exists():
            return cls.of([Paper.model_validate(p) for p in json.loads((gen / LEGACY).read_text())])
        con = sqlite3.connect(f"file:{path}?mode=ro&immutable=1", uri=True, check_same_thread=False)
        rows = con.execute("SELECT row, paper_id, title FROM papers ORDER BY row").fetchall()
        if any(r[0] != i for i, r in enumerate(rows)):
            con.close()
            raise ValueError(f"{FILE} has gaps in its rows")
        return cls([r[1] for r in rows], [r[2] for r in rows], con=con)

    # -- Mapping ------------------------------------------------------------------------
    def __getitem__(self, paper_id: str) -> Paper:
        return self.at(self._row[paper_id])

    def __contains__(self, paper_id: object) -> bool:
        return paper_id in self._row

    def __iter__(self) -> Iterator[str]:
        return iter(self.ids)

    def __len__(self) -> int:
        return len(self.ids)

    # -- by place -------------------------------------------------------------------------
    def row_of(self, paper_id: str) -> int:
        return self._row[paper_id]

    def at(self, row: int) -> Paper:
        if self._held is not None:
            return self._held[row]
        if not 0 <= row < len(self.ids):
            raise IndexError(row)
        with self._lock:
            got = self._cache.get(row)
            if got is not None:
                self._cache.move_to_end(row)
                return got
            assert self._con is not None  # noqa: S101 - a store is held or on disk
            (data,) = self._con.execute("SELECT data FROM papers WHERE row = ?", (row,)).fetchone()
            got = self._cache[row] = Paper.model_validate_json(data)
            if len(self._cache) > _CACHE:
                self._cache.popitem(last=False)
            return got

    def rows(self) -> PaperRows:
        """The papers as a sequence by place, read as they are asked for."""
        return PaperRows(self)

    def all(self) -> list[Paper]:
        """Every paper in order, in one pass over the file (not one read per paper); a
        collection that fits the cache is parsed once and kept."""
        if self._held is not None:
            return list(self._held)
        with self._lock:
            if len(self._cache) == len(self.ids):
                return [self._cache[r] for r in range(len(self.ids))]
            assert self._con is not None  # noqa: S101
            got = [Paper.model_validate_json(d) for (d,) in self._con.execute("SELECT data FROM papers ORDER BY row")]
            if len(got) <= _CACHE:
                self._cache = OrderedDict(enumerate(got))
            return got

    def year_counts(self) -> Counter[int | None]:
        """How many papers each publication year (`Paper.year`; None: undated) has, counted by
        SQLite, not by parsing every paper."""
        if self._held is not None:
            return Counter(p.year for p in self._held)
        with self._lock:
            assert self._con is not None  # noqa: S101
            if self._years is None:
                columns = {c[1] for c in self._con.execute("PRAGMA table_info(papers)")}
                year = ("year" if "year" in columns else "COALESCE(CAST(substr(json_extract(data, '$.published'), 1, 4) "
                        "AS INTEGER), json_extract(data, '$.published_year'))")
                found = self._con.execute(f"SELECT {year} AS y, COUNT(*) FROM papers GROUP BY y").fetchall()  # noqa: S608
                self._years = Counter(dict(found))
            return Counter(self._years)

    def close(self) -> None:
        if self._con is not None:
            self._con.close()


class PaperRows(Sequence[Paper]):
    """A store's papers by place: `rows[i]` is the paper of bm25 row i."""

    def __init__(self, store: PaperStore):
        self.store = store

    @overload
    def __getitem__(self, i: int) -> Paper: ...
    @overload
    def __getitem__(self, i: slice) -> list[Paper]: ...
    def __getitem__(self, i: int | slice) -> Paper | list[Paper]:
        if isinstance(i, slice):
            return [self.store.at(r) for r in range(*i.indices(len(self)))]
        return self.store.at(i if i >= 0 else len(self) + i)

    def __len__(self) -> int:
        return len(self.store)

    def __iter__(self) -> Iterator[Paper]:
        return iter(self.store.all())
