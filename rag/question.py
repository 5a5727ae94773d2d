"""Question analysis, done once per question: a typed plan that retrieval, the answerer,
follow-ups and the LLM prompt all read.

The plan says what kind of answer is wanted (intent), which attribute is asked for
(a speed-up, an accuracy, ...), which names, datasets and metrics the question mentions
and whether each is what the question is about or only a point of reference ("faster
than ResNet"), the constraints ("without extra data"), the items of a comparison, and
the question's terms after spelling correction with their aliases from the collection.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

from rag.lexicon import Lexicon
from rag.text import content_terms, name_key

Intent = Literal["lookup", "which", "list", "compare", "yesno", "best"]
EntityKind = Literal["name", "dataset", "metric"]
Role = Literal["subject", "reference"]


@dataclass(frozen=True)
class Attribute:
    """A kind of quantity a question can ask for, and how evidence for it looks."""

    name: str
    asks: re.Pattern[str]  # in the question
    evidence: re.Pattern[str]  # in a sentence that answers it (with a number)


_NUM = r"\d+(?:[.,]\d+)?"
ATTRIBUTES: tuple[Attribute, ...] = (
    Attribute("speed", re.compile(r"\b(faster|speed-?ups?|speeds? up|accelerat(?:e|es|ed|ing|ion)|latency|fps|throughput|how fast|real[- ]time|inference time|slower|frame ?rate|frames per second)\b", re.I),
              re.compile(rf"{_NUM}\s*(?:×|x\b|times\b|fps\b|FPS\b|ms\b|milliseconds?|seconds?\b|s\b|%\s*(?:faster|speed)|frames)|\b(?:faster|speed-?up|accelerat\w*)\b", re.I)),
    Attribute("memory", re.compile(r"\b(memory|ram|footprint|gb|mb)\b", re.I),
              re.compile(rf"{_NUM}\s*(?:GB|MB|G\b|×|x\b|times|%|bits?)|\bmemory\b", re.I)),
    Attribute("parameters", re.compile(r"\b(parameters?|params|model size|how (big|large|small)|weights? count)\b", re.I),
              re.compile(rf"{_NUM}\s*(?:M\b|B\b|K\b|million|billion|×|x\b|times|%)|\bparameters?\b", re.I)),
    Attribute("compute", re.compile(r"\b(flops|macs|multiply-adds|computation\w*|compute|operations)\b", re.I),
              re.compile(rf"FLOPs|MACs|multiply-adds|{_NUM}\s*(?:[GMT]?FLOPs|%|×|x\b)", re.I)),
    Attribute("time", re.compile(r"\b(how long|hours?|days?|training time|search time|gpu[- ]days|tpu[- ]hours|minutes?)\b", re.I),
              re.compile(rf"{_NUM}\s*(?:hours?|days?|minutes?|seconds?|s\b|GPU|TPU)|\bless than a (?:second|minute|day)\b", re.I)),
    Attribute("accuracy", re.compile(r"\b(accura\w*|top-?\s?[15]|error|precision|recall|f1|auc|iou|miou|map|ap|score|performance|perplexity|bleu|fid|psnr|ssim|itr|rate|win rate|mean iu|dice|mape|mae|rmse|mse|wer|cer|auroc|f-score|r2|sdr)\b", re.I),
              re.compile(rf"{_NUM}\s*(?:%|\\%|percent|points?|pp\b|dB|bits)|\b(?:AP|mAP|IoU|F1|accuracy|error|perplexity|BLEU|FID|PSNR|score|Dice|MAPEs?|MAE|RMSE|MSE|WER|AUROC|SDR)\b[^.]{{0,40}}{_NUM}", re.I)),
    Attribute("energy", re.compile(r"\b(energy|joules?|millijoules?|watts?|power consumption)\b", re.I),
              re.compile(rf"{_NUM}\s*(?:[mµkM]?J\b|joules?|millijoules?|[mk]?W\b|watts?|×|x\b|times|%)[^.]{{0,30}}\b(energy|power)|\benergy\b[^.]{{0,40}}{_NUM}", re.I)),
    Attribute("share", re.compile(r"\b(percent(age)?s?|what fraction|what share|what proportion)\b", re.I),
              re.compile(rf"{_NUM}\s*(?:%|\\%|percent)", re.I)),
    Attribute("count", re.compile(r"\bhow many\b", re.I), re.compile(_NUM)),
)
#: units a question can name explicitly; the answering sentence must then use the unit
UNITS: dict[str, re.Pattern[str]] = {
    "milliseconds": re.compile(r"\b(ms|milliseconds?)\b", re.I),
    "frames per second": re.compile(r"\b(fps|frames per second)\b", re.I),
    "joules": re.compile(r"\b((milli)?joules?|mJ|kJ)\b", re.I),
    "watts": re.compile(r"\b(watts?|mW|kW)\b", re.I),
    "GPU or TPU hours": re.compile(r"\b(gpu|tpu)[- ]?(hours?|days?)\b", re.I),
    "gigabytes": re.compile(r"\b(GB|gigabytes?)\b", re.I),
}
_NUMERIC_Q = re.compile(r"\b(how (much|many|fast|long|large|big|small|accurate|well)|by how|by what|what (percentage|fraction|share)|what (is|was|are) the \w+ (of|on)|what .{0,30}\b(accuracy|score|speed|error|rate|size|number|reduction|improvement|gain))\b", re.I)
_COMPARE_Q = re.compile(r"\b(compare[sd]?|comparison|versus|vs\.?|differ(s|ence|ences)?|contrast)\b", re.I)
# "which gets higher top-1: X or Y?", "does X beat Y?"
_CHOICE_Q = re.compile(r"\b(which|what|who)\b.{0,60}\b(higher|better|faster|more|less|lower|larger|smaller|fewer|cheaper)\b.*\bor\b"
                       r"|^(does|do|did|is|are)\b.{3,80}\b(beat|outperform|surpass|better than|faster than|more accurate than)\b", re.I)
_YESNO_Q = re.compile(r"^(?:(?:in|for|on|with|at|according to)\b[^,?]{0,80},\s*)?(does|do|did|is|are|was|were|can|could|has|have|had|will|would|should)\b", re.I)
_BEST_Q = re.compile(r"\b(best|highest|lowest|state[- ]of[- ]the[- ]art|sota|top[- ]performing|most accurate|fastest|smallest)\b", re.I)
_PLURAL_NOUNS = r"(papers|methods|works|approaches|models|architectures|techniques|studies|networks|frameworks|systems|ones|algorithms|articles|publications|research)"
_LIST_Q = re.compile(
    rf"^(list|name|find|show|give)\b|\b(which|what|any|all|list|are there|is there)\s+([\w\-]+\s+){{0,2}}?{_PLURAL_NOUNS}\b"
    rf"|^\W*{_PLURAL_NOUNS}\b.{{0,20}}\b(that|which|who)\b|^\W*{_PLURAL_NOUNS}\s+(on|about|for|using|with|in)\b|\bwhat (approaches|methods|techniques) (exist|are there)",
    re.I,
)
_WHICH_Q = re.compile(r"^\s*(which|what)\s+(paper|method|work|model|architecture|technique|network|framework|system|approach|algorithm|study)\b|^\s*(which|what)\b", re.I)
# tokens that name something: digits (ResNet-50), inner capitals (DeepCache), acronyms (SDXL)
_SPECIFIC = re.compile(r"\b[A-Za-z]*(?:\d|[a-z][A-Z]|[A-Z]{2})(?:[\w\-.]*[A-Za-z0-9])?|\b[A-Z]{2,}\b"
                       r"|\b[A-Z][a-z]*(?:-[A-Za-z0-9]+)*-[A-Z][\w]*")
NAME_PATTERN = _SPECIFIC  # what looks like a name (the one pattern for the library)
# a capitalised word inside the question ("Mamba", "Swin") may be a name too
_CAPITALISED = re.compile(r"(?<=[a-z,;]\s)[A-Z][a-z]{2,}(?:\s+[A-Z][a-z]+){0,3}\b")
_PAPER_AFTER = re.compile(r"^(\s+[\w\-]+){0,4}?\s+(paper|article|publication)\b", re.I)
_ORIGINAL_BEFORE = re.compile(r"\b(original|seminal|the)\s+$", re.I)
_MODIFIER = re.compile(r"-(like|based|style|type|inspired|esque|ish|free|only|driven|level|wise)$", re.I)
_REFERENCE_BEFORE = re.compile(r"\b(than|over|beat|beats|outperform\w*|surpass\w*|vs\.?|versus|against|like|compared (to|with)|relative to|baseline|unlike)\s+(the\s+|a\s+|an\s+)?$", re.I)
_GENERIC = {"ai", "dnn", "dnns", "cnn", "cnns", "ml", "nn", "nns", "gpu", "gpus", "cpu", "cpus", "rnn", "rnns",
            "llm", "llms", "sota", "api", "ok", "id", "nlp", "cv", "dl", "rl", "gan", "gans", "vit", "vits", "ssm", "ssms"}
_METRIC_WORDS = {"fid", "bleu", "psnr", "ssim", "map", "ap", "iou", "miou", "flops", "gflops", "macs", "auc", "top1",
                 "top5", "top-1", "top-5", "f1", "itr", "ppl", "wer", "cer", "ndcg", "mrr", "rouge", "cider", "fps", "dice"}
#: a metric often reported by its unit alone ("+0.39dB" for PSNR)
METRIC_UNITS = {"psnr": "dB", "ssim": "SSIM", "itr": "bits/min"}
_DATASET = re.compile(r"^(imagenet|cifar|coco|ms-?coco|mnist|svhn|pascal|voc|ade20k|cityscapes|squad|glue|superglue|wmt|"
                      r"kinetics|librispeech|celeba|lsun|ffhq|enwik|wikitext|penn|ptb|shapenet|modelnet|kitti|nuscenes|"
                      r"imdb|sst|mnli|ogb|cora|ucf|hmdb|mamem|benchmark|jft|laion|openwebtext)", re.I)
_CONSTRAINTS = {
    "without extra data": re.compile(r"\bwithout (any )?(extra|additional|external|more) (training )?data\b|\bno (extra|additional|external) data\b", re.I),
    "uses extra data": re.compile(r"(?<!without )\b(with|using|uses?|used|leverag\w+|trained on) (extra|additional|external|unlabell?ed|web) "
                                r"(training )?(data|images)\b|\bextra (training )?data beyond\b|\bbeyond (ImageNet|IN-1k)\b|\bJFT\b", re.I),
    "zero-shot": re.compile(r"\bzero-shot\b", re.I),
    "data-free": re.compile(r"\bdata-free\b|\bwithout (any )?(training )?data\b", re.I),
    "training-free": re.compile(r"\btraining-free\b|\bwithout (re)?training\b", re.I),
}
_WORD = re.compile(r"[A-Za-z][A-Za-z\-']*")
_QUOTED = re.compile(r"(?<!\w)(['\"‘“`]{1,2})([^\"’”`]{8,200}?)(['\"’”`]{1,2})(?!\w)")
#: hardware a number can be reported on; "fps on a smartphone CPU" needs a sentence that says so
_HARDWARE = re.compile(r"\b(smartphones?|phones?|mobile (?:cpu|gpu|devices?)|cpus?|tpus?|fpgas?|jetson(?: \w+)?|raspberry pi|"
                       r"iphones?|pixel \d|pixel phones?|snapdragon|edge devices?|microcontrollers?)\b", re.I)


@dataclass(frozen=True)
class Entity:
    """A name, dataset or metric the question mentions."""

    text: str
    kind: EntityKind
    role: Role = "subject"
    soft: bool = False  # a modifier, metric, number or version: often absent from text that answers
    paper: bool = False  # "the original X paper": the collection must hold X's own paper
    checked: bool = True  # some paper of the collection must mention it (not for modifiers, quantities)


@dataclass(frozen=True)
class TermGroup:
    """One question term, with the other ways the collection writes it (aliases)."""

    term: str  # stemmed
    weight: float  # idf
    alternatives: tuple[frozenset[str], ...] = ()  # stemmed term sets, any of which covers it


@dataclass
class QuestionPlan:
    """Everything the pipeline needs to know about one question."""

    question: str
    corrected: str  # with misspelt words replaced by the corpus word
    intent: Intent
    numeric: bool
    attribute: Attribute | None  # the first asked attribute
    entities: list[Entity] = field(default_factory=list)
    attributes: list[Attribute] = field(default_factory=list)  # every asked attribute
    units: list[str] = field(default_factory=list)  # units the question names ("milliseconds")
    constraints: list[str] = field(default_factory=list)
    items: list[str] = field(default_factory=list)  # what a compare question compares
    terms: list[TermGroup] = field(default_factory=list)
    expansions: list[str] = field(default_factory=list)  # alias phrases added to the lexical query
    corrections: dict[str, str] = field(default_factory=dict)
    quoted: list[str] = field(default_factory=list)  # quoted spans of 3+ words: titles, usually
    setting: list[str] = field(default_factory=list)  # hardware the numbers must be on ("smartphone CPU")

    @property
    def is_list(self) -> bool:
        return self.intent in ("list", "best")

    @property
    def hard_entities(self) -> list[Entity]:
        """Entities an answering paper must mention: not modifiers, not bare metrics."""
        return [e for e in self.entities if not e.soft]

    def lexical_query(self) -> str:
        return " ".join([self.corrected, *self.expansions])

    def coverage(self, paper_terms: set[str] | frozenset[str]) -> float:
        """idf-weighted share of the question's terms that `paper_terms` contain,
        counting a term covered when one of its aliases is."""
        total = sum(g.weight for g in self.terms)
        if not total:
            return 0.0
        got = sum(g.weight for g in self.terms if g.term in paper_terms or any(a <= paper_terms for a in g.alternatives))
        return got / total


def _entities(question: str) -> list[Entity]:
    out: list[Entity] = []
    seen: set[str] = set()
    found = [(m, False) for m in _SPECIFIC.finditer(question)] + [(m, True) for m in _CAPITALISED.finditer(question)]
    for m, capitalised in sorted(found, key=lambda x: x[0].start()):
        raw = m.group(0).strip(".-")
        text = _MODIFIER.sub("", raw)
        modifier = text != raw
        key = name_key(text).strip()
        if not key or key.replace(" ", "") in _GENERIC or any(key in k for k in seen):
            continue
        if m.start() == 0 and all(part.isalpha() and (part.istitle() or part.islower()) for part in text.split("-")):
            continue  # a capitalised first word, not a name
        seen.add(key)
        low = text.lower()
        kind: EntityKind = "metric" if low.replace("-", "") in _METRIC_WORDS or low in _METRIC_WORDS else (
            "dataset" if _DATASET.match(text) else "name")
        before, after = question[: m.start()], question[m.end():]
        reference = modifier or bool(_REFERENCE_BEFORE.search(before))
        version = bool(re.fullmatch(r"[vV]\d+(\.\d+)*", text))  # "v1.5" qualifies a name
        quantity = text[0].isdigit()  # "1.3M-parameter", "12-bit": written in many ways
        paper = bool(_PAPER_AFTER.match(after) and _ORIGINAL_BEFORE.search(before))
        out.append(Entity(text=text, kind=kind, role="reference" if reference else "subject", paper=paper,
                          soft=modifier or version or quantity or capitalised or kind == "metric",
                          checked=not (modifier or quantity or version)))
    return out


def _intent(question: str, entities: list[Entity]) -> Intent:
    q = question.strip()
    names = [e for e in entities if e.kind == "name"]
    if _COMPARE_Q.search(q) and (len(names) >= 2 or re.search(r"\b(and|vs\.?|versus|with|to|from|or)\b", q, re.I)):
        return "compare"
    if _CHOICE_Q.search(q):
        return "compare"
    if _LIST_Q.search(q):
        return "best" if _BEST_Q.search(q) else "list"
    if _YESNO_Q.match(q):
        return "yesno"
    if _WHICH_Q.match(q):
        return "which"
    return "lookup"


# how two compared items are joined, strongest first
_CONNECTORS = (r"\s+(?:vs\.?|versus)\s+", r"\s+(?:compared? (?:with|to)|against)\s+", r"\s+differs? from\s+",
               r"\s+(?:beats?|outperforms?|surpass(?:es)?|better than|faster than)\s+", r",?\s+or\s+", r"\s+and\s+",
               r"\s+with\s+")
_LEAD_IN = re.compile(r"^(?:(?:how|what|which|who|does|do|did|is|are)\b[^:]*?\b(?:does|do|did|is|are)\s+|compare\s+|"
                      r"(?:what is )?the difference between\s+|contrast\s+|does\s+|do\s+|is\s+|are\s+)", re.I)
_ASPECT = re.compile(r"^(?:the\s+)?[\w\-]+(?:\s+[\w\-]+){0,2}\s+(?:of|by)\s+", re.I)  # "the latency gains of"
_CONTEXT = re.compile(r"\s+(?:in terms of|on|in|for|regarding|when it comes to|at|under)\s+[^,]*$", re.I)


def _compare_items(question: str, entities: list[Entity]) -> list[str]:
    """The two (or three) things a comparison compares, as the question words them."""
    names = [e.text for e in entities if e.kind == "name" and not e.soft]
    if len(names) >= 2 and not _CHOICE_Q.search(question) and not _QUOTED.search(question):
        return names
    sentences = [x for x in re.split(r"(?<=[.?!])\s+", question.strip()) if x]
    body = next((x for x in sentences if _COMPARE_Q.search(x) or _CHOICE_Q.search(x) or " vs" in x), sentences[-1])
    body = re.sub(r"[?.!]+$", "", body)
    quoted = {f"QUOTED{i}": m.group(2) for i, m in enumerate(_QUOTED.finditer(body))}
    for key, text in quoted.items():
        body = body.replace(text, key)
    if ":" in body:  # "Which gets higher ImageNet top-1: X or Y"; "X vs Y: what ..."
        head, tail = body.split(":", 1)
        body = tail if re.search(r"\bor\b|\bvs\b", tail) else head
    body = re.sub(r"^(on|in|for|with|at)\s+[^,]{1,40},\s*", "", body.strip(), flags=re.I)  # "On CIFAR-10, ..."
    body = _LEAD_IN.sub("", body.strip())
    body = _ASPECT.sub("", body)
    for connector in _CONNECTORS:
        parts = re.split(connector, body, maxsplit=2, flags=re.I)
        if len(parts) >= 2 and all(content_terms(x) or x.strip() in quoted for x in parts):
            break
    else:
        return names
    if "QUOTED" not in parts[-1] or not _CONTEXT.search(parts[-1]) or "QUOTED" in _CONTEXT.sub("", parts[-1]):
        parts[-1] = _CONTEXT.sub("", parts[-1])
    parts[0] = re.sub(r"\s+(compare|differ|perform)\w*$", "", parts[0], flags=re.I)
    items = []
    for part in parts:
        part = re.sub(r"^(the|a|an|both)\s+|['’]s$|\s+(compare|differ|perform)\w*$", "", part.strip(" ,'\""), flags=re.I)
        held = [text for key, text in quoted.items() if key in part]
        part = held[0] if held else part  # a quoted title is the item, whatever surrounds it
        if part:
            items.append(part.strip(" '\"‘’“”"))
    return items[:3]


def _correct(question: str, lexicon: Lexicon) -> tuple[str, dict[str, str]]:
    """Replace lower-case words the collection does not know with a close corpus word.
    Capitalised words are names: a name missing from the collection must stay missing."""
    corrections: dict[str, str] = {}

    def fix(m: re.Match[str]) -> str:
        word = m.group(0)
        if not word.islower() or "-" in word or "'" in word:
            return word
        fixed = lexicon.correct(word)
        if fixed and fixed != word:
            corrections[word] = fixed
            return fixed
        return word

    return _WORD.sub(fix, question), corrections


def _term_groups(text: str, lexicon: Lexicon) -> tuple[list[TermGroup], list[str]]:
    terms = content_terms(text)
    phrases = set(lexicon.synonyms_in(text))
    for e in _SPECIFIC.finditer(text):
        phrases |= lexicon.aliases(_MODIFIER.sub("", e.group(0).strip(".-")))
    for acr_key, acronym in lexicon.long_forms.items():
        if acr_key in name_key(text):
            phrases.add(acronym)
    alias_sets = [(p, frozenset(content_terms(p))) for p in phrases]
    groups = []
    for t in sorted(terms):
        alts = tuple(s for p, s in alias_sets if s and t not in s)
        groups.append(TermGroup(term=t, weight=lexicon.idf(t), alternatives=alts))
    return groups, sorted(p for p, s in alias_sets if s and not s <= terms)


def analyse(question: str, lexicon: Lexicon) -> QuestionPlan:
    """The plan for `question` against the collection `lexicon` describes."""
    corrected, corrections = _correct(question, lexicon)
    entities = _entities(corrected)
    intent = _intent(corrected, entities)
    attributes = [a for a in ATTRIBUTES if a.asks.search(corrected)]
    attribute = attributes[0] if attributes else None
    # "How does X reduce the parameters?" asks for a mechanism, not a number
    mechanism = bool(re.match(r"^\s*(how|why)\s+(does|do|did|can|could|is|are)\b", corrected, re.I))
    # ... and "which paper classifies text without any parameters" asks for no number:
    # an attribute asks for one when "what"/"which" names it ("What top-1 accuracy ...")
    asked = any(re.search(rf"\b(what|which)\b(?:\s+[\w\-]+){{0,3}}?\s+{re.escape(m.group(0))}", corrected, re.I)
                for a in attributes for m in [a.asks.search(corrected)] if m)
    numeric = bool(_NUMERIC_Q.search(corrected)) or (asked and intent in ("lookup", "which", "compare") and not mechanism)
    units = [u for u, rx in UNITS.items() if rx.search(corrected)]
    constraints = [name for name, rx in _CONSTRAINTS.items() if rx.search(corrected)]
    quoted = [m.group(2) for m in _QUOTED.finditer(question) if len(m.group(2).split()) >= 3]
    setting = [m.group(0) for m in _HARDWARE.finditer(corrected)] if numeric else []
    items = _compare_items(corrected, entities) if intent == "compare" else []
    terms, expansions = _term_groups(corrected, lexicon)
    return QuestionPlan(
        question=question, corrected=corrected, intent=intent, numeric=numeric, attribute=attribute,
        attributes=attributes, units=units, entities=entities, quoted=quoted, setting=setting, constraints=constraints, items=items, terms=terms, expansions=expansions,
        corrections=corrections,
    )


def specific_terms(question: str) -> list[str]:
    """The names, datasets and metrics a question mentions (ResNet-50, SDXL, FID)."""
    return [e.text for e in _entities(question)]
