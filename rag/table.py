"""Questions over many papers' numbers ("which methods beat ResNet-50?", "which report
more than 80% top-1 on ImageNet?", "what is the best FID?") answered from the claims
table: the question is read into a `TableQuery`, claims are filtered and compared in
code, and the answer is a table with one cited row per claim plus a summary built from
the rows, saying how complete it is and listing borderline claims apart.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Literal

from rapidfuzz import fuzz, process

from rag.quantities import quantities
from rag.question import QuestionPlan
from rag.text import name_key, split_sentences
from rag.types import Claim, Paper, TableRow
from rag.vocabulary import ClaimVocabulary, dataset_family

Op = Literal["beat", "more_than", "less_than", "best", "max", "min", "report"]

CONSTRAINT_FLAGS = {"without extra data": "no_extra_data", "uses extra data": "extra_data", "zero-shot": "zero_shot",
                    "data-free": "data_free", "training-free": "training_free"}
FLAG_WORDS = {"no_extra_data": "no extra data", "extra_data": "extra data", "zero_shot": "zero-shot",
              "data_free": "data-free", "training_free": "training-free"}
#: an asked metric accepts these extracted metrics ("accuracy on ImageNet" is read as top-1)
_ACCEPTS = {
    "top-1 accuracy": {"top-1 accuracy", "accuracy"}, "accuracy": {"accuracy", "top-1 accuracy", "top-5 accuracy"},
    "top-5 accuracy": {"top-5 accuracy", "top-5 error"}, "top-5 error": {"top-5 error", "top-5 accuracy"},
    "error rate": {"error rate", "top-1 error"}, "top-1 error": {"top-1 error", "error rate"},
    "mAP": {"mAP", "AP"}, "AP": {"AP", "mAP"}, "mIoU": {"mIoU", "IoU"}, "IoU": {"IoU", "mIoU"},
    "speedup": {"speedup", "throughput"}, "throughput": {"throughput", "speedup"},
}
_RATIOS = {"speedup", "throughput", "compression"}  # a ratio is how these are reported: a gain is their value
_SPEED = {"speedup", "throughput", "training time", "latency"}  # "reduces training time by 20.9x" is a speed-up
_BEAT = re.compile(r"\b(?:beat|beats|beating|outperform\w*|surpass\w*|better than|exceed\w*|superior to|"
                   r"improv\w* (?:on|over|upon)|win\w* over)\b", re.I)
_MORE = r"more than|higher than|greater than|better than|over|above|at least|exceed\w*|beyond|>=?|≥"
_LESS = r"less than|lower than|below|under|fewer than|smaller than|at most|<=?|≤"
_THRESHOLD = re.compile(rf"(?P<op>{_MORE}|{_LESS})\s*(?P<n>\d[\d.,]*\s*(?:%|x\b|×|times|points|[KMB]\b|million|billion)?)", re.I)
_MAX = re.compile(r"\b(best|highest|top(?![-\s]?\d)|largest|most accurate|state[- ]of[- ]the[- ]art|sota|strongest|fastest|greatest|"
                  r"biggest|maximum)\b", re.I)
_MIN = re.compile(r"\b(lowest|smallest|least|fewest|minimum|cheapest|tiniest)\b", re.I)
_REPORT = re.compile(r"\b(report\w*|values?|numbers?|results?|scores?|what (do|does) they get|how (big|much|large|high)|"
                     r"list|which (papers|methods|models|works|detectors|retrievers|architectures|networks)|any paper|"
                     r"anywhere|papers? (with|that))\b", re.I)
_DATASET_ALIASES = {name_key(k): v for k, v in {"IN-1k": "imagenet", "IN1k": "imagenet", "ILSVRC": "imagenet",
                                                 "MSCOCO": "coco", "CIFAR10": "cifar 10", "CIFAR100": "cifar 100"}.items()}
_OWN_SUBJECT = re.compile(r"\b(we|our|ours|the proposed|this (method|model|approach|architecture|network))\b", re.I)


@dataclass(frozen=True)
class TableQuery:
    """What a table question asks: which metric on which dataset, compared how."""

    op: Op
    metric: str = ""
    dataset: str = ""  # as the question writes it
    family: str = ""
    threshold: float | None = None
    threshold_text: str = ""
    threshold_unit: str = ""
    baseline: str = ""
    flag: str = ""

    def describe(self) -> str:
        what = self.metric or "results"
        on = f" on {self.dataset}" if self.dataset else ""
        return f"{what}{on}"


@dataclass
class TableResult:
    query: TableQuery
    rows: list[tuple[Claim | None, Paper, str]] = field(default_factory=list)  # (claim, paper, quote)
    excluded: list[tuple[Paper, str, str]] = field(default_factory=list)  # (paper, why, quote)
    considered: int = 0  # papers that report the metric/dataset or mention the baseline


def _dataset_in(question: str, vocab: ClaimVocabulary, families: dict[str, str]) -> tuple[str, str]:
    m = next((m for m in vocab.dataset_pattern.finditer(question) if m.group(0)), None)
    if m:
        return m.group(0), dataset_family(m.group(0))
    key = name_key(question)
    for alias, family in _DATASET_ALIASES.items():
        if alias in key:
            return alias.strip(), family
    for family, written in sorted(families.items(), key=lambda kv: -len(kv[0])):
        if len(family) >= 3 and f" {family} " in key:
            return written, family
    return "", ""


def _over_many(plan: QuestionPlan) -> bool:
    """The question asks across papers: a list, a superlative, "which methods ...", "any paper ..."
    (not "does X beat Y?" or "what does X get?", which are about one paper)."""
    q = plan.corrected
    anyone = bool(re.search(r"\b(any|some)\s+(\w+\s+)?(papers?|methods?|models?|works?|approach(es)?)\b", q, re.I))
    if re.match(r"^\s*(does|do|did|is|are|can|could|was|were|has|have|will)\b", q, re.I) and not anyone:
        return False
    if plan.intent == "compare" and not anyone:
        return False
    return plan.intent in ("list", "best") or anyone or bool(re.search(
        r"\b(papers|methods|models|works|approaches|architectures|detectors|retrievers|networks|systems|results|numbers|values)\b"
        r"|\b(best|highest|lowest|smallest|largest)\b", q, re.I))


def table_query(plan: QuestionPlan, vocab: ClaimVocabulary, families: dict[str, str]) -> TableQuery | None:
    """The table question `plan` asks, or None when it is not one."""
    q = plan.corrected
    if not _over_many(plan):
        return None
    metric = vocab.find_metric(q)
    dataset, family = _dataset_in(q, vocab, families)
    flag = next((CONSTRAINT_FLAGS[c] for c in plan.constraints if c in CONSTRAINT_FLAGS), "")
    threshold = _THRESHOLD.search(q)
    beat = _BEAT.search(q)
    op: Op | None = None
    baseline = ""
    if beat:
        after = q[beat.end():]
        refs = [e for e in plan.entities if e.kind == "name" and q.find(e.text, beat.start()) >= 0
                and not vocab.dataset_pattern.fullmatch(e.text)]
        if refs:
            op, baseline = "beat", refs[0].text
        elif not threshold and re.match(r"\s*(the\s+)?[A-Z]", after):
            op, baseline = "beat", after.split()[0].strip("?,.")
    if op is None and threshold and (metric or dataset):
        values = quantities(threshold.group("n"))
        if values:
            more = re.fullmatch(_MORE, threshold.group("op"), re.I)
            op = "more_than" if more else "less_than"
            thresh = values[0].scaled
            if _names_a_method(plan, vocab):
                return None
            return TableQuery(op=op, metric=metric, dataset=dataset, family=family, threshold=thresh,
                              threshold_text=threshold.group(0).strip(), threshold_unit=values[0].unit, flag=flag)
    if op is None and (metric or dataset) and plan.intent in ("best", "which", "list", "lookup"):
        if _MIN.search(q):
            op = "min"
        elif _MAX.search(q):
            op = "best" if not re.search(r"\b(highest|largest|biggest|maximum)\b", q, re.I) else "max"
    if op is None and metric and plan.intent in ("list", "which", "best") and _REPORT.search(q):
        op = "report"
    if op is None:
        return None
    if op != "beat" and _names_a_method(plan, vocab):
        return None  # "What top-1 accuracy does GhostNetV2 achieve?" asks about one paper
    return TableQuery(op=op, metric=metric, dataset=dataset, family=family, baseline=baseline, flag=flag)


def _names_a_method(plan: QuestionPlan, vocab: ClaimVocabulary) -> bool:
    return any(e.kind == "name" and e.role == "subject" and not e.soft and not vocab.dataset_pattern.fullmatch(e.text)
               and name_key(e.text) not in _DATASET_ALIASES and not vocab.find_metric(e.text) for e in plan.entities)


def _metric_ok(asked: str, claim: Claim) -> bool:
    if asked == "speedup" and claim.unit == "×" and claim.metric in _SPEED:
        return True
    return not asked or claim.metric in _ACCEPTS.get(asked, {asked})


def _unit_ok(query: TableQuery, claim: Claim) -> bool:
    """A threshold in % compares with values in %, one in × with ratios."""
    if query.threshold_unit == "%":
        return claim.unit in ("%", "", "points")
    if query.threshold_unit == "×":
        return claim.unit == "×"
    return True


def _windows(words: list[str], n: int) -> list[str]:
    """words[i:i + n] for every i (the last ones shorter), joined."""
    if n == 1:
        return words
    return [*map(" ".join, zip(*(words[k:] for k in range(n)))),
            *(" ".join(words[i:]) for i in range(max(len(words) - n + 1, 0), len(words)))]


def _mentions_baseline(text: str, baseline: str, *, loose: bool = False) -> bool:
    """Whether `text` says `baseline`: its name key holds the baseline's, or a window of as many
    words is at least 88 similar (fuzz.ratio; the last windows of a text are shorter). `loose`
    also tries windows of fewer words anywhere: what any part of the text (a sentence, the words
    after a verb) would be found to say, so a paper without it says X in none of its parts."""
    return _key_mentions(name_key(text), name_key(baseline), loose=loose)


def _key_mentions(key: str, b: str, *, loose: bool = False) -> bool:
    """`_mentions_baseline` of the text whose name key is `key`, the baseline's being `b`."""
    if b in key:
        return True
    if len(b) < 6:
        return False
    words = key.split()
    n = len(b.split())
    windows = [w for k in range(1, n + 1) for w in _windows(words, k)] if loose else _windows(words, n)
    # any window at least 88 similar, compared in rapidfuzz's loop, not one call per window
    return process.extractOne(b.strip(), windows, scorer=fuzz.ratio, processor=None, score_cutoff=88) is not None


