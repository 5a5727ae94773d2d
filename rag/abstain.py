"""Abstention as a decision on named features, with thresholds from settings.

The answer abstains, with a specific reason, when
- nothing relevant was retrieved;
- the question names something (a model, dataset, benchmark) that no paper in the
  collection mentions, with aliases, plurals and a one-letter typo allowed;
- the question names a paper of the collection and asks about something (a dataset, a
  quantity) that this paper's abstract does not mention or report;
- the names of the question never occur together in one retrieved abstract;
- the best evidence covers too little of the question, by terms and by meaning.
"""

from __future__ import annotations

from dataclasses import dataclass

from rag.evidence import EvidenceStore, PaperEvidence, own_names
from rag.question import METRIC_UNITS, UNITS, Entity, QuestionPlan
from rag.settings import Settings
from rag.text import mentions, name_key


@dataclass(frozen=True)
class Decision:
    abstain: bool
    reason: str = ""
    focus: str | None = None  # the paper the question turned out to be about


ANSWER = Decision(False)
_COVERAGE_SLACK = 0.05  # an alternative paper must cover the question about as well as the first


def _in_paper(entity: Entity, paper_id: str, store: EvidenceStore) -> bool:
    cased = entity.text.isupper()
    if mentions(store.paper_key(paper_id, cased=cased), entity.text, cased=cased):
        return True
    key = store.paper_key(paper_id)
    return any(mentions(key, alias) for alias in store.lexicon.aliases(entity.text))


def known_to_collection(entity: Entity, store: EvidenceStore) -> bool:
    """Whether any paper mentions the entity (or an alias, or a near spelling of it)."""
    if store.corpus_mentions(entity.text):
        return True
    if any(store.corpus_mentions(a) for a in store.lexicon.aliases(entity.text)):
        return True
    unit = METRIC_UNITS.get(entity.text.lower()) if entity.kind == "metric" else None
    if unit and store.corpus_mentions(unit):
        return True
    word = entity.text.lower()
    return word.isalpha() and len(word) >= 6 and store.lexicon.correct(word) is not None


def _owns(ev: PaperEvidence, entity: Entity, store: EvidenceStore) -> bool:
    """Whether the entity is one of the paper's own names (or its title's head)."""
    return any(name_key(entity.text) in name_key(n) for n in own_names(ev.hit.paper, store.lexicon))


def _names_entity(ev: PaperEvidence, entity: Entity) -> bool:
    return bool(ev.hit.why and ev.hit.why.name and name_key(entity.text) in name_key(ev.hit.why.name))


def decide(plan: QuestionPlan, evidence: list[PaperEvidence], store: EvidenceStore, settings: Settings) -> Decision:
    if not evidence:
        return Decision(True, "No paper in the collection is relevant enough.")
    hard = plan.hard_entities
    unknown = [e.text for e in plan.entities if e.checked and not known_to_collection(e, store)]
    if unknown:
        return Decision(True, f"No paper in the collection mentions {', '.join(unknown)}.")
    for e in plan.entities:
        if e.paper and not any(_names_entity(ev, e) or _owns(ev, e, store) for ev in evidence):
            return Decision(True, f"The collection has no paper that introduces {e.text}.")

    subjects = [ev for ev in evidence if ev.named]
    if subjects and plan.intent not in ("list", "best", "compare"):
        others = [e for e in hard if not any(_names_entity(ev, e) for ev in subjects)]
        lacking = [e.text for e in others if not any(_in_paper(e, ev.paper_id, store) for ev in subjects)]
        name = subjects[0].name
        if lacking:
            # "the densenet with multi-dilated convolutions for music": a paper that
            # mentions the name and everything else is the one described
            subject_names = [ev.hit.why.name for ev in subjects if ev.hit.why and ev.hit.why.name]
            whole = [ev for ev in evidence[: settings.top_k] if not ev.named
                     and all(_in_paper(e, ev.paper_id, store) for e in hard)
                     and any(mentions(store.paper_key(ev.paper_id), n) for n in subject_names)]
            if whole:
                return Decision(False, focus=whole[0].paper_id)
            return Decision(True, f"The {name} abstract does not mention {', '.join(lacking)}.")
        problems = [_reports(plan, ev) for ev in subjects]
        if all(problems):
            return Decision(True, f"The {name} abstract {problems[0]}.")
    elif len(hard) >= 2 and plan.intent not in ("compare", "list", "best"):
        best = max(evidence, key=lambda ev: sum(_in_paper(e, ev.paper_id, store) for e in hard))
        lacking = [e.text for e in hard if not _in_paper(e, best.paper_id, store)]
        if len(lacking) > (1 if len(hard) >= 3 else 0):
            together = " together with ".join(e.text for e in hard)
            return Decision(True, f"No retrieved abstract mentions {together}.")

    best_cov = max(ev.hit.coverage for ev in evidence)
    best_sim = max(ev.hit.dense for ev in evidence)
    if best_cov < settings.abstain_min_coverage and best_sim < settings.abstain_min_similarity and not subjects:
        return Decision(True, "The closest abstracts do not cover what the question asks.")
    return ANSWER


def _reports(plan: QuestionPlan, ev: PaperEvidence) -> str | None:
    """What the paper's abstract lacks for a numeric question: a number of the asked kind,
    in the asked unit, on the asked hardware. None when it has them."""
    if not plan.numeric or plan.attribute is None or plan.attribute.name == "count":
        return None
    with_number = [s.text for s in ev.sentences if s.asked_number]
    if not with_number:
        return f"reports no {plan.attribute.name} figure"
    for unit in plan.units:  # "latency in milliseconds": a 6.1x speed-up does not say
        if not any(UNITS[unit].search(t) for t in with_number):
            return f"reports nothing in {unit}"
    if plan.setting and not any(any(h.lower() in t.lower() for h in plan.setting) for t in with_number):
        return f"reports no {plan.attribute.name} figure on {' '.join(plan.setting)}"
    return None


def check_chosen(plan: QuestionPlan, chosen: list[PaperEvidence], ranked: list[PaperEvidence],
                 store: EvidenceStore, settings: Settings) -> tuple[Decision, list[PaperEvidence]]:
    """A single-answer question's paper must mention the datasets and names the question
    gives ("... on ImageNet") and, for a numeric question, hold a number of the asked kind
    (in the asked unit, on the asked hardware): else the most relevant paper that does, if
    it is relevant enough and covers the question as well; else abstain, saying what the
    closest paper lacks."""
    if not chosen or plan.intent not in ("lookup", "which", "yesno"):
        return ANSWER, chosen
    hard = plan.hard_entities

    def lacks(ev: PaperEvidence) -> str | None:
        missing = [e.text for e in hard if not _in_paper(e, ev.paper_id, store)]
        return f"does not mention {', '.join(missing)}" if missing else _reports(plan, ev)

    first = chosen[0]
    problem = lacks(first)
    if problem is None:
        return ANSWER, chosen
    if not first.named:
        floor = settings.abstain_alternative * (first.hit.score + first.best)
        for ev in ranked:
            if (ev.sentences and ev.hit.score + ev.best >= floor and lacks(ev) is None
                    and ev.hit.coverage >= first.hit.coverage - _COVERAGE_SLACK):
                return ANSWER, [ev]
    return Decision(True, f"The {first.name} abstract {problem}."), []
