"""JSON lines (one object per line), a JSON list of objects, and the arXiv metadata snapshot.

JSON lines and the snapshot are read one line at a time from an open file (the snapshot is
several GB): a line that is not JSON, not UTF-8 or not a usable record is one Problem, and
only the records kept stay in memory.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from rag.errors import CorpusError
from rag.formats.records import Problem, Read, Record, make_record, pick
from rag.formats.source import open_binary

ARXIV_KEYS = frozenset({"id", "categories"})


def is_arxiv(obj: object) -> bool:
    """The snapshot's objects have id, categories and update_date (or versions)."""
    return isinstance(obj, dict) and ARXIV_KEYS <= obj.keys() and bool({"update_date", "versions"} & obj.keys())


def _objects(path: Path) -> Iterator[tuple[int, dict[str, Any] | Problem]]:
    with open_binary(path) as lines:
        for lineno, raw in enumerate(lines, start=1):
            if not raw.strip():
                continue
            try:
                obj = json.loads(raw.decode("utf-8-sig" if lineno == 1 else "utf-8"))
            except UnicodeDecodeError:
                yield lineno, Problem(lineno, "not valid UTF-8; re-save the file as UTF-8")
            except json.JSONDecodeError as exc:
                yield lineno, Problem(lineno, f"not valid JSON ({exc.msg}, column {exc.colno})")
            else:
                yield lineno, obj if isinstance(obj, dict) else Problem(lineno, "expected a JSON object {...}")


def read_json_lines(path: Path) -> Read:
    for lineno, obj in _objects(path):
        yield obj if isinstance(obj, Problem) else make_record(pick(obj), path.name, lineno)


def in_categories(categories: Sequence[str], chosen: Sequence[str]) -> bool:
    """'cs.LG' chooses cs.LG; 'cs' chooses every cs.* category."""
    return any(c == want or c.startswith(want + ".") for c in categories for want in chosen)


def read_arxiv(path: Path, categories: Sequence[str] = ()) -> Read:
    for lineno, obj in _objects(path):
        if isinstance(obj, Problem):
            yield obj
        elif categories and not in_categories(str(obj.get("categories") or "").split(), categories):
            yield None
        else:
            yield arxiv_record(obj, path.name, lineno)


def arxiv_record(obj: dict[str, Any], file: str, line: int) -> Record | Problem:
    """id -> arxiv_id and https://arxiv.org/abs/<id>; authors_parsed (or authors); the date of
    the first version (or update_date); journal-ref as the venue; doi."""
    versions = obj.get("versions")
    first = versions[0].get("created") if isinstance(versions, list) and versions and isinstance(versions[0], dict) else None
    parsed = obj.get("authors_parsed")
    names = ([" ".join(str(p) for p in (n[1], n[0], *n[2:]) if p) for n in parsed if isinstance(n, list) and n]
             if isinstance(parsed, list) else obj.get("authors"))
    aid = str(obj.get("id") or "").strip()
    record = make_record({"title": obj.get("title"), "abstract": obj.get("abstract"), "authors": names,
                          "date": first or obj.get("update_date"), "arxiv_id": aid, "doi": obj.get("doi"),
                          "venue": obj.get("journal-ref"), "url": f"https://arxiv.org/abs/{aid}" if aid else ""},
                         file, line)
    if isinstance(record, Record) and not record.arxiv_id:
        return Problem(line, f"{aid[:40]!r} is not an arXiv identifier")
    return record


def read_json_list(path: Path) -> Read:
    """A JSON document holding a list of objects (e.g. a reference manager's CSL JSON export).
    Each object is decoded on its own, so a bad one names its line; a syntax error ends the list."""
    with open_binary(path) as f:
        text = f.read().decode("utf-8-sig", "surrogateescape")
    decoder = json.JSONDecoder()
    i = _skip_space(text, 0)
    if not text.startswith("[", i):
        raise CorpusError("expected a list of objects [{...}, ...] or one JSON object per line", path=str(path), line=1)
    i, line, counted = _skip_space(text, i + 1), 1, 0
    while i < len(text) and text[i] != "]":
        line, counted = line + text.count("\n", counted, i), i
        try:
            obj, end = decoder.raw_decode(text, i)
        except json.JSONDecodeError as exc:
            yield Problem(exc.lineno, f"not valid JSON ({exc.msg}); the rest of the list could not be read")
            return
        yield make_record(pick(obj), path.name, line) if isinstance(obj, dict) else Problem(line, "expected a JSON object {...}")
        i = _skip_space(text, end)
        if text.startswith(",", i):
            i = _skip_space(text, i + 1)
        elif not text.startswith("]", i):
            yield Problem(line + text.count("\n", counted, i), "expected ',' or ']' after the object; the rest of the list could not be read")
            return


def _skip_space(text: str, i: int) -> int:
    while i < len(text) and text[i] in " \t\r\n":
        i += 1
    return i
