"""The extractive answerer (offline default): evidence sentences per paper, `[n]`
citations, and abstention when the evidence does not cover the question.

Every sentence it prints is a sentence of a cited abstract, verbatim.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from rag.prompts import ABSTAIN_PHRASE
from rag.retrieve import Retriever
from rag.text import content_terms, numbers
from rag.types import Answer, Citation, Hit

_LIST_Q = re.compile(
    r"\b(which|what|list|name|any|all)\b.{0,40}\b(papers|methods|works|approaches|models|"
    r"architectures|techniques|studies|networks|frameworks|systems|ones)\b",
    re.I,
)
_NUMBER_Q = re.compile(
    r"\b(how (much|many|fast|large|big|accurate|well|deep)|by how|what .{0,40}\b(accuracy|score|speed|"
    r"error|rate|fid|bleu|map|top-?\d|itr|auc|percentage|reduction|improvement|gain|size|number|"
    r"speed-?up|compression))",
    re.I,
)
_BOILERPLATE = re.compile(r"\b(code|models?|implementation)\b.{0,40}\b(available|released)\b|https?://", re.I)
# tokens that name something specific: digits (ResNet-50, CIFAR-10), inner capitals
# (DeepCache, ImageNet), or acronyms (SDXL, BERT)
_SPECIFIC = re.compile(r"\b[A-Za-z]*(?:\d|[a-z][A-Z]|[A-Z]{2})[\w\-.]*[A-Za-z0-9]|\b[A-Z]{2,}\b")
_IGNORED_SPECIFIC = {"ai", "dnn", "dnns", "cnn", "cnns", "ml", "nn", "nns"}


def is_list_question(question: str) -> bool:
    return bool(_LIST_Q.search(question))


def wants_number(question: str) -> bool:
    return bool(_NUMBER_Q.search(question))


def _squash(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", text.lower())


def specific_terms(question: str) -> list[str]:
    """Names, datasets, metrics and numbers the question asks about (ResNet-50, SDXL)."""
    terms = []
    for m in _SPECIFIC.finditer(question):
        term = m.group(0).strip(".-")
        if term and _squash(term) not in _IGNORED_SPECIFIC and term not in terms:
            terms.append(term)
    return terms


def mentions(text_squashed: str, term: str) -> bool:
    """Whether a specific term occurs, ignoring case, hyphens and spaces (ResNet50 = ResNet-50)."""
    t = _squash(term)
    if t in text_squashed:
        return True
    if t.endswith("s") and t[:-1] in text_squashed:  # plural in the question (CNNs)
        return True
    return False


def with_marker(sentence: str, n: int) -> str:
    """'It works.' -> 'It works [n].' (the marker inside the sentence it supports)."""
    s = sentence.rstrip()
    if s and s[-1] in ".!?":
        return f"{s[:-1]} [{n}]{s[-1]}"
    return f"{s} [{n}]"


@dataclass
class Evidence:
    hit: Hit
    sentences: list[tuple[float, str]]  # (score, sentence), best first
    coverage: float  # idf-weighted share of question terms in title + abstract

    @property
    def best(self) -> float:
        return self.sentences[0][0] if self.sentences else 0.0


def gather_evidence(question: str, hits: list[Hit], retriever: Retriever) -> list[Evidence]:
    """Score every sentence of every hit against the question.

    Question terms found in a paper's title identify the paper; a sentence is scored on
    the remaining terms (what is asked about it), so "What rate does the SSVEP network
    reach?" prefers the sentence with the rate over the one repeating "SSVEP".
    """
    q_terms = content_terms(question)
    weight = {t: retriever.idf(t) for t in q_terms}
    total = sum(weight.values()) or 1.0
    specific = [_squash(t) for t in specific_terms(question)]
    number_q = wants_number(question)
    code_q = bool(re.search(r"\b(code|github|implementation)\b", question, re.I))
    qvec: np.ndarray = retriever.embed_query(question)
    out = []
    for hit in hits:
        paper = hit.paper
        sims = retriever.chunk_similarities(qvec, paper.paper_id)
        paper_terms = content_terms(f"{paper.title} {paper.abstract}")
        coverage = sum(w for t, w in weight.items() if t in paper_terms) / total
        title_terms = content_terms(paper.title)
        asked = {t: w for t, w in weight.items() if t not in title_terms} or weight
        asked_total = sum(asked.values()) or 1.0
        title_sq = _squash(paper.title)
        asked_specific = [t for t in specific if t not in title_sq] or specific
        scored = []
        for sentence, chunk_id in retriever.sentences(paper.paper_id):
            s_terms = content_terms(sentence)
            score = sum(w for t, w in asked.items() if t in s_terms) / asked_total
            score += 0.5 * sims.get(chunk_id, 0.0)
            if asked_specific:
                sq = _squash(sentence)
                score += 0.3 * sum(1 for t in asked_specific if t in sq) / len(asked_specific)
            if number_q and numbers(sentence):
                score += 0.15
            if not code_q and _BOILERPLATE.search(sentence):
                score -= 0.4
            scored.append((score, sentence))
        scored.sort(key=lambda x: -x[0])
        out.append(Evidence(hit=hit, sentences=scored, coverage=coverage))
    return out


def abstain(question: str, hits: list[Hit], reason: str, backend: str = "extractive") -> Answer:
    closest = "; ".join(f"{h.paper.title}" for h in hits[:3])
    text = f"{ABSTAIN_PHRASE} {reason}"
    if closest:
        text += f" Closest papers: {closest}."
    return Answer(question=question, text=text, abstained=True, backend=backend, hits=hits)  # type: ignore[arg-type]


# metric names are often absent even when the number is there ("+0.39dB" without "PSNR")
_SOFT_TERMS = {"psnr", "ssim", "fid", "bleu", "map", "ap", "iou", "miou", "flops", "auc", "top1", "top5", "sota"}


def subject_papers(question: str, hits: list[Hit], idf: Callable[[str], float] | None = None) -> list[Hit]:
    """Retrieved papers the question names: by the name before the title's colon
    ("Once-for-All", "DeepCache"), or by a rare title word it repeats ("gzip")."""
    q_sq = _squash(question)
    q_terms = content_terms(question)
    named = []
    for h in hits:
        name = h.paper.title.split(":")[0] if ":" in h.paper.title else ""
        rare = idf is not None and any(idf(t) >= _RARE_IDF for t in q_terms & content_terms(h.paper.title))
        if (name and len(_squash(name)) >= 4 and _squash(name) in q_sq) or rare:
            named.append(h)
    return named


_RARE_IDF = 5.0  # df <= 2 of ~500 papers


def missing_terms(question: str, hits: list[Hit], idf: Callable[[str], float] | None = None) -> list[str]:
    """Specific terms of the question that the relevant abstracts do not mention.

    When the question names a retrieved paper (DeepCache, Once-for-All), its other terms
    must occur in that paper: another paper's mention of SDXL does not tell what DeepCache
    gets on SDXL. Otherwise every term must occur, and co-occur in one abstract.
    """
    terms = [t for t in specific_terms(question) if _squash(t) not in _SOFT_TERMS]
    if not terms:
        return []
    texts = {h.paper_id: _squash(f"{h.paper.title} {h.paper.abstract}") for h in hits}
    subjects = subject_papers(question, hits, idf)
    if subjects:
        pool = [texts[h.paper_id] for h in subjects]
        return [t for t in terms if not any(mentions(x, t) for x in pool)]
    missing = [t for t in terms if not any(mentions(x, t) for x in texts.values())]
    if missing or len(terms) < 2:
        return missing
    # each is mentioned somewhere; one abstract must hold them together (all but one
    # of three or more, so a typo such as "ImagNet-1k" in the source does not block)
    best = max(texts.values(), key=lambda x: sum(mentions(x, t) for t in terms))
    lacking = [t for t in terms if not mentions(best, t)]
    return lacking if len(lacking) > (1 if len(terms) >= 3 else 0) else []


def extractive_answer(
    question: str,
    hits: list[Hit],
    retriever: Retriever,
    *,
    min_coverage: float = 0.45,
    max_papers: int | None = None,
) -> Answer:
    """Compose an answer from abstract sentences, or abstain."""
    if not hits:
        return abstain(question, hits, "No paper in the collection is relevant enough.")
    missing = missing_terms(question, hits, retriever.idf)
    if missing:
        return abstain(question, hits, f"No retrieved abstract mentions {', '.join(missing)}.")
    evidence = gather_evidence(question, hits, retriever)
    best_cov = max(e.coverage for e in evidence)
    if best_cov < min_coverage:
        return abstain(question, hits, "The closest abstracts do not cover what the question asks.")

    list_q = is_list_question(question)
    limit = max_papers or (len(hits) if list_q else 3)
    # relative cut on coverage weighted by how close the paper is to the question, so a
    # far-down hit that happens to repeat the question's words does not crowd out the top ones
    top_dense = max(e.hit.dense for e in evidence) or 1.0
    weighted = {id(e): e.coverage * min(1.0, e.hit.dense / top_dense) for e in evidence}
    best_w = max(weighted.values())
    chosen = [e for e in evidence if e.sentences and e.coverage >= min_coverage and weighted[id(e)] >= 0.5 * best_w]
    specific = specific_terms(question)
    if specific:  # prefer papers that mention what the question names
        named = [e for e in chosen if all(mentions(_squash(e.hit.paper.title + " " + e.hit.paper.abstract), t) for t in specific)]
        chosen = named or chosen
    chosen = chosen[:limit]

    paragraphs: list[str] = []
    citations: list[Citation] = []
    for n, ev in enumerate(chosen, start=1):
        picked = [ev.sentences[0][1]]
        if not list_q and len(ev.sentences) > 1 and ev.sentences[1][0] >= 0.8 * ev.best:
            picked.append(ev.sentences[1][1])
        # keep the abstract's order so the quote reads naturally
        order = {s: i for i, (s, _) in enumerate(retriever.sentences(ev.hit.paper_id))}
        picked.sort(key=lambda s: order.get(s, 0))
        paragraphs.append(" ".join(with_marker(s, n) for s in picked))
        citations.append(Citation(n=n, paper_id=ev.hit.paper_id, title=ev.hit.paper.title, quote=" ".join(picked)))
    return Answer(
        question=question, text="\n\n".join(paragraphs), abstained=False,
        backend="extractive", citations=citations, hits=hits,
    )
