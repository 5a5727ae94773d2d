"""Every chunk's vector, in paper order, as one memory-mapped matrix beside the Chroma collection.

A process that opens the index maps `vectors.npy` instead of reading every vector out of Chroma
(a paged `collection.get`: 2 s per 1,000 papers and a second copy in memory), and the next
ingest carries the unchanged papers' rows forward from it instead of re-reading them. Layout of
a generation::

    vectors.npy   float32 [chunks, dim], rows grouped by paper in the papers.sqlite order
    chunks.jsonl  one line per paper: {"id": paper_id, "texts": [title, sentence, ...]}; row k of a
                  paper is texts[k] (position k; position 0 is the title)
    chunk_rows.json  {"ids", "rows", "offsets"}: each paper's id, row count and line's byte offset
                  (n + 1), so opening reads these and a paper's texts are parsed when it is first
                  read (chunks.jsonl is 85 MB at 50,000 papers); an index without it reads the lines
    paper_means.npy  float32 [papers, dim]: the mean of each paper's rows, in the same order. Its
                  dot product with a query is the mean of the paper's row similarities, so never
                  more than their max: a large collection's search scores every paper by it and
                  reads the rows of the best ones only (rag.retrieve)

Chroma stays the store of record: it is what an index without these files (built before them)
is read from, once, and what ingest verifies.
"""

from __future__ import annotations

import json
import os
import threading
import weakref
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from rag.jsonlines import LineWriter, Lines
from rag.vectors import pages

# np.load parses a .npy header with ast.literal_eval, which CPython 3.11 can break when threads
# compile at once ("AST constructor recursion depth mismatch"): the page opens indexes in threads
NPY_LOAD_LOCK = threading.Lock()
_FD_LOCK = threading.Lock()

VECTORS = "vectors.npy"
CHUNKS = "chunks.jsonl"
ROWS = "chunk_rows.json"
MEANS = "paper_means.npy"


def row_ranges(starts: np.ndarray, lens: np.ndarray) -> np.ndarray:
    """The row numbers starts[i] .. starts[i] + lens[i] - 1 for each i, one range after another."""
    seg = np.cumsum(lens) - lens
    return np.arange(int(lens.sum())) - np.repeat(seg - starts, lens)


@dataclass
class ChunkTable:
    """Per paper (in order): its chunk texts and the matrix rows they occupy."""

    texts: Mapping[str, list[str]]  # parsed when asked for, when read from disk
    starts: dict[str, int]
    vectors: np.ndarray  # a memory map when read from disk
    means: np.ndarray | None = None  # [papers, dim] in the table's paper order (None: an index built before it)
    counts: dict[str, int] = field(default_factory=dict)  # rows per paper (filled from `texts` when not given)

    def __post_init__(self) -> None:
        if not self.counts:
            self.counts = {pid: len(t) for pid, t in self.texts.items()}
        self._fd: int | None = None

    def gather(self, starts: np.ndarray, lens: np.ndarray) -> np.ndarray:
        """Rows starts[i] .. starts[i] + lens[i] - 1 for each i, one range after another. From a
        `vectors.npy` on disk they are read with pread, not through the memory map: a page that
        the map faults in stays in the process's RSS (whole 2 MB page-cache folios on a freshly
        written file), so searching a large collection would map most of the file."""
        vecs, total = self.vectors, int(lens.sum())
        if not (isinstance(vecs, np.memmap) and vecs.filename and vecs.flags.c_contiguous) or not total:
            return np.asarray(vecs[row_ranges(starts, lens)])
        with _FD_LOCK:
            if self._fd is None:
                self._fd = os.open(vecs.filename, os.O_RDONLY)
                weakref.finalize(self, os.close, self._fd)
        out = np.empty((total, vecs.shape[1]), dtype=vecs.dtype)
        buf, width, at = memoryview(out).cast("B"), vecs.shape[1] * vecs.dtype.itemsize, 0
        for start, n in zip(starts.tolist(), lens.tolist()):
            if os.preadv(self._fd, [buf[at * width : (at + n) * width]], vecs.offset + start * width) != n * width:
                raise ValueError(f"{VECTORS} is shorter than its header says")
            at += n
        return out

    @classmethod
    def read(cls, gen: Path) -> ChunkTable | None:
        """The generation's table, or None when it has none (an index built before it)."""
        if not (gen / VECTORS).exists() or not (gen / CHUNKS).exists():
            return None
        texts: Mapping[str, list[str]]
        lazy = _LazyTexts.read(gen)
        if lazy is not None:
            texts, counts = lazy, lazy.counts
            starts = dict(zip(lazy.ids, np.r_[0, np.cumsum(lazy.rows)[:-1]].tolist() if lazy.ids else []))
            row = int(sum(lazy.rows))
        else:  # an index written before chunk_rows.json, or one whose lines no longer match it
            texts, starts, row = {}, {}, 0
            with open(gen / CHUNKS, encoding="utf-8") as f:
                for line in f:
                    item = json.loads(line)
                    texts[item["id"]], starts[item["id"]] = item["texts"], row
                    row += len(item["texts"])
            counts = {pid: len(t) for pid, t in texts.items()}
        with NPY_LOAD_LOCK:
            vectors = np.load(gen / VECTORS, mmap_mode="r")
            means = np.load(gen / MEANS, mmap_mode="r") if (gen / MEANS).exists() else None
        if vectors.shape[0] != row:
            raise ValueError(f"{VECTORS} has {vectors.shape[0]} rows, {CHUNKS} names {row}")
        if means is not None and means.shape != (len(texts), vectors.shape[1]):
            raise ValueError(f"{MEANS} has shape {means.shape}, expected {(len(texts), vectors.shape[1])}")
        return cls(texts, starts, vectors, means, counts)

    @classmethod
    def read_if_whole(cls, gen: Path) -> ChunkTable | None:
        """The table, or None when it is missing or cannot be read (ingest then reads Chroma)."""
        try:
            return cls.read(gen)
        except (OSError, ValueError, KeyError):  # json.JSONDecodeError is a ValueError
            return None

    def rows(self, paper_id: str) -> np.ndarray:
        start = self.starts[paper_id]
        return self.vectors[start : start + self.counts[paper_id]]


