"""Opening a collection file: plain or gzip-compressed (`refs.jsonl.gz`), as bytes, streamed."""

from __future__ import annotations

import gzip
from pathlib import Path
from typing import BinaryIO


def suffix_of(path: Path) -> str:
    """The format's suffix, under a .gz: 'refs.jsonl.gz' -> '.jsonl'."""
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] == ".gz":
        suffixes.pop()
    return suffixes[-1] if suffixes else ""


def open_binary(path: Path) -> BinaryIO:
    if path.suffix.lower() == ".gz":
        return gzip.open(path, "rb")  # type: ignore[return-value]
    return path.open("rb")


def head(path: Path, size: int = 65536) -> bytes:
    """The first `size` bytes (format detection reads no more than this)."""
    with open_binary(path) as f:
        return f.read(size)
