"""A record as read from a file (title, abstract and what else it gives), one bad record's
Problem, and the one place that turns a file's fields into a checked Record: header aliases,
author lists, dates (a year stays a year), DOIs, arXiv ids and URLs.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from email.utils import parsedate_to_datetime
from typing import Any

from rag.text import strip_controls

MAX_TITLE = 300
MIN_ABSTRACT = 80


@dataclass
class Record:
    """One paper as one file states it; corpus.merge_entries merges records by title."""

    title: str
    abstract: str
    file: str
    line: int
    published: date | None = None  # only a full date (year, month and day)
    year: int | None = None  # the year, also when the file gives no full date
    authors: int | None = None
    author_names: list[str] = field(default_factory=list)
    url: str | None = None
    doi: str | None = None
    arxiv_id: str | None = None
    venue: str | None = None


@dataclass
class Problem:
    """A record that cannot be used: its first line and what is wrong with it."""

    line: int
    message: str


Read = Iterator["Record | Problem | None"]  # what a reader yields; None: left out by the category filter


# header / key aliases (compared lower-case, '_' and '-' read as spaces): ours, Zotero's CSV
# export ("Abstract Note", "Publication Year", "Publication Title"), CSL JSON, arXiv's API
ALIASES: dict[str, tuple[str, ...]] = {
    "title": ("title",),
    "abstract": ("abstract", "abstract note", "abstractnote", "summary"),
    "year": ("year", "publication year", "pub year"),
    "date": ("date", "published", "publication date", "issued"),
    "authors": ("authors", "author", "author names"),
    "url": ("url", "link"),
    "doi": ("doi",),
    "arxiv_id": ("arxiv id", "arxiv", "arxivid", "eprint"),
    "venue": ("venue", "publication title", "journal", "booktitle", "container title", "conference"),
}


def key_of(name: str) -> str:
    return " ".join(re.split(r"[\s_\-]+", name.strip().lower()))


def pick(fields: Mapping[str, Any]) -> dict[str, Any]:
    """Our names for the fields a record has, by the aliases above (the first alias present wins)."""
    by_key = {key_of(k): v for k, v in fields.items() if isinstance(k, str)}
    out: dict[str, Any] = {}
    for name, aliases in ALIASES.items():
        for alias in aliases:
            value = by_key.get(alias)
            if value not in (None, "", []):
                out[name] = value
                break
    return out


def clean(text: object) -> str:
    return " ".join(strip_controls(str(text)).split())


_ISO = re.compile(r"^(\d{4})(?:-(\d{1,2})(?:-(\d{1,2}))?)?(?:[T ].*)?$")
_YEAR = re.compile(r"\b(1[89]\d\d|20\d\d)\b")
_DATE_FORMATS = ("%b %d, %Y", "%B %d, %Y", "%d %b %Y", "%d %B %Y", "%Y/%m/%d")


def parse_date(value: object) -> tuple[date | None, int | None]:
    """(full date or None, year or None): '2021-11-25', 'Nov 25, 2021', an RFC 2822 date (arXiv's
    versions), CSL's {"date-parts": [[2021, 11, 25]]}; '2021' or '2021-11' give only the year."""
    if isinstance(value, Mapping) and isinstance(parts := value.get("date-parts"), list) and parts:
        value = "-".join(str(p) for p in parts[0]) if isinstance(parts[0], list) else ""
    if isinstance(value, int) and 1000 <= value <= 9999:
        return None, value
    text = clean(value) if isinstance(value, (str, int)) else ""
    if m := _ISO.match(text):
        year, month, day = (int(g) if g else None for g in m.groups())
        if month and day:
            try:
                return date(year, month, day), year  # type: ignore[arg-type]
            except ValueError:
                pass
        return None, year
    for fmt in _DATE_FORMATS:
        try:
            d = datetime.strptime(text, fmt).date()
            return d, d.year
        except ValueError:
            continue
    try:
        d = parsedate_to_datetime(text).date()
        return d, d.year
    except (TypeError, ValueError, IndexError):
        pass
    m = _YEAR.search(text)
    return None, int(m.group(1)) if m else None