_IMPROVES = re.compile(r"\b(?:boost\w*|improv\w*|enhanc\w*|strengthen\w*)\s+(?:the\s+)?(?:(?:vanilla|plain|standard|a)\s+)?",
                       re.I)


def _improves(text: str, baseline: str) -> bool:
    """'Boosting vanilla ResNet-50 ...', 'improves ResNet-50 ...': the method makes X itself better."""
    return any(_mentions_baseline(" ".join(text[m.end():].split()[:2]), baseline) for m in _IMPROVES.finditer(text))


def _has_flag(paper_flags: set[str], flag: str, sentence: str) -> bool:
    if flag == "zero_shot" and re.search(r"zero-?shot", sentence, re.I):
        return True
    return flag in paper_flags


def _better(query: TableQuery, direction: str) -> bool:
    """Sort descending?"""
    if query.op == "max":
        return True
    if query.op == "min":
        return False
    return direction != "lower"


def run_table(query: TableQuery, claims: list[Claim], papers: Mapping[str, Paper],
              flags_of: dict[str, set[str]], abstract_key: Callable[[str], str] | None = None) -> TableResult:
    """Filter the claims for `query` and compare them in code; a paper is read from `papers`
    when one of its claims makes a row or is listed apart, or ("beat") its abstract says X."""
    result = TableResult(query=query)
    considered: set[str] = set()
    rows: list[tuple[Claim | None, Paper, str]] = []
    excluded: list[tuple[Paper, str, str]] = []
    for c in claims:
        if not c.own or c.paper_id not in papers:
            continue
        if query.op == "beat":
            if not (c.compared_with and _mentions_baseline(c.compared_with, query.baseline)):
                continue
            considered.add(c.paper_id)
            if query.family and c.dataset and dataset_family(c.dataset) != query.family:
                excluded.append((papers[c.paper_id], f"on {c.dataset}, not {query.dataset}", c.sentence))
                continue
        else:
            if not _metric_ok(query.metric, c):
                continue
            if query.family:
                if not c.dataset:
                    considered.add(c.paper_id)
                    if not query.flag:
                        excluded.append((papers[c.paper_id], "the sentence names no dataset", c.sentence))
                    continue
                fam = dataset_family(c.dataset)
                if fam != query.family:
                    if fam.startswith(query.family):
                        excluded.append((papers[c.paper_id], f"on {c.dataset}, not {query.dataset}", c.sentence))
                    continue
            considered.add(c.paper_id)
            if c.relative and c.metric not in _RATIOS:
                excluded.append((papers[c.paper_id], f"a gain ({c.value}{c.unit}), not a score", c.sentence))
                continue
            if query.threshold is not None:
                value = c.scaled
                if not _unit_ok(query, c):
                    continue
                if query.op == "more_than" and not value > query.threshold:
                    continue
                if query.op == "less_than" and not value < query.threshold:
                    continue
        rows.append((c, papers[c.paper_id], c.sentence))
    if query.op == "beat":  # comparisons stated without a number, and papers that boost X itself
        with_rows = {p.paper_id for _, p, _ in rows}
        own_claims: dict[str, list[Claim]] = {}
        for c in claims:
            if c.own and not c.relative and c.paper_id in papers:
                own_claims.setdefault(c.paper_id, []).append(c)
        # a row here needs a sentence of the abstract (or part of one, or a claim's) saying X:
        # the sentences are read only for the papers whose abstract says it loosely
        # (their abstracts' name keys from `abstract_key`, kept by the index, when given)
        key_of, b = abstract_key or (lambda pid: name_key(papers[pid].abstract)), name_key(query.baseline)
        said: set[str] = set()
        for pid in papers:
            key = key_of(pid)
            if _key_mentions(key, b, loose=True):
                said.add(pid)
                if _key_mentions(key, b):
                    considered.add(pid)  # the papers said to mention X, whether or not they beat it
        for pid in papers:
            if pid in with_rows or pid not in said:
                continue
            paper = papers[pid]
            sentences = list(dict.fromkeys(split_sentences(paper.abstract)))
            boosts = any(_improves(text, query.baseline) for text in [paper.title, *sentences])
            if boosts:  # "Boosting vanilla ResNet-50 to 80%+": its own results on X beat X
                on_x = [c for c in own_claims.get(pid, []) if _mentions_baseline(c.sentence, query.baseline)
                        and (not query.family or not c.dataset or dataset_family(c.dataset) == query.family)]
                if on_x:
                    considered.add(pid)  # its best results first: "80.67%" before the "80%+" of its title
                    on_x.sort(key=lambda c: -c.scaled if c.direction != "lower" else c.scaled)
                    rows += [(c, paper, c.sentence) for c in on_x[:2]]
                    continue
            for s in sentences:
                verb = _BEAT.search(s)
                if verb and _mentions_baseline(s[verb.end():], query.baseline) and \
                        _OWN_SUBJECT.search(s[:verb.start()]) or (boosts and _improves(s, query.baseline)):
                    considered.add(pid)
                    rows.append((None, paper, s))
                    break
    if query.flag:
        kept = []
        for c, paper, quote in rows:
            if _has_flag(flags_of.get(paper.paper_id, set()), query.flag, quote):
                kept.append((c, paper, quote))
            elif query.flag == "no_extra_data" and "extra_data" in flags_of.get(paper.paper_id, set()):
                excluded.append((paper, "uses extra training data", quote))
            elif query.flag == "no_extra_data":
                excluded.append((paper, "does not say whether it uses extra data", quote))
        rows = kept
    direction = next((c.direction for c, _, _ in rows if c is not None and c.direction), "higher")
    if query.op in ("best", "max", "min", "more_than", "less_than", "report"):
        desc = _better(query, direction)
        rows.sort(key=lambda r: (r[0] is None, -(r[0].scaled if r[0] else 0) if desc else (r[0].scaled if r[0] else 0)))
    kept_ids = {p.paper_id for _, p, _ in rows}
    seen: set[str] = set()
    result.excluded = [e for e in excluded if e[0].paper_id not in kept_ids and not (
        e[0].paper_id in seen or seen.add(e[0].paper_id))]
    result.rows = rows
    result.considered = len(considered | kept_ids)
    return result
