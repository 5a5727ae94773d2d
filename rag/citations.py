"""Citations are data: parse `[n]` markers with one function, and drop the ones that
point nowhere."""

from __future__ import annotations

import re
from dataclasses import dataclass

# [3]  [1, 2]  [1,2,5]  [2-4]  [2–4]; not [a], not markdown links [1](http://...)
_MARKER = re.compile(r"\[(\d+(?:\s*[-–,]\s*\d+)*)\](?!\()")


@dataclass(frozen=True)
class Marker:
    start: int
    end: int
    numbers: tuple[int, ...]


def parse_markers(text: str) -> list[Marker]:
    """Every citation marker in `text`, with the source numbers it names, in order."""
    markers = []
    for m in _MARKER.finditer(text):
        nums: list[int] = []
        for part in re.split(r"\s*,\s*", m.group(1)):
            if re.search(r"[-–]", part):
                lo, hi = (int(x) for x in re.split(r"\s*[-–]\s*", part))
                if hi < lo or hi - lo > 50:
                    nums.extend([lo, hi])
                else:
                    nums.extend(range(lo, hi + 1))
            else:
                nums.append(int(part))
        markers.append(Marker(m.start(), m.end(), tuple(dict.fromkeys(nums))))
    return markers


def cited_numbers(text: str) -> list[int]:
    """Distinct source numbers cited in `text`, in order of first appearance."""
    return list(dict.fromkeys(n for m in parse_markers(text) for n in m.numbers))


def drop_invalid(text: str, n_sources: int) -> tuple[str, list[int]]:
    """Remove citations to numbers outside 1..n_sources; return (text, dropped numbers)."""
    dropped: list[int] = []
    out: list[str] = []
    last = 0
    for m in parse_markers(text):
        valid = [n for n in m.numbers if 1 <= n <= n_sources]
        dropped.extend(n for n in m.numbers if n not in valid)
        out.append(text[last : m.start])
        if valid:
            out.append("[" + ", ".join(str(n) for n in valid) + "]")
        last = m.end
    out.append(text[last:])
    cleaned = re.sub(r"[ \t]+([.,;:])", r"\1", "".join(out)) if dropped else text
    return cleaned, list(dict.fromkeys(dropped))


def sentences_with_citations(text: str) -> list[tuple[str, list[int]]]:
    """Split an answer into sentences, each with the source numbers cited in it."""
    from rag.text import split_sentences

    result = []
    for paragraph in text.split("\n"):
        for sentence in split_sentences(paragraph):
            nums = [n for m in parse_markers(sentence) for n in m.numbers]
            bare = re.sub(r"\s+([.,;:!?])", r"\1", _MARKER.sub("", sentence)).strip()
            if bare:
                result.append((bare, list(dict.fromkeys(nums))))
    return result


def supporting_sentences(abstract: str, quote: str) -> list[tuple[str, bool]]:
    """The abstract as sentences, each flagged when it is part of the citation's quote
    (what the page highlights). Quotes are whole abstract sentences, so this is exact."""
    from rag.text import split_sentences

    quote_norm = " ".join(quote.split())
    return [(s, bool(quote_norm) and " ".join(s.split()) in quote_norm) for s in split_sentences(abstract)]
