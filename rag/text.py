"""Text helpers shared by the whole library: the one sentence splitter, the one tokeniser
(bm25s's own, so BM25 and the answerer see the same terms), the one name matcher, numbers.
"""

from __future__ import annotations

import re
from functools import lru_cache

import Stemmer

# abbreviations that end with a period but do not end a sentence ("et al." but not
# "retrieval.": each must be a whole word)
_ABBREV = re.compile(
    r"(?:^|[\s(])(?:e\.g|i\.e|et al|etc|vs|cf|Fig|fig|Figs|Eq|eq|approx|resp|Sec|No|Dr|Mr|Prof|al)\.$"
)
_SPLIT = re.compile(r"(?<=[.!?])\s+(?=[\"'(\[]?[A-Z0-9])")
_WORD = re.compile(r"[A-Za-z0-9]+(?:[-.][A-Za-z0-9]+)*")
_NUMBER = re.compile(r"(?<![A-Za-z])[-+]?\d+(?:[.,]\d+)*(?:\s?%|x\b|×)?")
#: bm25s's default token pattern: words of two or more word characters
TOKEN_PATTERN = r"(?u)\b\w\w+\b"
_TOKEN = re.compile(TOKEN_PATTERN)
_NAME_PIECE = re.compile(r"[A-Za-z]+|\d+(?:\.\d+)?")

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
    any among across within without us get gets got does do did make makes made report
    reports reported result results give gives achieve achieves reach reaches list name
    names exist exists there describe describes""".split()
)


# ESC sequences (CSI, OSC up to BEL/ST, two-byte) and every other C0/C1 control but tab and newline
_CONTROL = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)?|[@-Z\\-_])?|[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def strip_controls(text: str, *, keep: frozenset[str] = frozenset()) -> str:
    """`text` without terminal control sequences (a corpus must not clear, recolour or retitle a
    terminal, or write its clipboard with OSC 52); sequences in `keep` stay."""
    return _CONTROL.sub(lambda m: m.group(0) if m.group(0) in keep else "", text)


def split_sentences(text: str) -> list[str]:
    """Split an abstract into sentences, keeping abbreviations and decimals intact."""
    text = " ".join(text.split())
    if not text:
        return []
    sentences: list[str] = []
    for part in _SPLIT.split(text):
        if sentences and _ABBREV.search(sentences[-1]):
            sentences[-1] = f"{sentences[-1]} {part}"
        else:
            sentences.append(part)
    return [s.strip() for s in sentences if s.strip()]


_STEMMER = Stemmer.Stemmer("english")


def stemmer() -> Stemmer.Stemmer:
    """The stemmer BM25 indexes with (pass it to bm25s / llama-index's BM25Retriever)."""
    return _STEMMER


@lru_cache(maxsize=200_000)
def stem(word: str) -> str:
    """Snowball (Porter2) stem, as BM25 uses: 'rates'/'rate', 'pruned'/'pruning'."""
    w = word.lower()
    return w if any(c.isdigit() for c in w) else _STEMMER.stemWord(w)


def tokens(text: str) -> list[str]:
    """bm25s's tokenisation (lower-cased words of 2+ characters), stemmed: the terms BM25
    scores. Stopwords are not removed here; `content_terms` removes them."""
    return [stem(t) for t in _TOKEN.findall(text.lower())]


_STOP_STEMS = frozenset(stem(w) for w in STOPWORDS)


def content_terms(text: str) -> set[str]:
    """Stemmed, stopword-free terms of `text` (the tokeniser BM25 uses)."""
    return {t for t in tokens(text) if t not in _STOP_STEMS and t not in STOPWORDS}


def words(text: str) -> list[str]:
    """Lower-cased word tokens; hyphenated names kept whole (ResNet-50 -> resnet-50)."""
    return [w.lower() for w in _WORD.findall(text)]


@lru_cache(maxsize=50_000)
def name_key(text: str, *, cased: bool = False) -> str:
    """A name as space-delimited pieces, letters and digits apart, so that ResNet-50,
    ResNet50 and 'resnet 50' agree: ' resnet 50 '. Matching keys is a word-boundary match."""
    text = re.sub(r"['’]s\b", "", text)  # "Alzheimer's" is not "Alzheimer s"
    pieces = _NAME_PIECE.findall(text if cased else text.lower())
    return f" {' '.join(pieces)} " if pieces else ""


def mentions(haystack_key: str, term: str, *, cased: bool = False) -> bool:
    """Whether `term` occurs as whole words in a text whose `name_key` is `haystack_key`;
    a plural in the term ('CNNs') also matches the singular."""
    key = name_key(term, cased=cased)
    if not key.strip():
        return False
    if key in haystack_key or key[:-1] + "s " in haystack_key:  # "MAPE" in "MAPEs of 2.47%"
        return True
    return key.endswith("s ") and len(key) > 4 and key[:-2] + " " in haystack_key


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
