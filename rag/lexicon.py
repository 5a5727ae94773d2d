"""What the collection itself knows about its words, summed from per-paper facts that ingest
keeps in the index (`rag.facts`; built here for an index without them):
document frequencies, the corpus vocabulary (for spelling correction), acronyms with
their long forms as the abstracts define them ("neural architecture search (NAS)"), each
paper's own name ("ZeroQ", "Dense Convolutional Network (DenseNet)"), and the curated
synonym table. Question analysis, retrieval and the answerer all read it.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from rag.text import STOPWORDS, content_terms, name_key, split_sentences, stem

_STOP_STEMS = frozenset(stem(w) for w in STOPWORDS)

SYNONYMS_PATH = Path(__file__).parent / "assets" / "synonyms.json"

# "long short-term memory (LSTM)": an acronym in brackets after its long form
_ACRONYM = re.compile(r"\(([A-Z][A-Za-z0-9\-]{1,11}?)s?\)")
_BEFORE = re.compile(r"[A-Za-z][\w\-]*")
# "we propose DeepCache", "a method called Once-for-All", "dubbed X"
_NAMED = re.compile(
    r"\b(?:called|named|dubbed|termed|coined)(?:\s+as)?\s+[`'\"\u201c]*([A-Z][\w\-.]*(?:\s+[A-Z0-9][\w\-.]*){0,3})"
    r"|\b(?:we|We)\s+(?:propose|present|introduce|develop|design|discover)\s+(?:a |an |the )?(?:new |novel |simple )?"
    r"([A-Z][a-z]*[A-Z0-9][\w\-.]*(?:[- ][A-Z0-9][\w\-.]*)?)"
)
_PROPOSING = re.compile(r"\b(?:we|We|this paper|This paper|this work|This work)\b[^.]{0,40}?\b(?:propose|present|introduce|develop|design|call|name|dub|term|discover|coin)[sd]?\b")
# between the verb and the thing it proposes: adjectives, not a clause ("a framework that
# leverages Reinforcement Learning (RL)" proposes the framework, not RL)
_GAP_RESET = re.compile(r"\b(?:namely|called|named|termed|dubbed|coined|i\.e\.)")
_GAP_BREAK = re.compile(r"\b(?:that|which|who|whose|leverag\w*|us(?:e|es|ing)|exploit\w*|with|by|from|to|for|of|on|in|based)\b", re.I)
_PASSIVE_PROPOSED = re.compile(r"\s*(?:is|are|was|were)\s+(?:\w+ly\s+)?(?:proposed|introduced|presented|developed)\b")
_PROPOSED_REACH = 90  # characters after the verb in which the proposed thing is named
_DISTINCT = re.compile(r"[A-Z].*[A-Z0-9]|[a-z][A-Z]|\d")  # CamelCase, caps or digits: a name
MAX_NAME_DF = 2  # a name that more papers than this give themselves is not distinctive
MAX_NAME_SHARE = 0.05  # nor one that more than this share of the papers mention


def _initials_match(acronym: str, words: list[str]) -> bool:
    """Whether the acronym's letters appear, in order, among the words' starts and letters
    (Schwartz & Hearst, simplified): 'NAS' ~ 'neural architecture search'."""
    letters = [c.lower() for c in acronym if c.isalpha()]
    if not letters or not words or words[0][0].lower() != letters[0]:
        return False
    text = " ".join(w.lower() for w in words)
    pos = 0
    for c in letters:
        pos = text.find(c, pos)
        if pos < 0:
            return False
        pos += 1
    return True


def find_acronyms(text: str) -> list[tuple[str, str]]:
    """(acronym, long form) pairs defined in `text`: "long short-term memory (LSTM)"."""
    found = []
    for m in _ACRONYM.finditer(text):
        acronym = m.group(1)
        if sum(c.isupper() for c in acronym) < 2:
            continue
        words = _BEFORE.findall(text[max(0, m.start() - 120) : m.start()])
        n_letters = sum(c.isalpha() for c in acronym)
        for size in range(1, min(len(words), n_letters + 2) + 1):
            cand = words[-size:]
            if _initials_match(acronym, cand):
                found.append((acronym, " ".join(cand)))
                break
    return found


def paper_names(title: str, abstract: str) -> list[str]:
    """The names a paper gives itself: the title's head before a colon ("DeepCache: ..."),
    acronyms the title or the proposing sentence defines, and "we propose X" / "called X"."""
    names: list[str] = []
    head, colon, _ = title.partition(":")
    if colon and 1 <= len(head.split()) <= 5:
        names.append(head.strip())
    for acronym, long_form in find_acronyms(title):
        names += [acronym, long_form]
    for sentence in split_sentences(abstract):
        for m in _NAMED.finditer(sentence):
            name = (m.group(1) or m.group(2) or "").rstrip(".,;:-")
            if name and _DISTINCT.search(name) and len(name) >= 3:
                names.append(name)
        # "we introduce the Dense Convolutional Network (DenseNet)": an acronym defined
        # right after the proposing verb is the paper's own; one defined later is not
        for verb in _PROPOSING.finditer(sentence):
            after = sentence[verb.end() : verb.end() + _PROPOSED_REACH]
            for acronym, long_form in find_acronyms(after):
                # only the verb's object: "introduce the Dense Convolutional Network (DenseNet)",
                # not "introduce a framework that leverages Reinforcement Learning (RL)"
                if not _GAP_BREAK.search(_GAP_RESET.split(after[: after.find(long_form)])[-1]):
                    names += [acronym, long_form]
        # "a flexible parallel neural network (FPNN) is proposed", "the proposed ... (FPNN)"
        for acronym, long_form in find_acronyms(sentence):
            at = sentence.find(f"({acronym}")
            if _PASSIVE_PROPOSED.match(sentence[sentence.find(")", at) + 1:]) or \
                    re.search(r"\b(?:proposed|our)\s+(?:\w+\s+){0,2}$", sentence[:max(0, sentence.find(long_form))]):
                names += [acronym, long_form]
    # the acronym the abstract gives one of these names: "Once-for-All" -> "OFA"
    own = {name_key(n) for n in names}
    names += [acronym for acronym, long_form in find_acronyms(abstract) if name_key(long_form) in own]
    return list(dict.fromkeys(n for n in names if n))


def own_names(paper_id: str, title: str, names: Mapping[str, list[str]]) -> list[str]:
    """The names a paper gives itself (`names`: `Lexicon.names`), and its title's head
    ("MEAL V2: Boosting ..." is the MEAL V2 paper, not a ResNet-50 paper)."""
    return [*names.get(paper_id, []), title.split(":")[0]]


@lru_cache(maxsize=1)
def synonym_groups() -> tuple[tuple[str, ...], ...]:
    """The curated synonym table (rag/assets/synonyms.json), lower-cased."""
    data = json.loads(SYNONYMS_PATH.read_text(encoding="utf-8"))
    return tuple(tuple(p.lower() for p in group) for group in data["groups"])


@dataclass
class Lexicon:
    """Corpus statistics and aliases: `Lexicon.build(papers)`, or read from the index (`rag.facts`)."""

    n_docs: int
    df: dict[str, int]  # stemmed content term -> papers containing it
    vocab: dict[str, int]  # lower-cased surface word -> papers containing it
    acronyms: dict[str, set[str]] = field(default_factory=dict)  # "nas" -> {"neural architecture search"}
    long_forms: dict[str, str] = field(default_factory=dict)  # " neural architecture search " -> "NAS"
    names: dict[str, list[str]] = field(default_factory=dict)  # paper_id -> its own names

    @classmethod
    def build(cls, papers: list[tuple[str, str, str]]) -> Lexicon:
        """From (paper_id, title, abstract) triples: the sum of each paper's `rag.facts.PaperFacts`
        (which an index keeps, so that opening it need not run this)."""
        from rag.facts import PaperFacts, lexicon_from

        return lexicon_from([PaperFacts.of(*p) for p in papers])

    # -- statistics ----------------------------------------------------------------------
    def idf(self, term: str) -> float:
        """BM25-style idf of a stemmed term; unseen terms get the highest value."""
        c = self.df.get(term, 0)
        return math.log(1 + (self.n_docs - c + 0.5) / (c + 0.5))

    def known(self, word: str) -> bool:
        w = word.lower()
        return w in self.vocab or stem(w) in self.df

    # -- query understanding -------------------------------------------------------------
    def correct(self, word: str) -> str | None:
        """The corpus word a misspelt question word stands for ('knowlege' -> 'knowledge',
        'whcih' -> 'which'), or None when the word is known or nothing is close enough:
        one edit (a swap of neighbours counts as one) up to 7 letters, two beyond."""
        from rapidfuzz import process
        from rapidfuzz.distance import OSA

        w = word.lower()
        if len(w) < 4 or not w.isalpha() or self.known(w) or w in STOPWORDS or stem(w) in _STOP_STEMS:
            return None
        limit = 1 if len(w) <= 7 else 2
        choices = [v for v in self.vocab if abs(len(v) - len(w)) <= limit and v[0] == w[0]]
        best = process.extractOne(w, choices, scorer=OSA.distance, score_cutoff=limit)
        return best[0] if best else None

    def aliases(self, phrase: str) -> set[str]:
        """Other ways the collection writes `phrase`: an acronym's long forms, a long
        form's acronym, and the curated synonyms."""
        p = phrase.lower().strip()
        out: set[str] = set(self.acronyms.get(p, set()))
        if p.endswith("s") and p[:-1] in self.acronyms:
            out |= self.acronyms[p[:-1]]
        acr = self.long_forms.get(name_key(p))
        if acr:
            out.add(acr)
        for group in synonym_groups():
            if p in group:
                out.update(g for g in group if g != p)
        out.discard(p)
        return out

    def synonyms_in(self, text: str) -> set[str]:
        """Synonyms of every curated phrase that `text` contains (as whole words)."""
        key = name_key(text)
        out: set[str] = set()
        for group in synonym_groups():
            if any(name_key(p) in key for p in group):
                out.update(group)
        return out
