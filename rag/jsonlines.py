"""One JSON value per line, written with each line's byte offset and read back one line at a
time from a memory map: what the index keeps per paper (rag.facts `facts.jsonl` and the name
keys, rag.chunkstore `chunks.jsonl`) is parsed when a paper is first read, not all of it at open."""

from __future__ import annotations

import json
import mmap
from collections.abc import Iterable, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np


class LineWriter:
    """`with LineWriter(path) as out: out.add(obj)`; `out.offsets` is where each line starts,
    n + 1 entries (the last is the file's size)."""

    def __init__(self, path: Path):
        self._file = open(path, "wb")  # noqa: SIM115 - closed by __exit__
        self.offsets = [0]

    def add(self, obj: Any) -> None:
        self.offsets.append(self.offsets[-1] + self._file.write((json.dumps(obj, ensure_ascii=False) + "\n").encode()))

    def __enter__(self) -> LineWriter:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self._file.close()


def write_lines(path: Path, offsets_path: Path, items: Iterable[Any]) -> None:
    """Each item as a line of `path`, and where each line starts (n + 1 raw little-endian
    int64) in `offsets_path`: what `Lines.open` reads."""
    with LineWriter(path) as out:
        for item in items:
            out.add(item)
    np.array(out.offsets, dtype="<i8").tofile(offsets_path)


class Lines(Sequence[Any]):
    """A file written by LineWriter, memory-mapped: `lines[i]` parses line i (each time: a
    caller that reads a line often keeps what it parsed)."""

    def __init__(self, path: Path, offsets: list[int]):
        with open(path, "rb") as f:
            self._map: mmap.mmap | bytes = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) if offsets[-1] else b""
        self._offsets = offsets

    @staticmethod
    def fit(path: Path, offsets: list[int], n: int) -> bool:
        """Whether `offsets` are those of `n` lines that make up the whole file (what a read trusts)."""
        return len(offsets) == n + 1 and offsets[0] == 0 and path.stat().st_size == offsets[-1]

    @classmethod
    def open(cls, path: Path, offsets_path: Path, n: int) -> Lines | None:
        """What `write_lines` wrote, when it is `n` lines that make up the whole file; else None."""
        offsets = np.fromfile(offsets_path, dtype="<i8").tolist()
        return cls(path, offsets) if cls.fit(path, offsets, n) else None

    def __len__(self) -> int:
        return len(self._offsets) - 1

    def raw(self, i: int) -> bytes:
        """Line i as written (UTF-8 JSON, non-ASCII characters as they are), not parsed."""
        return self._map[self._offsets[i] : self._offsets[i + 1]]

    def __getitem__(self, i: int) -> Any:  # type: ignore[override] - one line, not slices
        if i < 0:
            i += len(self)
        if not 0 <= i < len(self):
            raise IndexError(i)
        return json.loads(self.raw(i))