class _LazyTexts(Mapping[str, list[str]]):
    """chunks.jsonl, memory-mapped: a paper's line is parsed when it is first asked for."""

    def __init__(self, path: Path, ids: list[str], rows: list[int], offsets: list[int]):
        self._lines = Lines(path, offsets)
        self.ids, self.rows = ids, rows
        self._at = {pid: i for i, pid in enumerate(ids)}
        self.counts = dict(zip(ids, rows))

    @classmethod
    def read(cls, gen: Path) -> _LazyTexts | None:
        """The lazy lines, or None when chunk_rows.json is missing or does not fit chunks.jsonl."""
        try:
            head = json.loads((gen / ROWS).read_text())
            ids, rows, offsets = head["ids"], head["rows"], head["offsets"]
        except (OSError, ValueError, KeyError):
            return None
        if len(rows) != len(ids) or not Lines.fit(gen / CHUNKS, offsets, len(ids)):
            return None
        return cls(gen / CHUNKS, ids, rows, offsets)

    def __getitem__(self, paper_id: str) -> list[str]:
        i = self._at[paper_id]
        item = self._lines[i]
        if item["id"] != paper_id or len(item["texts"]) != self.rows[i]:
            raise ValueError(f"{CHUNKS} line {i + 1} does not match {ROWS}")
        return item["texts"]

    def __contains__(self, paper_id: object) -> bool:
        return paper_id in self._at

    def __iter__(self) -> Iterator[str]:
        return iter(self.ids)

    def __len__(self) -> int:
        return len(self.ids)


def from_collection(collection: Any, order: Iterable[str], dim: int) -> ChunkTable:
    """Every vector read out of a Chroma collection (paged), grouped by paper in `order`."""
    by_paper: dict[str, list[tuple[int, str, np.ndarray]]] = {}
    for got in pages(collection):
        for meta, doc, vec in zip(got["metadatas"], got["documents"], got["embeddings"]):
            by_paper.setdefault(meta["paper_id"], []).append((int(meta.get("position", 0)), doc or "", vec))
    texts: dict[str, list[str]] = {}
    starts: dict[str, int] = {}
    vecs: list[Any] = []
    for pid in order:
        chunks = sorted(by_paper.get(pid, []), key=lambda c: c[0])
        starts[pid], texts[pid] = len(vecs), [c[1] for c in chunks]
        vecs += [c[2] for c in chunks]
    matrix = np.asarray(vecs, dtype=np.float32).reshape(len(vecs), dim)
    return ChunkTable(texts, starts, matrix)


def write(gen: Path, papers: Iterable[tuple[str, list[str], np.ndarray]], total: int, dim: int,
          n_papers: int) -> None:
    """Write the table from (paper_id, texts, vectors) of `n_papers` papers in paper order,
    `total` rows in all, streaming: the matrix is filled in place on disk, never held whole in
    memory."""
    out = np.lib.format.open_memmap(gen / VECTORS, mode="w+", dtype=np.float32, shape=(total, dim))
    means = np.lib.format.open_memmap(gen / MEANS, mode="w+", dtype=np.float32, shape=(n_papers, dim))
    row = 0
    ids: list[str] = []
    counts: list[int] = []
    with LineWriter(gen / CHUNKS) as lines:
        for i, (pid, texts, vectors) in enumerate(papers):
            out[row : row + len(texts)] = vectors
            means[i] = np.asarray(vectors, dtype=np.float32).mean(axis=0) if len(texts) else 0.0
            row += len(texts)
            lines.add({"id": pid, "texts": texts})
            ids.append(pid)
            counts.append(len(texts))
    if row != total:
        raise ValueError(f"wrote {row} rows, expected {total}")
    (gen / ROWS).write_text(json.dumps({"ids": ids, "rows": counts, "offsets": lines.offsets}))
    out.flush()
    means.flush()
    del out, means


def carry_forward(gen: Path, old_gen: Path | None, order: list[str], new: dict[str, tuple[list[str], np.ndarray]],
                  collection: Any, dim: int) -> int:
    """Write `gen`'s table: the papers in `new` with their fresh texts and vectors, every other
    paper's rows taken from `old_gen`'s table (or, for an index without one, read once from the
    new generation's `collection`, which already holds them). Returns the number of rows."""
    kept = [pid for pid in order if pid not in new]
    old = ChunkTable.read_if_whole(old_gen) if old_gen is not None and kept else None
    if kept and (old is None or any(pid not in old.starts for pid in kept)):
        old = from_collection(collection, kept, dim)

    def rows() -> Iterator[tuple[str, list[str], np.ndarray]]:
        for pid in order:
            if pid in new:
                yield pid, *new[pid]
            else:
                assert old is not None  # noqa: S101 - `kept` is non-empty here
                yield pid, old.texts[pid], old.rows(pid)

    total = sum(len(new[pid][0]) if pid in new else old.counts[pid] for pid in order)  # type: ignore[union-attr]
    write(gen, rows(), total, dim, len(order))
    return total
