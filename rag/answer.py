"""The extractive answerer (offline default): question plan -> sentence evidence ->
abstention decision -> composition by intent. Every quoted sentence is a sentence of a
cited abstract, verbatim; the only other words are the papers' names.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol

from rag.abstain import check_chosen, decide
from rag.compose import Composed, check_traceable, compose_compare, compose_list, compose_single
from rag.evidence import EvidenceStore, PaperEvidence, gather
from rag.prompts import ABSTAIN_PHRASE
from rag.question import QuestionPlan
from rag.settings import Settings
from rag.types import Answer, Backend, Hit


class Answerer(Protocol):
    """A backend: yields text deltas (if it streams), then the final Answer."""

    backend: Backend

    def stream(self, plan: QuestionPlan, hits: list[Hit]) -> Iterator[str | Answer]: ...


def abstain(question: str, hits: list[Hit], reason: str, backend: Backend = "extractive") -> Answer:
    closest = "; ".join(h.paper.title for h in hits[:3])
    text = f"{ABSTAIN_PHRASE} {reason}"
    if closest:
        text += f" Closest papers: {closest}."
    return Answer(question=question, text=text, abstained=True, backend=backend, hits=hits)


def _relevance(ev: PaperEvidence) -> float:
    """How strongly a paper answers: its retrieval score plus its best sentence."""
    return ev.hit.score + ev.best


def single_papers(plan: QuestionPlan, evidence: list[PaperEvidence], settings: Settings,
                  focus: str | None = None) -> list[PaperEvidence]:
    """The paper(s) a single-answer question is about: the one the decision settled on,
    else the one it names, else the most relevant, plus a second only when it is nearly
    as relevant."""
    if focus:
        return [ev for ev in evidence if ev.paper_id == focus][:1]
    named = [ev for ev in evidence if ev.named and ev.sentences]
    if named:
        return named[:1]
    ranked = sorted((ev for ev in evidence if ev.sentences), key=_relevance, reverse=True)
    if not ranked:
        return []
    chosen = ranked[:1]
    if len(ranked) > 1 and _relevance(ranked[1]) >= settings.compose_second_paper * _relevance(ranked[0]):
        chosen.append(ranked[1])
    return chosen


def list_papers(plan: QuestionPlan, evidence: list[PaperEvidence], settings: Settings) -> list[PaperEvidence]:
    """Every retrieved paper whose own text has the asked property (it covers the
    question's terms, or one of its sentences says the same thing), by relevance."""
    candidates = [ev for ev in evidence if ev.sentences]
    if not candidates:
        return []
    best = max(ev.hit.score for ev in candidates)
    keep = [
        ev for ev in candidates
        if (ev.hit.coverage >= settings.list_min_coverage or ev.sentences[0].similarity >= settings.list_min_similarity)
        and ev.hit.score >= settings.list_relative_cut * best
    ]
    return sorted(keep or candidates[:1], key=lambda ev: -ev.hit.score)


def extractive_answer(plan: QuestionPlan, hits: list[Hit], store: EvidenceStore, settings: Settings) -> Answer:
    """Compose an answer from abstract sentences, or abstain with a specific reason."""
    question = plan.question
    if not hits:
        return abstain(question, hits, "No paper in the collection is relevant enough.")
    evidence = gather(plan, hits, store, settings)
    decision = decide(plan, evidence, store, settings)
    if decision.abstain:
        return abstain(question, hits, decision.reason)
    composed: Composed
    if plan.intent == "compare" and len(plan.items) >= 2:
        composed = compose_compare(plan, evidence, store, settings)
    elif plan.is_list:
        chosen = list_papers(plan, evidence, settings)
        composed = compose_list(plan, chosen, len(chosen), settings)
    else:
        chosen = single_papers(plan, evidence, settings, decision.focus)
        ranked = sorted(evidence, key=_relevance, reverse=True)
        decision, chosen = check_chosen(plan, chosen, ranked, store, settings)
        if decision.abstain:
            return abstain(question, hits, decision.reason)
        composed = compose_single(plan, chosen, settings)
    if not composed.citations:  # never an empty answer that does not abstain
        return abstain(question, hits, "No retrieved abstract has a sentence that answers it.")
    problems = check_traceable(composed.text, composed.citations, store)
    if problems:  # a lead-in that is not in its source: drop the lead-ins, keep the quotes
        for label in problems:
            composed.text = composed.text.replace(f"**{label}**: ", "")
    return Answer(question=question, text=composed.text, abstained=False, backend="extractive",
                  citations=composed.citations, hits=hits)


class ExtractiveAnswerer:
    backend: Backend = "extractive"

    def __init__(self, store: EvidenceStore, settings: Settings):
        self.store = store
        self.settings = settings

    def stream(self, plan: QuestionPlan, hits: list[Hit]) -> Iterator[str | Answer]:
        yield extractive_answer(plan, hits, self.store, self.settings)
