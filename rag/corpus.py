"""The collection -> Paper records: listing pages (the three page layouts) and, through
rag.formats, JSONL/JSON, CSV, BibTeX and the arXiv snapshot; dedupe and metadata.

A page is a sequence of (title, abstract) line pairs, with noise lines in between
("new", "Subscribe", "byAK and the research community", page dates such as "Mar 14")
and, on some pages, per-paper metadata after the abstract ("• 4 authors", "·",
"Nov 25, 2021"). The first title can be glued to "Subscribe".
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

from rag.errors import CorpusError
from rag.formats import LABELS, Format, Problem, Record, detect_format, is_collection_file, read_records
from rag.formats.records import MAX_TITLE as _MAX_TITLE
from rag.formats.records import MIN_ABSTRACT as _MIN_ABSTRACT
from rag.text import strip_controls
from rag.types import Paper, SourceRef

_NOISE = re.compile(
    r"^(new|Subscribe|Daily Papers|byAK and the research community"
    r"|Get trending papers in your email inbox( once a day)?!|·)$"
)
_AUTHORS = re.compile(r"^•\s*(\d+)\s+authors?$")
_DATE = re.compile(r"^([A-Z][a-z]{2}) (\d{1,2})(?:, (\d{4}))?(?: \d+)?$")
_URL = re.compile(r"https?://[^\s)\]}>,;\"']+")
MAX_WARNINGS_PER_FILE = 20  # then one line saying how many more


@dataclass
class FileRead:
    """What one file of the collection gave."""

    name: str
    format: Format
    records: int = 0  # usable records (entries, for listing pages)
    skipped: int = 0  # bad records, each warned about (the first MAX_WARNINGS_PER_FILE)
    left_out: int = 0  # records outside the chosen categories (arXiv snapshot)

    @property
    def label(self) -> str:
        return LABELS[self.format]


@dataclass
class CorpusReport:
    """The parsed collection plus what a user should know about it."""

    papers: list[Paper]
    entries: int
    files: list[str]
    warnings: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # files that could not be read or parsed
    read: list[FileRead] = field(default_factory=list)  # the files read, with their format and counts

    @property
    def formats(self) -> dict[str, str]:
        """File name -> the format it was read as ("refs.bib" -> "BibTeX")."""
        return {f.name: f.label for f in self.read}

    @property
    def skipped_records(self) -> int:
        return sum(f.skipped for f in self.read)

    def summary(self) -> str:
        """'read 1,204 records from refs.bib (BibTeX), 588 entries from 12 listing pages; 3 records skipped'."""
        pages = [f for f in self.read if f.format == "pages"]
        parts = [f"{_n(f.records, 'record')} from {f.name} ({f.label})"
                 + (f", {f.left_out:,} more outside the chosen categories" if f.left_out else "")
                 for f in self.read if f.format != "pages"]
        if pages:
            parts.append(f"{_n(sum(f.records for f in pages), 'entry', 'entries')} from "
                         f"{_n(len(pages), 'listing page')}")
        problems = [f"{_n(n, what)} skipped" for n, what in ((self.skipped_records, "record"),
                                                              (len(self.skipped), "file")) if n]
        return "read " + ", ".join(parts) + ("; " + ", ".join(problems) + " (see the warnings)" if problems else "")


def _n(count: int, one: str, many: str | None = None) -> str:
    return f"{count:,} {one if count == 1 else many or one + 's'}"


def normalize_title(title: str) -> str:
    text = unicodedata.normalize("NFKC", title).lower()
    return " ".join(re.findall(r"[a-z0-9]+", text))


def paper_id_for(title: str, digest: int = 6) -> str:
    """Stable, readable id: the normalised title as a slug (at most 80 chars; a truncated one
    ends in `digest` hex digits of the title's sha1)."""
    words = normalize_title(title).split() or ["untitled"]
    slug = ""
    for word in words:
        if len(slug) + len(word) + 1 > 80:
            break
        slug = f"{slug}-{word}" if slug else word
    if slug != "-".join(words):  # truncated: keep ids unique with a short digest
        slug += "-" + hashlib.sha1(normalize_title(title).encode()).hexdigest()[:digest]
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


def parse_page(path: Path) -> list[Record]:
    """Parse one listing page into entries (not yet merged)."""
    entries: list[Record] = []
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
                entries[-1].published, entries[-1].year = d, d.year
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
        entries.append(Record(title=title, abstract=text, file=path.name, line=title_line))
        pending_title = None
    if pending_title is not None:
        raise CorpusError(
            f"title {pending_title[0][:60]!r} has no abstract after it",
            path=str(path),
            line=pending_title[1],
        )
    return entries


def merge_entries(entries: list[Record]) -> list[Paper]:
    """One Paper per normalised title; every source kept, differing abstracts kept; each
    other field from the first record that has it."""
    papers: dict[str, Paper] = {}  # by normalised title
    ids: set[str] = set()
    for e in entries:
        key = normalize_title(e.title)
        paper = papers.get(key)
        if paper is None:
            pid = paper_id_for(e.title)
            if pid in ids:  # another title truncated to the same slug and 6 digits: 16 digits tell them apart
                pid = paper_id_for(e.title, digest=16)
            ids.add(pid)
            paper = papers[key] = Paper(paper_id=pid, title=e.title, abstracts=[])
        if " ".join(e.abstract.split()) not in {" ".join(a.split()) for a in paper.abstracts}:
            paper.abstracts.append(e.abstract)
        paper.sources.append(SourceRef(file=e.file, line=e.line))
        if paper.published is None and e.published:  # a full date wins over a year alone
            paper.published, paper.published_year = e.published, None
        elif paper.year is None and e.year:
            paper.published_year = e.year
        paper.authors = paper.authors or e.authors
        paper.author_names = paper.author_names or e.author_names
        paper.url = paper.url or e.url
        paper.doi = paper.doi or e.doi
        paper.arxiv_id = paper.arxiv_id or e.arxiv_id
        paper.venue = paper.venue or e.venue
    for paper in papers.values():
        paper.code_urls = find_code_urls(paper.abstract)
    return list(papers.values())


def collection_files(corpus: Path) -> list[Path]:
    """The files `corpus` names: itself, or the collection files in the folder (sorted)."""
    if corpus.is_file():
        return [corpus]
    if not corpus.is_dir():
        raise CorpusError(f"corpus {corpus} does not exist; pass --corpus FOLDER or FILE")
    files = sorted(p for p in corpus.iterdir() if is_collection_file(p))  # (a folder named x.txt is warned about)
    if not files:
        raise CorpusError(f"no listing pages (*.txt) or collection files (.jsonl, .json, .csv, .bib) in {corpus}")
    return files


class _Reader:
    """Reads the files one by one into records; a bad record or file is a warning (`strict`: raised)."""

    def __init__(self, strict: bool, categories: Sequence[str]):
        self.strict, self.categories = strict, list(categories)
        self.entries: list[Record] = []
        self.read: list[FileRead] = []
        self.warnings: list[str] = []
        self.broken: list[CorpusError] = []

    def file(self, path: Path) -> None:
        try:
            fmt = "pages" if path.suffix.lower() == ".txt" else detect_format(path)
            done = FileRead(path.name, fmt)
            if fmt == "pages":
                page = parse_page(path)
                if not page:
                    self.warnings.append(f"{path}: no papers found on this page (skipped)")
                self.entries += page
                done.records = len(page)
            else:
                self._records(path, done)
        except (OSError, EOFError) as exc:
            self._broken(CorpusError(f"cannot read the file ({getattr(exc, 'strerror', None) or exc})", path=str(path)))
        except CorpusError as exc:
            self._broken(exc)
        else:
            self.read.append(done)

    def _broken(self, error: CorpusError) -> None:
        if self.strict:
            raise error
        self.broken.append(error)
        self.warnings.append(f"{error} (file skipped; --strict stops instead)")

    def _records(self, path: Path, done: FileRead) -> None:
        if self.categories and done.format != "arxiv":
            self.warnings.append(f"{path}: --categories filters the arXiv metadata snapshot only; this file "
                                 f"({done.label}) is read whole")
        first: Problem | None = None
        for item in read_records(path, done.format, categories=self.categories):
            if item is None:
                done.left_out += 1
            elif isinstance(item, Problem):
                first = first or item
                self._problem(path, item, done)
            else:
                self.entries.append(item)
                done.records += 1
        if done.skipped > MAX_WARNINGS_PER_FILE:
            self.warnings.append(f"{path}: {done.skipped - MAX_WARNINGS_PER_FILE:,} more bad records skipped")
        if not done.records:
            raise CorpusError("no usable records in this file"
                              + (f" ({done.skipped:,} bad; the first, line {first.line}: {first.message})" if first else "")
                              + (f"; none of its {done.left_out:,} records is in {', '.join(self.categories)}"
                                 if done.left_out else ""), path=str(path))

    def _problem(self, path: Path, problem: Problem, done: FileRead) -> None:
        if self.strict:
            raise CorpusError(problem.message, path=str(path), line=problem.line)
        done.skipped += 1
        if done.skipped <= MAX_WARNINGS_PER_FILE:
            self.warnings.append(f"{path}:{problem.line}: {problem.message} (record skipped; --strict stops instead)")


def load_corpus(corpus: Path, *, strict: bool = False, categories: Sequence[str] = (),
                also: Sequence[Path] = ()) -> CorpusReport:
    """Parse the collection `corpus` names: a folder (every *.txt listing page and every .jsonl,
    .json, .csv, .tsv, .bib file in it, also .gz) or one file, plus the folders or files in `also`
    (papers added from the page), merged by title. A bad record is skipped with a warning naming
    its file and line, a file that cannot be read at all is skipped the same way (`strict`: either
    is raised instead); `categories` filters the arXiv snapshot."""
    reader = _Reader(strict, categories)
    for path in [*collection_files(corpus), *(f for extra in also for f in collection_files(extra))]:
        reader.file(path)
    if not reader.entries:
        if corpus.is_file() and reader.broken:
            raise reader.broken[0]
        if reader.broken:
            raise CorpusError(f"no page or file of {corpus} could be read; the first problem: {reader.broken[0]}")
        raise CorpusError(f"no papers found in {corpus}")
    return CorpusReport(
        papers=merge_entries(reader.entries), entries=len(reader.entries), files=[f.name for f in reader.read],
        warnings=reader.warnings, skipped=[e.path or "" for e in reader.broken], read=reader.read,
    )
