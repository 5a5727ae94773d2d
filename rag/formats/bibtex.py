"""BibTeX (and biblatex) files, parsed by bibtexparser 2: @string macros resolved, LaTeX decoded
to text ({Deep} -> Deep, Sch{\\"o}lkopf -> Schölkopf; $maths$ kept), authors split into names.

An entry without an abstract, a block bibtexparser could not parse and a duplicate key are
each one Problem on the entry's first line; the other entries are read.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any

from rag.formats.records import Problem, Read, make_record
from rag.formats.source import open_binary

_BAD_BYTE = re.compile("[\udc80-\udcff]")


def _value(value: Any) -> Any:
    from bibtexparser.middlewares import NameParts

    if isinstance(value, list):
        return [v.merge_first_name_first if isinstance(v, NameParts) else str(v) for v in value]
    return value


def read_bibtex(path: Path) -> Read:
    import bibtexparser
    from bibtexparser.middlewares import LatexDecodingMiddleware, SeparateCoAuthors, SplitNameParts
    from bibtexparser.model import DuplicateBlockKeyBlock, Entry, ParsingFailedBlock

    with open_binary(path) as f:
        text = f.read().decode("utf-8-sig", "surrogateescape")
    quiet = logging.getLogger("bibtexparser")
    level, quiet.level = quiet.level, logging.ERROR  # its parse warnings become our Problems, with lines
    try:
        library = bibtexparser.parse_string(
            text, append_middleware=[LatexDecodingMiddleware(), SeparateCoAuthors(), SplitNameParts()])
    finally:
        quiet.level = level
    for block in library.blocks:
        line = (block.start_line or 0) + 1  # bibtexparser counts lines from 0
        if isinstance(block, DuplicateBlockKeyBlock):
            first = (block.previous_block.start_line or 0) + 1
            yield Problem(line, f"duplicate key {block.key!r}; the entry on line {first} with this key is used")
        elif isinstance(block, ParsingFailedBlock):
            reason = str(block.error).splitlines()[0] if block.error else "not valid BibTeX"
            yield Problem(line, f"could not parse this entry ({reason})")
        elif isinstance(block, Entry):
            if bad := _BAD_BYTE.search(block.raw or ""):
                yield Problem(line + (block.raw or "")[: bad.start()].count("\n"),
                              "not valid UTF-8; re-save the file as UTF-8")
                continue
            fields = {f.key.lower(): _value(f.value) for f in block.fields}
            if not fields.get("abstract"):
                yield Problem(line, f"@{block.entry_type}{{{block.key}, ...}} has no abstract field")
                continue
            eprint = fields.get("eprint") if str(fields.get("archiveprefix", "arxiv")).lower() == "arxiv" else None
            yield make_record({"title": fields.get("title"), "abstract": fields.get("abstract"),
                               "authors": fields.get("author"), "date": fields.get("date"),
                               "year": fields.get("year"), "doi": fields.get("doi"), "url": fields.get("url"),
                               "arxiv_id": eprint,
                               "venue": fields.get("journal") or fields.get("booktitle") or fields.get("journaltitle")},
                              path.name, line)
