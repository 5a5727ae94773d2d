"""Result claims, extracted offline by rules at ingest: for every number an abstract states
as a result, the metric, dataset, method (the paper's own or a baseline's), the baseline
it is compared with, whether it is a gain rather than a score, and the paper's flags.

Deterministic: the same abstracts give the same claims on every run. Measured against
hand-labelled abstracts by `python -m eval.claims`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from rag.quantities import Quantity, quantities
from rag.question import NAME_PATTERN
from rag.text import name_key, split_sentences
from rag.types import Claim, FlagMention
from rag.vocabulary import FLAG_PATTERNS, ClaimVocabulary, dataset_family

CLAIMS_VERSION = "3"

_RESULT_UNITS = {"%", "×", "points", "dB", "FPS", "ms", "s", "min", "h", "days", "GPU days", "GB", "MB", "KB", "TB",
                 "FLOPs", "GFLOPs", "MFLOPs", "TFLOPs", "MACs", "GMACs", "mJ", "J", "W", "mW", "kWh", "$", "bits/min",
                 "GPU hours"}
# "1% of the labels", "20% of the data": a set-up, not a result
_SETUP_SHARE = re.compile(r"^\s*(?:of|of the)\s+(?:the\s+)?(?:labels?|labell?ed|training|data|images|samples|dataset|examples|"
                          r"annotations?|classes|validation|test)\b", re.I)
_GAIN_AFTER = re.compile(r"^\s*(?:of (?:the |its |their )?(?:accuracy|performance|quality)\b|"
                         r"(?:(?:absolute|relative|average|overall)\s+)?(?:improvements?|gains?|increases?|reductions?|"
                         r"higher|lower|better|worse|faster|slower|fewer|less|more|smaller|larger|speed-?ups?|drops?|"
                         r"decreases?|boosts?|savings?|relative|absolute|loss|degradation|declines?)\b)", re.I)
_GAIN_BEFORE = re.compile(r"\b(?:by|an? (?:\w+ )?(?:improvement|gain|increase|reduction|boost|drop|loss|decline|decrease|degradation) of|improv\w+|reduc\w+|"
                          r"increas\w+|boost\w*)\s+(?:up to\s+|over\s+|about\s+|nearly\s+|roughly\s+|around\s+|approximately\s+|"
                          r"an average of\s+|a margin of\s+|as much as\s+|more than\s+|at least\s+|~\s*)?$", re.I)
_COMPARE = re.compile(r"\b(?:outperform\w*|surpass\w*|beat(?:s|ing)?|exceed\w*|(?:better|higher|faster|lower|smaller|more accurate|"
                      r"cheaper|larger|fewer \w+|less \w+) than|compared (?:to|with)|relative to|vs\.?|versus|against|over)\s+"
                      r"(?:the\s+|a\s+|an\s+|its\s+|their\s+)?", re.I)
_TARGET_END = re.compile(r"\s*(?:[,;:.()]|\bby\b|\bon\b|\bin\b|\bwith\b|\bwhile\b|\bwhich\b|\bat\b|\bfor\b|\band\b|\bwhen\b|"
                         r"\bacross\b|\bwithout\b|\bthat\b|\busing\b|\s\d)", re.I)
_OTHERS = re.compile(r"\b(?:today's|current|existing|previous|prior|other|competing|conventional|state-of-the-art|best)\s+"
                     r"(?:[\w\-]+\s+)?(?:models|methods|approaches|networks|systems|works|detectors|architectures)\b", re.I)
_GAIN_LATER = re.compile(r"^\s*(?:[\w\-]+\s+){1,3}?(?:improvements?|gains?|increases?|drops?|loss|degradation|"
                         r"reductions?|decreases?|boosts?)\b", re.I)  # "0.76% top-1 accuracy drop"
_LIST_GAP = re.compile(r"\s*(?:\S+\s+){0,2}?(?:,|and|or|&)\s*(?:\S+\s+){0,1}?", re.I)
_FROM_TO = re.compile(r"\bfrom\s+$", re.I)
_TO_NEXT = re.compile(r"^\s*\S*\s+(?:[\w-]+\s+){0,4}?to\s+(?:\w+\s+)?\d")  # "from 91.27% with regular augmentation to 94.54%"
_FIRST_PERSON = re.compile(r"\b(we|our|ours|this (paper|work|approach|method|model)|the proposed|proposed)\b", re.I)
_PROPOSAL = re.compile(r"\b(we|this paper|this work|in this paper)\b[^.]{0,60}\b(propos\w*|present\w*|introduc\w*|develop\w*|"
                       r"design\w*|describ\w*)\b|\b(is|are) (proposed|introduced|presented)\b", re.I)
_TASK = re.compile(r"\b(image classification|object detection|semantic segmentation|instance segmentation|"
                   r"machine translation|language modell?ing|speech recognition|question answering|image generation|"
                   r"super-resolution|pose estimation|action recognition|text classification|video recognition)\b", re.I)
_COUNT_NOUN = re.compile(r"^\s*(?:[a-z][\w-]*\s+){0,2}?(?:datasets?|tasks?|images?|classes|layers?|gpus?|languages?|"
                         r"examples|samples|subjects|models|benchmarks|epochs|steps|nodes|participants|patients|"
                         r"videos|hours of|papers|users|categories|architectures|experiments|sub-models)\b", re.I)
_METRIC_LINK = re.compile(r"(?:\s+(?:score|rate|value))?(?:\s+(?:of|is|was|at|to|reaches|reaching|achieves|achieving|"
                          r"by|:|=|from|up to|over|above|below|under|only|just|about|around|approximately|nearly|an|a|"
                          r"the|as|high|low|than|less|more|[<>≥≤~]))*\s*$", re.I)
_NAMEY = NAME_PATTERN
_AFTER_LINK = re.compile(r"\s*(?:(?:higher|lower|absolute|relative|better|worse|improvements?|gains?|increases?|reductions?|drops?|"
                         r"boosts?|fewer|less|more|smaller|larger|of|in|the|on|average|mean|overall|test|val|validation|"
                         r"single-model|model|inference|training|end-to-end|wall-clock|peak|total|box|mask|zero-shot|few-shot|"
                         r"linear|linear-probe|transfer|fine-tuned|classification|detection|segmentation|test)\s+)*"
                         r"(?:(?:improvements?|gains?|increases?|reductions?|drops?|boosts?|decreases?)\s+(?:in|of|on)\s+"
                         r"(?:the\s+)?(?:[\w-]+\s+){0,3}?)?", re.I)  # "19.7% improvement in flow prediction accuracy"
# "<verb> the <what> by (up to) N": the number measures <what>, whether or not it is a known metric
_CHANGED_BY = re.compile(
    r"\b(?:reduc|improv|increas|decreas|cut|lower|boost|rais|enhanc|accelerat|shrink|compress)\w*\s+"
    r"(?:the\s+|its\s+|their\s+|our\s+)?((?:[a-z][\w-]*\s+){0,3}[a-z][\w-]*)\s+by\s+"
    r"(?:up\s+to|about|around|over|more\s+than|nearly|roughly|approximately|almost|as\s+much\s+as|an\s+average\s+of)?\s*$")
_UNIT_METRIC = {"dB": "PSNR", "FPS": "FPS", "GB": "memory", "MB": "memory", "ms": "latency", "bits/min": "ITR",
                "FLOPs": "FLOPs", "GFLOPs": "FLOPs", "MFLOPs": "FLOPs", "TFLOPs": "FLOPs", "MACs": "FLOPs",
                "GMACs": "FLOPs", "mJ": "energy", "J": "energy", "W": "energy", "kWh": "energy",
                "GPU hours": "training time", "GPU days": "training time"}


@dataclass(frozen=True)
class _Clause:
    text: str
    start: int


def _inherit_metric(claims: list[Claim]) -> list[Claim]:
    """A gain whose sentence names no metric ("a 13.0% improvement on MATH") is a gain in
    "performance": a column a table can show and a question can ask for, never a guess at which."""
    return [c.model_copy(update={"metric": "performance", "direction": "higher"})
            if not c.metric and c.relative and c.unit in ("%", "points") else c for c in claims]


_RESPECTIVELY = re.compile(r"\brespectively\b", re.I)
_LIST_SEP = re.compile(r"\s*(?:,\s*(?:and\s+|or\s+)?|\band\s+|\bor\s+|/\s*)")


def _runs(items: list[tuple[int, int, Any]], sentence: str) -> list[list[tuple[int, int, Any]]]:
    """Items (start, end, value) grouped into lists written "a, b and c" (or "a/b")."""
    runs: list[list[tuple[int, int, Any]]] = []
    for item in items:
        if runs and _LIST_SEP.fullmatch(sentence[runs[-1][-1][1]:item[0]]):
            runs[-1].append(item)
        else:
            runs.append([item])
    return runs


def _clause(sentence: str, at: int) -> _Clause:
    """The part of the sentence between semicolons (or ', while') around offset `at`."""
    bounds = [0] + [m.end() for m in re.finditer(r";|, while\b|, whereas\b", sentence)] + [len(sentence)]
    for a, b in zip(bounds, bounds[1:]):
        if a <= at < b:
            return _Clause(sentence[a:b], a)
    return _Clause(sentence, 0)


def _list_marker(sentence: str, q: Quantity) -> bool:
    if q.unit or "." in q.value or len(q.value) > 2:
        return False
    after = sentence[q.end:q.end + 1]
    before = sentence[max(0, q.start - 1):q.start]
    return after == ")" and (before in ("(", " ", "") or q.start == 0)


class Extractor:
    """Turns one paper's abstract into claims with the collection's vocabulary."""

    def __init__(self, vocab: ClaimVocabulary):
        self.vocab = vocab

    # -- pieces ----------------------------------------------------------------------------
    def metric_for(self, sentence: str, q: Quantity, others: list[Quantity] = ()) -> tuple[str, bool]:
        """(canonical metric, whether it is written right next to the number).

        The units of the sentence's `others` quantities ("167M FLOPs") are theirs: masked out.
        """
        for o in others:
            if o is not q and (o.end <= q.start or o.start >= q.end):
                sentence = sentence[:o.start] + " " * (o.end - o.start) + sentence[o.end:]
        after = re.sub(r"^-", " ", sentence[q.end:q.end + 60])  # "63.03%-FLOPs reduction"
        clause = _clause(sentence, q.start)
        before = sentence[clause.start:q.start]
        best_after = self._first_metric(after)
        if best_after and _AFTER_LINK.fullmatch(after[:best_after[0]]):
            if best_after[1] in ("top-1 accuracy", "top-5 accuracy") and re.match(
                    r"^\s*top-?\s?[15]\b(?!\s+acc)[^.;]{0,25}\berror", after, re.I):
                return best_after[1].replace("accuracy", "error"), True  # "21.2% top-1 and 5.6% top-5 error"
            return best_after[1], True  # "84.3% top-1 accuracy", "1.7 mAP", "2.2% gain in top-1"
        best_before = self._last_metric(before)
        if best_before and _METRIC_LINK.fullmatch(before[best_before[0]:]):
            return best_before[1], True  # "an accuracy of 77.58%", "speedup of 2.33"
        changed = _CHANGED_BY.search(before)
        if changed and q.unit in ("%", "×", "points", ""):  # "reduces the communication volume by 22.89x"
            known = self._first_metric(changed.group(1))
            return (known[1] if known else " ".join(changed.group(1).lower().split())), True
        if best_before and q.unit in ("%", "points", ""):
            return best_before[1], False  # "accuracy on ImageNet-1K, ... an absolute gain of 2.2%"
        if best_after and best_after[0] <= 30:
            return best_after[1], False
        default = _UNIT_METRIC.get(q.unit)
        if default:
            return default, True
        if q.unit in ("h", "days", "min", "s"):
            return ("training time" if re.search(r"train|search", sentence, re.I) else "latency"), True
        if best_before:
            return best_before[1], False
        if best_after:
            return best_after[1], False
        found = self._first_metric(sentence)
        return (found[1] if found else ""), False

    def _first_metric(self, text: str) -> tuple[int, str] | None:
        hits = [(m.start(), i, metric.name) for i, metric in enumerate(self.vocab.metrics)
                for m in [metric.pattern.search(text)] if m]
        return (min(hits)[0], min(hits)[2]) if hits else None

    def _last_metric(self, text: str) -> tuple[int, str] | None:
        hits = []
        for i, metric in enumerate(self.vocab.metrics):
            for m in metric.pattern.finditer(text):
                hits.append((m.end(), -i, m.start(), metric.name))
        if not hits:
            return None
        end, _, start, name = max(hits)
        return end, name

    def datasets(self, sentence: str) -> list[tuple[int, str]]:
        return [(m.start(), m.group(0)) for m in self.vocab.dataset_pattern.finditer(sentence)]

    def dataset_for(self, sentence: str, q: Quantity) -> str:
        found = self.datasets(sentence)
        if not found:
            return ""
        before = [d for d in found if d[0] < q.start]
        after = [d for d in found if d[0] > q.start]
        if after and re.fullmatch(r"\s*(?:[\w\-]+\s+){0,3}?(?:on|in|for|over)\s+(?:the\s+)?", sentence[q.end:after[0][0]]):
            return after[0][1]  # "96% on CIFAR10", "84.3% top-1 accuracy on ImageNet"
        if before and (not after or q.start - before[-1][0] <= after[0][0] - q.end + 40):
            return before[-1][1]
        return after[0][1] if after else before[-1][1]

    def respectively(self, sentence: str, found: list[Quantity]) -> dict[int, str]:
        """"6.5% and 4.1% on CIFAR100 and ImageNet-1K, respectively": the k-th number of a list
        goes with the k-th dataset of a list as long, the nearest such list. {number start: dataset}."""
        if not _RESPECTIVELY.search(sentence):
            return {}
        numbers = _runs([(q.start, q.end, q) for q in found], sentence)
        datasets = _runs([(at, at + len(d), d) for at, d in self.datasets(sentence)], sentence)
        paired: dict[int, str] = {}
        for run in numbers:
            same = [d for d in datasets if len(d) == len(run) > 1]
            if not same:
                continue
            nearest = min(same, key=lambda d: min(abs(d[0][0] - run[-1][1]), abs(run[0][0] - d[-1][1])))
            for (start, _, _), (_, _, name) in zip(run, nearest):
                paired[start] = name
        return paired

    def compared_with(self, sentence: str, q: Quantity) -> tuple[str, int]:
        """What the clause of `q` compares with ('ResNet-50', 'state-of-the-art methods'), and where."""
        clause = _clause(sentence, q.start)
        candidates = []
        for m in _COMPARE.finditer(clause.text):
            rest = clause.text[m.end():]
            if m.group(0).strip().lower() == "over" and not re.match(r"(?:the\s+)?[A-Z]|(?:the\s+)?(?:previous|prior|state|baseline|existing|strong|standard|vanilla|original|dense|full)", rest):
                continue  # "over 10x": an amount, not a baseline
            name = _NAMEY.match(rest)
            if name and (not _TARGET_END.match(rest[name.end():]) is None or rest[name.end():name.end() + 1] in ("", " ", ",", ".", ";", ")", "(")):
                target = name.group(0)
                more = re.match(r"(?:[+/][\w\-.]+|\s+[A-Z][\w\-]*\d[\w\-]*)*", rest[name.end():])
                target += more.group(0) if more else ""
            else:
                end = _TARGET_END.search(rest)
                target = rest[: end.start()] if end else rest
                target = " ".join(target.split()[:6])
            target = target.strip(" ,.;:'\"")
            if target and not re.fullmatch(r"\d[\d.,]*\s*\S*", target):
                candidates.append((clause.start + m.start(), target))
        candidates = [c for c in candidates if not self.vocab.dataset_pattern.fullmatch(c[1])]
        if not candidates:
            return "", -1
        # "60% faster than MnasNet": the comparison right after the number is its own
        following = [c for c in candidates if q.end <= c[0] <= q.end + 30]
        prior = [c for c in candidates if c[0] < q.start]
        pick = following[0] if following else (prior[-1] if prior else candidates[0])
        return pick[1], pick[0]

    # -- the claim --------------------------------------------------------------------------
    def is_result(self, sentence: str, q: Quantity, metric: str, adjacent: bool) -> bool:
        if _list_marker(sentence, q):
            return False
        rest = sentence[q.end:]
        if q.unit == "bits":
            return False  # "4-bit weights": a set-up
        if q.unit == "%" and _SETUP_SHARE.match(rest):
            return False
        if q.unit == "×" and re.match(r"^\s*(?:[A-Z]\w*\d\w*|GPUs?|TPUs?|nodes|machines|devices)\b", rest):
            return False  # "8x V100s": a count of machines
        if q.unit in _RESULT_UNITS:
            return True
        if metric in ("parameters", "FLOPs") and re.match(r"^\s*(?:[A-Za-z]+\s+)?(?:param|FLOP|MAC|multiply)", rest, re.I):
            return True
        if _COUNT_NOUN.match(rest):
            return False
        return bool(metric) and adjacent

    def extract(self, paper_id: str, abstract: str, own_names: list[str]) -> tuple[list[Claim], list[FlagMention]]:
        """The claims and flags of one paper's abstract (all its versions, sentences once)."""
        sentences = list(dict.fromkeys(split_sentences(abstract)))
        flags = [FlagMention(paper_id=paper_id, flag=flag, sentence=s)
                 for s in sentences for flag, rx in FLAG_PATTERNS.items() if rx.search(s)]
        flag_names = sorted({f.flag for f in flags})
        own_keys = [name_key(n) for n in own_names if name_key(n).strip()]
        written = {dataset_family(d): d for s in sentences for _, d in self.datasets(s)}
        proposal_at = next((i for i, s in enumerate(sentences) if _PROPOSAL.search(s)), 0)
        claims: list[Claim] = []
        carried = ""  # the dataset of the previous result sentence ("On COCO, X ... . X also ...")
        for pos, s in enumerate(sentences):
            found_here = ""
            prev: tuple[Claim, int] | None = None
            found = quantities(s)
            paired = self.respectively(s, found)
            for q in found:
                metric, adjacent = self.metric_for(s, q, found)
                if not self.is_result(s, q, metric, adjacent):
                    continue
                here = paired.get(q.start) or self.dataset_for(s, q)
                dataset = here or carried or (next(iter(written.values())) if len(written) == 1 else "")
                found_here = found_here or here
                target, at = self.compared_with(s, q)
                own, method = self._attribution(s, q, target, at, own_keys, own_names,
                                                background=pos < proposal_at and not _FIRST_PERSON.search(s))
                before = s[:q.start]
                relative = (q.sign == "+" or q.unit == "×" or bool(_GAIN_AFTER.match(s[q.end:]))
                            or bool(_GAIN_BEFORE.search(before)) or bool(_GAIN_LATER.match(s[q.end:])))
                if prev is not None and prev[0].relative and _LIST_GAP.fullmatch(s[prev[1]:q.start]):
                    relative = True  # "by 0.7% and 1.5%"
                task = _TASK.search(s)
                claims.append(Claim(
                    paper_id=paper_id, method=method, own=own, dataset=dataset, task=task.group(0).lower() if task else "",
                    metric=metric, value=q.value, number=q.number, magnitude=q.magnitude, unit=q.unit,
                    direction=self.vocab.direction(metric), compared_with=target if own else "",
                    relative=relative, flags=flag_names, sentence=s, position=pos,
                ))
                prev = (claims[-1], q.end)
            carried = found_here or (carried if any(c.position == pos for c in claims) else "")
        return _inherit_metric(claims), flags

    def _attribution(self, sentence: str, q: Quantity, target: str, at: int, own_keys: list[str],
                     own_names: list[str], *, background: bool) -> tuple[bool, str]:
        """(own, method): whose number `q` is."""
        before = sentence[:q.start]
        near = before[-60:]
        names = [m for m in _NAMEY.finditer(sentence) if not self.vocab.dataset_pattern.fullmatch(m.group(0))
                 and not self.vocab.find_metric(m.group(0)) and not m.group(0)[0].isdigit()]
        own_in = [m.group(0) for m in names if any(k in name_key(m.group(0)) or name_key(m.group(0)) in k for k in own_keys)]
        gain = bool(_GAIN_AFTER.match(sentence[q.end:])) or bool(_GAIN_BEFORE.search(near))
        # "compared with X's 76.1%", "than X (76.1%)", "surpassing X (74.5%)": someone else's number
        if not gain and target and 0 <= at < q.start and re.search(
                r"['’]s\s*$|\(\s*$|\b(?:than|vs\.?|versus|compared (?:to|with))\s+\S+(?:\s+\S+){0,3}\s*[(:]?\s*$", near, re.I):
            return False, target
        paren = re.search(r"(\S+)\s*\(\s*$", near)
        if not gain and paren:
            name = paren.group(1).strip(",")
            if _NAMEY.fullmatch(name) and not any(k in name_key(name) for k in own_keys) \
                    and not self.vocab.dataset_pattern.fullmatch(name):
                return False, name
        if _FROM_TO.search(near) and _TO_NEXT.match(sentence[q.end:]):
            return False, target or "baseline"
        clause = _clause(sentence, q.start)
        lead = sentence[clause.start:q.start]
        if _OTHERS.search(lead) and not _FIRST_PERSON.search(re.split(r",\s*where\b|\bwhere\b", lead)[-1]):
            background = True  # "where today's best models achieve upwards of 97%"
        if background:
            subject = [m.group(0) for m in names if m.start() < q.start and m.group(0) not in own_in]
            return False, subject[-1] if subject else ""
        if own_in:
            return True, max(own_in, key=len)
        ours = re.search(r"\bour\s+(?:[a-z][\w-]*\s+){0,2}((?:[A-Z][\w\-+]*\d[\w\-+]*|[A-Za-z]+[A-Z][\w\-+]*))", before)
        if ours:
            return True, ours.group(1)
        subject = [m.group(0) for m in names if m.start() < q.start and (at < 0 or m.start() < at)]
        if subject and not _FIRST_PERSON.search(sentence[: q.start]) and re.search(
                r"\b(achiev|obtain|reach|get|gets|attain|score|yield|set)\w*\b", sentence[subject and sentence.find(subject[-1]) or 0: q.start]):
            return True, subject[-1]
        named = [n for n in own_names[:-1] if n and not n.islower()]  # the last one is the title head
        return True, named[0] if named else ""
