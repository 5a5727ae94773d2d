"""Text helpers shared by chunking, answering and the eval judge."""

from __future__ import annotations

import re
from functools import lru_cache

import Stemmer

_ABBREV = (
    "e.g.", "i.e.", "et al.", "etc.", "vs.", "cf.", "Fig.", "fig.", "Eq.", "eq.", "approx.",
    "resp.", "Sec.", "No.", "Dr.", "Mr.", "Prof.", "al.",
)
_SPLIT = re.compile(r"(?<=[.!?])\s+(?=[\"'(\[]?[A-Z0-9])")
_WORD = re.compile(r"[A-Za-z0-9]+(?:[-.][A-Za-z0-9]+)*")
_NUMBER = re.compile(r"(?<![A-Za-z])[-+]?\d+(?:[.,]\d+)*(?:\s?%|x\b|×)?")

STOPWORDS = frozenset(
    """a about above after again against all also am an and any are as at be because been
    before being below between both but by can could did do does doing down during each few
    for from further had has have having he her here hers him his how i if in into is it its
    itself just me more most my no nor not now of off on once only or other our ours out over
    own same she should so some such than that the their theirs them then there these they
    this those through to too under until up very was we were what when where which while who
    whom why will with would you your yours paper papers work works method methods approach
    approaches propose proposed use used using show shows shown based new one two via also
    collection abstract abstracts study studies present presents well many much may might
    any among across within without us get gets got does do did make makes made""".split()
)


def split_sentences(text: str) -> list[str]:
    """Split an abstract into sentences, keeping abbreviations and decimals intact."""
    text = " ".join(text.split())
    if not text:
        return []
    parts = _SPLIT.split(text)
    sentences: list[str] = []
    for part in parts:
        if sentences and sentences[-1].endswith(_ABBREV):
            sentences[-1] = f"{sentences[-1]} {part}"
        else:
            sentences.append(part)
    return [s.strip() for s in sentences if s.strip()]


_STEMMER = Stemmer.Stemmer("english")


@lru_cache(maxsize=100_000)
def stem(word: str) -> str:
    """Snowball (Porter2) stem, as BM25 uses: 'rates'/'rate', 'pruned'/'pruning'."""
    w = word.lower()
    return w if any(c.isdigit() for c in w) else _STEMMER.stemWord(w)


def words(text: str) -> list[str]:
    """Lower-cased word tokens; hyphenated names kept whole (ResNet-50 -> resnet-50)."""
    return [w.lower() for w in _WORD.findall(text)]


def content_terms(text: str) -> set[str]:
    """Stemmed, stopword-free terms; hyphenated tokens also contribute their parts."""
    terms: set[str] = set()
    for w in words(text):
        for piece in {w, *re.split(r"[-.]", w)}:
            if piece and piece not in STOPWORDS and (len(piece) > 1 or piece.isdigit()):
                terms.add(stem(piece))
    return terms


def numbers(text: str) -> set[str]:
    """Numbers as written, normalised ('1,000' -> '1000', '75.3 %' -> '75.3%')."""
    found = set()
    for m in _NUMBER.finditer(text):
        n = m.group(0).replace(" ", "").replace(",", "").lstrip("+")
        if n.strip("-%x×"):
            found.add(n)
    return found


def bare_numbers(text: str) -> set[str]:
    """Numbers without unit marks, for checking that a claimed number occurs in a source."""
    return {n.rstrip("%x×").lstrip("-") for n in numbers(text)} - {""}
