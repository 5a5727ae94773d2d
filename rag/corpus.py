"""Listing pages -> Paper records: parsing the three page layouts, dedupe, metadata.

A page is a sequence of (title, abstract) line pairs, with noise lines in between
("new", "Subscribe", "byAK and the research community", page dates such as "Mar 14")
and, on some pages, per-paper metadata after the abstract ("• 4 authors", "·",
"Nov 25, 2021"). The first title can be glued to "Subscribe".
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

from rag.errors import CorpusError
from rag.text import strip_controls
from rag.types import Paper, SourceRef

_NOISE = re.compile(
    r"^(new|Subscribe|Daily Papers|byAK and the research community"
    r"|Get trending papers in your email inbox( once a day)?!|·)$"
)
_AUTHORS = re.compile(r"^•\s*(\d+)\s+authors?$")
_DATE = re.compile(r"^([A-Z][a-z]{2}) (\d{1,2})(?:, (\d{4}))?(?: \d+)?$")
_URL = re.compile(r"https?://[^\s)\]}>,;\"']+")
_MAX_TITLE = 300
_MIN_ABSTRACT = 80


@dataclass
class CorpusReport:
    """The parsed collection plus what a user should know about it."""

    papers: list[Paper]
    entries: int
    files: list[str]
    warnings: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # pages that could not be read or parsed


def normalize_title(title: str) -> str:
    text = unicodedata.normalize("NFKC", title).lower()
    return " ".join(re.findall(r"[a-z0-9]+", text))


def paper_id_for(title: str) -> str:
    """Stable, readable id: the normalised title as a slug (at most 80 chars)."""
    words = normalize_title(title).split() or ["untitled"]
    slug = ""
    for word in words:
        if len(slug) + len(word) + 1 > 80:
            break
        slug = f"{slug}-{word}" if slug else word
    if slug != "-".join(words):  # truncated: keep ids unique with a short digest
        slug += "-" + hashlib.sha1(normalize_title(title).encode()).hexdigest()[:6]
    return slug or words[0][:80]


def find_code_urls(text: str) -> list[str]:
    urls = [u.rstrip(".") for u in _URL.findall(text)]
    return list(dict.fromkeys(urls))


def _parse_date(match: re.Match[str]) -> date | None:
    month, day, year = match.groups()
    if not year:  # a page date ("Mar 14"), not a publication date
        return None
    try:
        return datetime.strptime(f"{month} {day} {year}", "%b %d %Y").date()
    except ValueError:
        return None


@dataclass
class _Entry:
    title: str
    abstract: str
    file: str
    line: int
    published: date | None = None
    authors: int | None = None


def _read_text(path: Path) -> str:
    data = path.read_bytes()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise CorpusError(
            f"not valid UTF-8 (byte 0x{data[exc.start]:02x}); re-save the file as UTF-8",
            path=str(path),
            line=line,
        ) from exc


def parse_page(path: Path) -> list[_Entry]:
    """Parse one listing page into entries (not yet merged)."""
    entries: list[_Entry] = []
    pending_title: tuple[str, int] | None = None
    for lineno, raw in enumerate(strip_controls(_read_text(path)).splitlines(), start=1):
        text = raw.strip()
        if text.startswith("Subscribe") and len(text) > len("Subscribe"):
            text = text[len("Subscribe") :].strip()
        if not text or _NOISE.match(text):
            continue
        if m := _AUTHORS.match(text):
            if entries and pending_title is None:
                entries[-1].authors = int(m.group(1))
            continue
        if m := _DATE.match(text):
            if entries and pending_title is None and (d := _parse_date(m)):
                entries[-1].published = d
            continue
        if pending_title is None:
            if len(text) > _MAX_TITLE:
                raise CorpusError(
                    f"expected a paper title but found a {len(text)}-character paragraph; "
                    "is a title line missing above it?",
                    path=str(path),
                    line=lineno,
                )
            pending_title = (text, lineno)
            continue
        title, title_line = pending_title
        if len(text) < _MIN_ABSTRACT:
            raise CorpusError(
                f"the title on line {title_line} ({title[:60]!r}) is followed by "
                f"{text[:60]!r}, which is too short to be an abstract",
                path=str(path),
                line=lineno,
            )
        entries.append(_Entry(title=title, abstract=text, file=path.name, line=title_line))
        pending_title = None
    if pending_title is not None:
        raise CorpusError(
            f"title {pending_title[0][:60]!r} has no abstract after it",
            path=str(path),
            line=pending_title[1],
        )
    return entries


def merge_entries(entries: list[_Entry]) -> list[Paper]:
    """One Paper per normalised title; every page kept, differing abstracts kept."""
    papers: dict[str, Paper] = {}
    for e in entries:
        pid = paper_id_for(e.title)
        paper = papers.get(pid)
        if paper is None:
            paper = papers[pid] = Paper(paper_id=pid, title=e.title, abstracts=[])
        if " ".join(e.abstract.split()) not in {" ".join(a.split()) for a in paper.abstracts}:
            paper.abstracts.append(e.abstract)
        paper.sources.append(SourceRef(file=e.file, line=e.line))
        paper.published = paper.published or e.published
        paper.authors = paper.authors or e.authors
    for paper in papers.values():
        paper.code_urls = find_code_urls(paper.abstract)
    return list(papers.values())


def load_corpus(corpus_dir: Path, *, strict: bool = False) -> CorpusReport:
    """Parse every *.txt page in `corpus_dir`. A page that cannot be read or parsed is skipped
    with a warning naming its file and line (`strict`: raised instead); the others still count."""
    if not corpus_dir.is_dir():
        raise CorpusError(f"corpus folder {corpus_dir} does not exist; pass --corpus DIR")
    files = sorted(corpus_dir.glob("*.txt"))
    if not files:
        raise CorpusError(f"no *.txt listing pages in {corpus_dir}")
    entries: list[_Entry] = []
    warnings: list[str] = []
    broken: list[CorpusError] = []
    for path in files:
        try:
            page = parse_page(path)
        except OSError as exc:
            page, error = [], CorpusError(f"cannot read the page ({exc.strerror or exc})", path=str(path))
        except CorpusError as exc:
            page, error = [], exc
        else:
            error = None
        if error is not None:
            if strict:
                raise error
            broken.append(error)
            warnings.append(f"{error} (page skipped; --strict stops instead)")
        elif not page:
            warnings.append(f"{path}: no papers found on this page (skipped)")
        entries.extend(page)
    if not entries:
        if broken:
            raise CorpusError(f"no page under {corpus_dir} could be read; the first problem: {broken[0]}")
        raise CorpusError(f"no papers found in any page under {corpus_dir}")
    papers = merge_entries(entries)
    skipped = [e.path or "" for e in broken]
    return CorpusReport(
        papers=papers, entries=len(entries), files=[p.name for p in files if str(p) not in skipped],
        warnings=warnings, skipped=skipped,
    )