def _person(name: object) -> str:
    """'He, Kaiming' -> 'Kaiming He'; a CSL {"family", "given"} object; other names as written."""
    if isinstance(name, Mapping):
        name = name.get("literal") or name.get("name") or " ".join(
            str(name[k]) for k in ("given", "family") if name.get(k))
    text = clean(name or "")
    if text.count(",") == 1:
        last, first = (s.strip() for s in text.split(","))
        text = f"{first} {last}".strip()
    return text


def _names_in(chunk: str) -> list[str]:
    """'He, Kaiming' is one inverted name (a single word before its comma); 'A. Smith, B. Jones' two."""
    before, _, _ = chunk.partition(",")
    return [chunk] if chunk.count(",") == 1 and " " not in before.strip() else chunk.split(",")


def author_list(value: object) -> list[str]:
    """Author names from a list, or from 'A; B' (Zotero), 'A and B' (BibTeX) or 'A, B and C' (arXiv)."""
    if isinstance(value, str):
        text = clean(value)
        parts: list[object] = (list(text.split(";")) if ";" in text else
                               [n for chunk in re.split(r",?\s+and\s+", text) for n in _names_in(chunk)])
    elif isinstance(value, list):
        parts = value
    else:
        return []
    return [n for n in (_person(p) for p in parts) if n]


_ARXIV = re.compile(r"^(?:\d{4}\.\d{4,5}|[a-z\-]+(?:\.[A-Z]{2})?/\d{7})(?:v\d+)?$")


def arxiv_id(value: object) -> str | None:
    text = clean(value)
    text = re.sub(r"^(?:arxiv:|https?://(?:www\.)?arxiv\.org/(?:abs|pdf)/)", "", text, flags=re.I).removesuffix(".pdf")
    return text if _ARXIV.match(text) else None


def doi(value: object) -> str | None:
    text = re.sub(r"^(?:doi:\s*|https?://(?:dx\.)?doi\.org/)", "", clean(value), flags=re.I)
    return text if re.match(r"^10\.\d{4,9}/\S+$", text) else None


def url(value: object) -> str | None:
    text = clean(value)
    return text if re.match(r"^https?://[^\s\"'<>]+$", text) else None


def make_record(fields: Mapping[str, Any], file: str, line: int) -> Record | Problem:
    """A checked Record from our field names (see `pick`); a Problem when it has no usable title
    or abstract. Optional fields that are malformed are dropped, never the record."""
    title, abstract = clean(fields.get("title") or ""), clean(fields.get("abstract") or "")
    if re.search("[\udc80-\udcff]", title + abstract + "".join(str(v) for v in fields.values())):
        return Problem(line, "not valid UTF-8; re-save the file as UTF-8")
    if not title:
        return Problem(line, "no title")
    if not abstract:
        return Problem(line, f"{title[:60]!r} has no abstract")
    if len(title) > MAX_TITLE:
        return Problem(line, f"the title is {len(title)} characters long; is the abstract in the title field?")
    if len(abstract) < MIN_ABSTRACT:
        return Problem(line, f"the abstract of {title[:60]!r} is too short ({len(abstract)} characters, "
                             f"at least {MIN_ABSTRACT})")
    published, year = parse_date(fields.get("date")) if fields.get("date") else (None, None)
    if year is None and fields.get("year"):
        year = parse_date(fields["year"])[1]
    names = author_list(fields.get("authors"))
    venue = clean(fields.get("venue") or "") or None
    return Record(title=title, abstract=abstract, file=file, line=line, published=published, year=year,
                  authors=len(names) or None, author_names=names, url=url(fields.get("url") or ""),
                  doi=doi(fields.get("doi") or ""), arxiv_id=arxiv_id(fields.get("arxiv_id") or ""), venue=venue)
