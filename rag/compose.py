"""Composition by intent. Every sentence the answer quotes is an abstract sentence,
verbatim; the answer's own words are only the papers' names (from their titles or
abstracts) and a count line, and `check_traceable` verifies that on every answer.

- lookup / which / yes-no: the paper asked about, introduced by its name, with the
  sentence(s) holding the asked numbers first;
- list: one line per paper, its name and the sentence that says what it does for the
  asked topic, by relevance, with "N papers match; showing M" when there are more;
- compare: one paragraph per compared item, or "The collection has no paper on X."
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from rag.evidence import EvidenceStore, PaperEvidence, ScoredSentence, own_names
from rag.question import NAME_PATTERN as _NAME
from rag.question import QuestionPlan
from rag.settings import Settings
from rag.text import content_terms, mentions, name_key, numbers
from rag.types import Citation

_BOLD = re.compile(r"\*\*(.+?)\*\*")
_ITEM_COVERAGE = 0.6  # share (idf-weighted) of a described item's terms its paper must contain


@dataclass
class Composed:
    text: str
    citations: list[Citation]


def with_marker(sentence: str, n: int) -> str:
    """'It works.' -> 'It works [n].' (the marker inside the sentence it supports)."""
    s = sentence.rstrip()
    if s and s[-1] in ".!?":
        return f"{s[:-1]} [{n}]{s[-1]}"
    return f"{s} [{n}]"


def pick_sentences(plan: QuestionPlan, ev: PaperEvidence, settings: Settings, *, limit: int) -> list[ScoredSentence]:
    """The best sentence(s): for a numeric question the best one holding an asked number
    leads; a second sentence is added when it scores close to the first."""
    if not ev.sentences:
        return []
    ranked = list(ev.sentences)
    if plan.numeric:
        with_numbers = [s for s in ranked if s.asked_number]
        if with_numbers and with_numbers[0].score >= settings.compose_number_lead * ranked[0].score:
            ranked.remove(with_numbers[0])
            ranked.insert(0, with_numbers[0])
    picked = [ranked[0]]
    for s in ranked[1:limit]:
        if s.score >= settings.compose_second_sentence * picked[0].score:
            picked.append(s)
    return picked


def _paragraph(ev: PaperEvidence, picked: list[ScoredSentence], n: int, *, keep_order: bool) -> str:
    order = sorted(picked, key=lambda s: s.position) if keep_order else picked
    body = " ".join(with_marker(s.text, n) for s in order)
    return f"**{ev.name}**: {body}"


def _citation(ev: PaperEvidence, picked: list[ScoredSentence], n: int) -> Citation:
    quote = " ".join(s.text for s in sorted(picked, key=lambda s: s.position))
    return Citation(n=n, paper_id=ev.paper_id, title=ev.hit.paper.title, quote=quote)


def compose_single(plan: QuestionPlan, chosen: list[PaperEvidence], settings: Settings) -> Composed:
    paragraphs, citations = [], []
    for n, ev in enumerate(chosen, start=1):
        picked = pick_sentences(plan, ev, settings, limit=2)
        if not picked:
            continue
        paragraphs.append(_paragraph(ev, picked, n, keep_order=not plan.numeric))
        citations.append(_citation(ev, picked, n))
    return Composed("\n\n".join(paragraphs), citations)


def compose_list(plan: QuestionPlan, chosen: list[PaperEvidence], total: int, settings: Settings) -> Composed:
    lines, citations = [], []
    for n, ev in enumerate(chosen[: settings.list_max_papers], start=1):
        picked = pick_sentences(plan, ev, settings, limit=1)
        if not picked:
            continue
        lines.append("- " + _paragraph(ev, picked, n, keep_order=True))
        citations.append(_citation(ev, picked, n))
    head = f"{total} papers match; showing {len(lines)}.\n\n" if total > len(lines) else ""
    return Composed(head + "\n".join(lines), citations)


def _item_coverage(item: str, ev: PaperEvidence, store: EvidenceStore) -> float:
    terms = content_terms(item)
    total = sum(store.idf(t) for t in terms)
    return sum(store.idf(t) for t in terms & store.paper_terms(ev.paper_id)) / total if total else 0.0


def match_item(item: str, evidence: list[PaperEvidence], store: EvidenceStore) -> PaperEvidence | None:
    """The paper a compared item stands for. A named item ("DenseNet") is a paper whose
    own name or title contains it, or whose name it contains ("VAN-B2" is a "VAN"): a paper
    that only mentions it is not about it. A described item ("the billion-image
    semi-supervised ResNet-50") is the paper covering most of its terms."""
    key = name_key(item)
    if not key.strip():
        return None
    named = _NAME.findall(item)
    for ev in evidence if named else []:
        own = own_names(ev.hit.paper, store.lexicon)
        if any(mentions(name_key(o), n) for o in own for n in named):
            return ev
        if any(len(name_key(o)) > 4 and name_key(o) in key for o in own):
            return ev
    described = content_terms(_NAME.sub(" ", item))
    if named and len(described) < 2:  # just a name, and no paper of its own
        return None
    scored = [(_item_coverage(item, ev, store), -i, ev) for i, ev in enumerate(evidence)]
    best = max(scored, default=None, key=lambda x: x[:2])
    return best[2] if best and best[0] >= _ITEM_COVERAGE else None


def _mentioning_first(ev: PaperEvidence, others: list[str]) -> PaperEvidence:
    """Sentences that name another compared item go first (the paper's own comparison)."""
    if not ev.sentences or not others:
        return ev
    top = ev.sentences[0].score
    def key(s: ScoredSentence) -> tuple[bool, float]:
        hit = s.score >= 0.5 * top and any(mentions(name_key(s.text), o) for o in others)
        return (not hit, -s.score)
    return PaperEvidence(hit=ev.hit, name=ev.name, named=ev.named, sentences=sorted(ev.sentences, key=key))


def compose_compare(plan: QuestionPlan, evidence: list[PaperEvidence], store: EvidenceStore, settings: Settings) -> Composed:
    paragraphs, citations = [], []
    used: set[str] = set()
    quoted = ""
    for item in plan.items:
        ev = match_item(item, [e for e in evidence if e.paper_id not in used], store)
        others = [o for o in plan.items if o != item]
        if ev is None:
            if not mentions(name_key(quoted), item):  # not already covered by a quoted comparison
                paragraphs.append(f"The collection has no paper on {item}.")
            continue
        used.add(ev.paper_id)
        n = len(citations) + 1
        picked = pick_sentences(plan, _mentioning_first(ev, others), settings, limit=2)
        paragraphs.append(_paragraph(ev, picked, n, keep_order=False))
        citations.append(_citation(ev, picked, n))
        quoted += " " + " ".join(s.text for s in picked)
    return Composed("\n\n".join(paragraphs), citations)


def check_traceable(text: str, citations: list[Citation], store: EvidenceStore) -> list[str]:
    """Names and numbers in the answer's own words (the bold lead-ins) that do not occur
    in the cited paper's title or abstract. Empty when the answer is traceable."""
    by_n = {c.n: c for c in citations}
    problems = []
    for line in text.splitlines():
        for m in _BOLD.finditer(line):
            cited = [int(x) for x in re.findall(r"\[(\d+)\]", line)]
            label = m.group(1)
            sources = [store.paper_key(by_n[n].paper_id) for n in cited if n in by_n]
            if not any(mentions(src, label) for src in sources):
                problems.append(label)
            elif numbers(label) and not all(any(x in src for src in sources) for x in map(name_key, numbers(label))):
                problems.append(label)
    return problems
