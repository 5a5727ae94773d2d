"""CSV (or TSV) with a header row: title, abstract and optional year/date, authors, url, doi,
arxiv_id, venue, in any case, or the names reference managers write (Zotero: "Title",
"Abstract Note", "Publication Year", "Author", "DOI", "Url", "Publication Title").

Read with the csv module one physical line at a time, so a quoted abstract may span lines and
a record's line is the line it starts on.
"""

from __future__ import annotations

import csv
import sys
from collections.abc import Iterator
from pathlib import Path

from rag.errors import CorpusError
from rag.formats.records import ALIASES, Problem, Read, key_of, make_record, pick
from rag.formats.source import open_binary, suffix_of

csv.field_size_limit(min(sys.maxsize, 2**31 - 1))  # an abstract may be longer than csv's 128 KiB default


def _lines(path: Path) -> Iterator[str]:
    with open_binary(path) as f:
        for raw in f:  # a bad byte stays visible (a lone surrogate) and makes only its record a Problem
            yield raw.decode("utf-8", "surrogateescape")


def read_csv(path: Path) -> Read:
    lines = _lines(path)
    first = next(lines, "").lstrip("\ufeff")
    delimiter = "\t" if suffix_of(path) == ".tsv" else max(",;\t", key=first.count)
    reader = csv.reader(_chain(first, lines), delimiter=delimiter)
    header = next(reader, [])
    known = {key_of(h) for h in header}
    missing = [name for name in ("title", "abstract") if not known & set(ALIASES[name])]
    if missing:
        raise CorpusError(f"the header has no {' or '.join(missing)} column (it has: {', '.join(header)[:200]}); "
                          "name the columns title and abstract", path=str(path), line=1)
    end = reader.line_num
    while True:
        start = end + 1
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            end = reader.line_num
            yield Problem(start, f"not valid CSV ({exc})")
            continue
        end = reader.line_num
        if not any(cell.strip() for cell in row):
            continue
        if len(row) > len(header):
            yield Problem(start, f"{len(row)} fields but the header names {len(header)}; is a comma in a field "
                                 "not quoted?")
            continue
        yield make_record(pick(dict(zip(header, row))), path.name, start)


def _chain(first: str, rest: Iterator[str]) -> Iterator[str]:
    yield first
    yield from rest
