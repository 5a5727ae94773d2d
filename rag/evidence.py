"""Evidence at sentence level: every sentence of every retrieved paper scored against the
question plan, by its own vector's similarity, the asked terms it contains, whether it
holds a number of the asked kind, and whether it states a result.

The answerer reads papers through the `EvidenceStore` protocol (the Retriever implements
it), so it is unit-tested on a small stub in milliseconds.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Protocol

import numpy as np

from rag.lexicon import Lexicon, own_names as paper_own_names
from rag.question import QuestionPlan, TermGroup
from rag.settings import Settings
from rag.text import content_terms, numbers
from rag.types import Hit, Paper

_RESULT = re.compile(r"\b(achiev\w*|outperform\w*|surpass\w*|improv\w*|reach\w*|obtain\w*|attain\w*|yield\w*|reduc\w*|"
                     r"speed\w*|faster|accelerat\w*|boost\w*|gain\w*|beat\w*|exceed\w*|sets?|state-of-the-art|results? in)\b", re.I)
_PROPOSAL = re.compile(r"\b(we|this paper|this work|in this paper)\b[^.]{0,40}\b(propos\w*|present\w*|introduc\w*|develop\w*|"
                       r"design\w*|describ\w*|stud\w*|investigat\w*|explor\w*|show\w*)\b|\b(is|are) (proposed|introduced|presented)\b", re.I)
_BOILERPLATE = re.compile(r"\b(code|models?|implementation|data(set)?s?)\b.{0,40}\b(available|released|public)\b|https?://|github", re.I)
# "compared with X's 76.1%", "previous best 3.5%": the number belongs to someone else
_BASELINE = re.compile(r"\b(previous(ly)?|prior|baseline|existing|compared (to|with)|than (the )?(previous|prior|existing|state))\b", re.I)


class Sentence(Protocol):
    text: str
    position: int


class EvidenceStore(Protocol):
    """What the answerer needs from the index."""

    lexicon: Lexicon

    def paper(self, paper_id: str) -> Paper: ...

    def sentences(self, paper_id: str) -> list[Sentence]: ...

    def sentence_similarities(self, qvec: np.ndarray, paper_id: str) -> np.ndarray: ...

    def embed_query(self, query: str) -> np.ndarray: ...

    def idf(self, term: str) -> float: ...

    def paper_terms(self, paper_id: str) -> frozenset[str]: ...

    def paper_key(self, paper_id: str, *, cased: bool = False) -> str: ...

    def corpus_mentions(self, term: str) -> int: ...


@dataclass
class ScoredSentence:
    text: str
    position: int
    score: float
    similarity: float
    asked_number: bool  # holds a number of the kind the question asks for
    result: bool  # states a result ("achieves", "outperforms", with a number)


@dataclass
class PaperEvidence:
    """One retrieved paper with its sentences scored, best first."""

    hit: Hit
    name: str  # how the answer introduces the paper
    named: bool  # the question names this paper
    sentences: list[ScoredSentence]

    @property
    def paper_id(self) -> str:
        return self.hit.paper_id

    @property
    def best(self) -> float:
        return self.sentences[0].score if self.sentences else 0.0


def own_names(paper: Paper, lexicon: Lexicon) -> list[str]:
    """The names `paper` gives itself, and its title's head (`rag.lexicon.own_names`)."""
    return paper_own_names(paper.paper_id, paper.title, lexicon.names)


@lru_cache(maxsize=50_000)
def _features(text: str) -> tuple[frozenset[str], bool]:
    """A sentence's terms and whether it holds a number (computed once per sentence)."""
    return frozenset(content_terms(text)), bool(numbers(text))


def display_name(paper: Paper, lexicon: Lexicon) -> str:
    """The paper's name as it spells it ("ZeroQ", "Dense Convolutional Network"),
    else its title, shortened at a colon."""
    # a lower-case long form ("large kernel attention") matches questions but is no label
    names = [n for n in lexicon.names.get(paper.paper_id, []) if not n.islower()]
    for short in names:  # "Prior-Data Fitted Networks (PFN)": the long form with its acronym
        longs = [n for n in names if n.lower() in lexicon.acronyms.get(short.lower(), set())]
        if longs and len(longs[0]) + len(short) <= 60 and not (":" in paper.title and short in paper.title.split(":")[0]):
            return f"{longs[0]} ({short})"
    if names:
        in_title = [n for n in names if n.lower() in paper.title.lower()]
        short = [n for n in (in_title or names) if len(n) <= 40]
        if short:
            return short[0]
    head = paper.title.split(":")[0].strip()
    return head if len(head) <= 90 else " ".join(head.split()[:10]) + " …"


def _share(groups: list[TermGroup], terms: frozenset[str]) -> float:
    total = sum(g.weight for g in groups)
    if not total:
        return 0.0
    return sum(g.weight for g in groups if g.term in terms or any(a <= terms for a in g.alternatives)) / total


def score_paper(plan: QuestionPlan, hit: Hit, store: EvidenceStore, qvec: np.ndarray, settings: Settings) -> PaperEvidence:
    """Score each sentence of one paper for the plan."""
    paper = hit.paper
    title_terms = content_terms(paper.title)
    named = bool(hit.why and hit.why.name)
    # what the question asks about the paper: its terms that the title does not already
    # account for (a list question asks for the topic itself, so it keeps them all)
    asked = plan.terms if plan.is_list else [g for g in plan.terms if g.term not in title_terms] or plan.terms
    sims = store.sentence_similarities(qvec, paper.paper_id)
    scored = []
    for sentence, sim in zip(store.sentences(paper.paper_id), sims):
        text = sentence.text
        terms, has_number = _features(text)
        # "how much does it shrink YOLOv4?" names no attribute: then any number is asked for
        asked_number = has_number and (any(a.evidence.search(text) for a in plan.attributes)
                                       or (plan.numeric and not plan.attributes))
        result = has_number and bool(_RESULT.search(text))
        score = settings.evidence_similarity * float(sim) + settings.evidence_terms * _share(asked, terms)
        if plan.intent == "yesno":  # "did X improve over Y?": the sentence stating the result
            score += settings.evidence_result * result
        if plan.numeric:
            score += settings.evidence_attribute * asked_number + settings.evidence_result * result
            if has_number and _BASELINE.search(text) and not result:
                score -= settings.evidence_result
        if plan.is_list and _PROPOSAL.search(text):
            score += settings.evidence_proposal
        if _BOILERPLATE.search(text) and not re.search(r"\b(code|github|available|release)", plan.corrected, re.I):
            score -= settings.evidence_boilerplate
        scored.append(ScoredSentence(text, sentence.position, score, float(sim), asked_number, result))
    scored.sort(key=lambda s: -s.score)
    return PaperEvidence(hit=hit, name=display_name(paper, store.lexicon), named=named, sentences=scored)


def gather(plan: QuestionPlan, hits: list[Hit], store: EvidenceStore, settings: Settings) -> list[PaperEvidence]:
    qvec = store.embed_query(plan.corrected)
    return [score_paper(plan, h, store, qvec, settings) for h in hits]
