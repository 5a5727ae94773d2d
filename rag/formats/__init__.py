"""Bring your own collection: which format a file is in, and its records.

Formats: listing pages (*.txt, parsed by rag.corpus), JSON lines, a JSON list, CSV/TSV, BibTeX
and the arXiv metadata snapshot. The format is told by the extension and the content: a
.json or .jsonl whose first object has id, categories and update_date is the arXiv snapshot
(Kaggle names it arxiv-metadata-oai-snapshot.json, but it holds one object per line), a .json
that starts with '{' holds JSON lines, a file of an unknown extension is sniffed.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

from rag.errors import CorpusError
from rag.formats.bibtex import read_bibtex
from rag.formats.csvfile import read_csv
from rag.formats.jsonfiles import is_arxiv, read_arxiv, read_json_lines, read_json_list
from rag.formats.records import Problem, Read, Record
from rag.formats.source import head, suffix_of

Format = Literal["pages", "jsonl", "json", "csv", "bibtex", "arxiv"]

LABELS: dict[Format, str] = {
    "pages": "listing pages", "jsonl": "JSON lines", "json": "JSON", "csv": "CSV", "bibtex": "BibTeX",
    "arxiv": "arXiv metadata snapshot",
}
SUFFIXES = {".txt": "pages", ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "json", ".csv": "csv", ".tsv": "csv",
            ".bib": "bibtex", ".bibtex": "bibtex"}

__all__ = ["LABELS", "SUFFIXES", "Format", "Problem", "Read", "Record", "detect_format", "is_collection_file",
           "read_records"]


def is_collection_file(path: Path) -> bool:
    """Whether a corpus folder's entry is read: a known suffix (also under .gz), not hidden. (Not a
    test of being a file: what cannot be read is warned about, not silently passed over.)"""
    suffix = suffix_of(path)
    compressed_page = suffix == ".txt" and path.suffix.lower() == ".gz"  # listing pages are read as plain text
    return not path.name.startswith(".") and suffix in SUFFIXES and not compressed_page


def _first_object(start: bytes) -> object:
    line = start.lstrip().split(b"\n", 1)[0]
    try:
        return json.loads(line.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError):
        return None


def detect_format(path: Path) -> Format:
    """The file's format, from its suffix and its first bytes (never more than 64 KiB)."""
    suffix = suffix_of(path)
    by_suffix = SUFFIXES.get(suffix)
    if by_suffix in ("pages", "csv", "bibtex"):
        return by_suffix  # type: ignore[return-value]
    start = head(path).lstrip(b"\xef\xbb\xbf \t\r\n")
    if by_suffix in ("json", "jsonl") or start[:1] in (b"[", b"{"):
        if start.startswith(b"["):
            return "json"
        first = _first_object(start)
        if isinstance(first, dict):
            return "arxiv" if is_arxiv(first) else "jsonl"
        if by_suffix == "jsonl":
            return "jsonl"  # its first line is broken: read_json_lines reports it and goes on
        raise CorpusError("expected a list of objects [{...}, ...] or one JSON object per line",
                          path=str(path), line=1)
    if start.startswith(b"@") or b"\n@" in start:
        return "bibtex"
    raise CorpusError(f"cannot tell the format of this file ({suffix or 'no extension'}); name it .jsonl, .json, "
                      ".csv, .bib or .txt (listing page)", path=str(path))


def read_records(path: Path, fmt: Format, *, categories: Sequence[str] = ()) -> Read:
    """Every record of a file that is not a listing page, in order: a Record, a Problem (the
    record is skipped), or None for a record outside `categories` (arXiv snapshot only)."""
    if fmt == "arxiv":
        return read_arxiv(path, categories)
    readers = {"jsonl": read_json_lines, "json": read_json_list, "csv": read_csv, "bibtex": read_bibtex}
    if fmt not in readers:
        raise ValueError(f"no record reader for {fmt}")
    return readers[fmt](path)
