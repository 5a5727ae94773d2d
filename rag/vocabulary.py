"""The vocabulary of result claims: metrics (with the direction that is better), datasets
and the paper-level flags, seeded by hand and grown from the corpus itself.

A metric is known by its surface forms ("top-1", "top1 accuracy"); the corpus adds the
short upper-case words written next to numbers in two or more abstracts ("28.4 BLEU",
"an ITR of 3.1"). A dataset is a family ("ImageNet" for ImageNet-1k and ILSVRC-2012)
plus its written form; the corpus adds names written before "dataset"/"benchmark".
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Literal

from rag.quantities import quantities
from rag.text import name_key

Direction = Literal["higher", "lower", ""]
Flag = Literal["no_extra_data", "extra_data", "zero_shot", "data_free", "training_free"]


@dataclass(frozen=True)
class Metric:
    name: str  # canonical ("top-1 accuracy")
    pattern: re.Pattern[str]
    direction: Direction = "higher"


def _m(name: str, pattern: str, direction: Direction = "higher") -> Metric:
    return Metric(name, re.compile(rf"(?<![\w-])(?:{pattern})(?![\w-])", re.I), direction)


#: most specific first: "top-1 error" before "top-1" before "error"
SEED_METRICS: tuple[Metric, ...] = (
    _m("top-1 error", r"top-?\s?1 error( rate)?", "lower"),
    _m("top-5 error", r"top-?\s?5 error( rate)?", "lower"),
    _m("top-1 accuracy", r"top-?\s?1( (classification |test |validation )?acc(uracy|\.)?)?"),
    _m("top-5 accuracy", r"top-?\s?5( acc(uracy|\.)?)?"),
    _m("mAP", r"(?-i:mAP)(@?[\d.:]+)?|mean average precision|box (?-i:mAP)"),
    _m("AP", r"(box |mask )?(?-i:AP)(50|75|@?0?\.\d+|_?[SML])?|average precision"),
    _m("mIoU", r"mIoU|mean IoU|mean IU|mean intersection[- ]over[- ]union"),
    _m("IoU", r"IoU|intersection[- ]over[- ]union"),
    _m("F1", r"F1([- ]score)?|F-score|F-measure|F1-measure"),
    _m("BLEU", r"BLEU( score)?"),
    _m("ROUGE", r"ROUGE(-\w+)?"),
    _m("FID", r"FID( score)?|Fr[eé]chet Inception Distance", "lower"),
    _m("Inception score", r"Inception Score|(?-i:IS)"),
    _m("PSNR", r"PSNR"),
    _m("SSIM", r"SSIM"),
    _m("perplexity", r"perplexit(y|ies)|(?-i:PPL)", "lower"),
    _m("bits per character", r"bits? per (character|byte)|BPC|BPB", "lower"),
    _m("WER", r"WER|word error rate", "lower"),
    _m("error rate", r"(test |classification |top-?1 )?error( rate)?s?|misclassification rate", "lower"),
    _m("AUC", r"AUC|AUROC|ROC-AUC|area under the (ROC )?curve"),
    _m("Dice", r"Dice( score| coefficient)?"),
    _m("MAE", r"MAE|mean absolute error", "lower"),
    _m("RMSE", r"RMSE|root mean squared? error", "lower"),
    _m("MSE", r"MSE|mean squared error", "lower"),
    _m("MAPE", r"MAPEs?|mean absolute percentage errors?", "lower"),
    _m("ITR", r"ITRs?|information transfer rates?"),
    _m("NDCG", r"NDCG(@\d+)?"),
    _m("MRR", r"MRR(@\d+)?"),
    _m("recall", r"recall(@\d+)?"),
    _m("precision", r"precision"),
    _m("success rate", r"success rates?"),
    _m("win rate", r"win rates?"),
    _m("speedup", r"speed-?ups?|speeds? up|(?:inference |training )?speed|faster|acceleration|accelerat(e|es|ed|ing)|quicker", "higher"),
    _m("throughput", r"throughputs?|images?/s(ec)?", "higher"),
    _m("FPS", r"FPS|frames? per second|frame ?rate", "higher"),
    _m("latency", r"latency|latencies|inference time|run-?time|response time", "lower"),
    _m("parameters", r"param(eter)?s|parameter count|model size|size reduction|(fewer|less) weights|connections|"
       r"smaller(?=\s*(?:and|than|,|\.|;|\)|while|with|$))", "lower"),
    _m("FLOPs", r"[GMT]?FLOPs?|[GM]?MACs|multiply-adds|multiply-accumulates|computations?(al)?( cost)?|compute|operations", "lower"),
    _m("memory", r"memory( footprint| usage| consumption| cost| requirements?)?|(?-i:RAM)", "lower"),
    _m("energy", r"energy( consumption| efficiency)?|power( consumption)?", "lower"),
    _m("training time", r"training (time|costs?)|GPU[- ]hours|GPU[- ]days|TPU[- ]hours|search cost", "lower"),
    _m("cost", r"costs?|cheaper", "lower"),
    _m("compression", r"compression( rate| ratio)?", "higher"),
    _m("sample efficiency", r"sample[- ]efficien(t|cy)"),
    _m("accuracy", r"acc(uracy|uracies|\.)?"),
    # the vaguest last: "96% of the model performance", "boosts the performance ... (9.79% improvement)"
    _m("performance", r"performance"),
)
METRIC_BY_NAME = {m.name: m for m in SEED_METRICS}
_ACRONYM = re.compile(r"^[A-Za-z]?[A-Z]{2,6}s?$")  # BLEU, mAP, ITR, CIDEr is mixed: caught by seed
_NOT_METRIC = {"GPU", "GPUS", "CPU", "CPUS", "TPU", "DNN", "DNNS", "CNN", "CNNS", "NAS", "LLM", "LLMS", "ONNX", "API",
               "SOTA", "RGB", "USD", "FP", "INT", "AI", "ML", "NLP", "GNN", "GNNS", "CT", "MRI", "OOD", "PDE", "PDES",
               "RNN", "SNN", "SNNS", "ANN", "ANNS", "VIT", "VITS", "IOT", "EEG", "ECG"}

_DATASET_SEED = (
    r"ImageNet(?:-?(?:1|21|22)[kK])?(?:-?(?:V2|A|R|C|O|Sketch|ReaL))?|ILSVRC(?:[- ]?\d{4})?|(?:MS[- ]?)?COCO(?:[- ]?(?:\d{4}|val|test|test-dev|minival))?|"
    r"CIFAR-?(?:10|100)(?:-C)?|CIFAR|Fashion-?MNIST|MNIST|SVHN|(?:PASCAL )?VOC(?: ?\d{4})?|PASCAL|ADE-?20[kK]|Cityscapes|"
    r"SQuAD(?: ?v?\d\.\d)?|SuperGLUE|GLUE|WMT ?'?\d{2,4}(?: English-(?:German|French))?|Kinetics(?:-\d+)?|LibriSpeech|"
    r"CelebA(?:-HQ)?|LSUN(?: \w+)?|FFHQ|enwik8|text8|WikiText-?(?:2|103)|Penn Treebank|PTB|ShapeNet|ModelNet-?40|KITTI|"
    r"nuScenes|IMDB|SST-?2|MNLI|UCF-?101|HMDB-?51|Something-Something(?: V2)?|Long Range Arena|LRA|MMLU|GSM8K|HumanEval|"
    r"CUB(?:-200(?:-2011)?)?|Stanford Cars|Flowers-?102|Places-?365|Caltech-?\d+|Tiny[- ]ImageNet|mini-?ImageNet|"
    r"LAION(?:-\w+)?|JFT(?:-\d+[MB])?|OpenWebText|The Pile|C4|BEIR|MS MARCO|Natural Questions|TriviaQA|HellaSwag|"
    r"ARC|WinoGrande|BoolQ|Charades-STA|ActivityNet(?: Captions)?|AudioSet|ESC-50|Speech Commands|TIMIT|VCTK"
)
_DATASET_BEFORE = re.compile(r"\b([A-Z][\w\-]*\d*(?:[ -][A-Z0-9][\w\-]*){0,2})\s+(?:dataset|benchmark|corpus|challenge|test set)s?\b")
_FAMILY = re.compile(r"[-\s]?(?:1k|1K|21k|22k|\d{4}|v\d(\.\d)?|test|val|dataset)$")

FLAG_PATTERNS: dict[Flag, re.Pattern[str]] = {
    "no_extra_data": re.compile(
        r"\bwithout\b[^.;]{0,80}(?:[;,]|\bor\b|\bnor\b)\s*(?:any\s+)?(?:outside|extra|external|additional) (?:training )?data\b|"
        r"\bwithout (?:using )?(?:any )?(?:extra|additional|external|more|outside) (?:training )?(?:data|images|datasets?)\b|"
        r"\bno (?:extra|additional|external) (?:training )?data\b|"
        r"\b(?:trained|training) (?:only|solely|exclusively|purely) on ImageNet(?:-1[kK])?\b|"
        r"\bonly (?:with|using|on) (?:the )?ImageNet(?:-1[kK])? (?:training )?(?:data|set|dataset)?\b", re.I),
    "extra_data": re.compile(
        r"\b(?:pre-?trained|pretraining|pre-training|trained) (?:\w+ ){0,3}on (?:the )?(?:JFT|Instagram|IG-|LAION|YFCC|"
        r"\d[\d.,]*\s?(?:[MB]|million|billion) )|\bJFT-\d+[MB]\b|"
        r"\b(?:\d[\d.]*\s?(?:[MB]|million|billion)|(?:one|a|two|three|five|ten|hundreds of) (?:million|billion)|(?:millions|billions) of) "
        r"(?:extra |additional |unlabell?ed |weakly[- ]labell?ed |web |Instagram |public )+images\b|"
        r"(?<!without )(?<!without any )\b(?:with|using|uses|use of) (?:extra|additional|external) "
        r"(?:unlabell?ed |labell?ed |training )?data\b",
        re.I),
    "zero_shot": re.compile(r"\bzero-?shot\b", re.I),
    "data_free": re.compile(r"\bdata-free\b|\bwithout (?:any )?(?:access to (?:the )?)?(?:original )?training data\b|"
                            r"\bno\b[^.;]{0,30}\btraining data (?:is |are )?(?:required|needed)\b", re.I),
    "training_free": re.compile(r"\btraining-free\b|\bwithout (?:any )?(?:additional |extra |further )?(?:re-?)?training\b|"
                                r"\bno (?:additional |extra |further )?(?:re-?)?training\b", re.I),
}


def dataset_family(name: str) -> str:
    """The dataset a written form belongs to: ImageNet-1k, ILSVRC-2012 -> 'imagenet'."""
    key = name_key(name).strip()
    if key.startswith("ilsvrc") or key.startswith("imagenet 1k") or key == "imagenet":
        return "imagenet"
    if re.match(r"(ms )?coco", key):
        return "coco"
    if re.match(r"cifar 100", key):
        return "cifar 100"
    if re.match(r"cifar 10\b", key):
        return "cifar 10"
    return name_key(_FAMILY.sub("", name)).strip() or key


def claim_words(text: str) -> tuple[set[str], set[str]]:
    """What one abstract adds to the mined vocabulary: the short upper-case words written next
    to its numbers ("28.4 BLEU", "an ITR of 3.1") and the names written before "dataset"."""
    seen: set[str] = set()
    for q in quantities(text):
        before = re.search(r"(\S+)\s+(?:score\s+)?(?:of|=|:)\s*$", text[: q.start])
        for word in (text[q.end:].split()[:1] + ([before.group(1)] if before else [])):
            w = word.strip(",.;:()[]")
            if _ACRONYM.match(w) and w.upper() not in _NOT_METRIC and w.upper()[:-1] not in _NOT_METRIC:
                seen.add(w.rstrip("s") if w.endswith("s") and w[:-1].isupper() else w)
    return seen, {m.group(1) for m in _DATASET_BEFORE.finditer(text)}


@dataclass
class ClaimVocabulary:
    """Metrics and datasets of one collection."""

    metrics: tuple[Metric, ...] = SEED_METRICS
    dataset_pattern: re.Pattern[str] = field(default_factory=lambda: re.compile(rf"(?<![\w-])(?:{_DATASET_SEED})(?![\w-])"))
    mined_metrics: tuple[str, ...] = ()
    mined_datasets: tuple[str, ...] = ()

    @classmethod
    def from_counts(cls, near_numbers: Counter[str], datasets: Counter[str], *, min_papers: int = 2) -> ClaimVocabulary:
        """Seed vocabulary plus what the corpus writes next to numbers or before 'dataset', from
        how many papers write each (`claim_words` per paper, summed: `rag.facts`)."""
        mined_m = sorted(w for w, c in near_numbers.items() if c >= min_papers
                         and not any(m.pattern.fullmatch(w) for m in SEED_METRICS) and not re.match(rf"(?:{_DATASET_SEED})$", w))
        mined_d = sorted(d for d in datasets if not re.match(r"(?:This|The|Our|A|An|Each|Both|All|New|Real)\b", d)
                         and re.search(r"[A-Z].*[A-Z0-9]|\d", d) and (len(d) >= 4 or re.search(r"\d", d))
                         and d.upper() not in _NOT_METRIC)
        return cls.mined(mined_m, mined_d)

    @classmethod
    def mined(cls, metrics: list[str] | tuple[str, ...], datasets: list[str] | tuple[str, ...]) -> ClaimVocabulary:
        """The seed vocabulary plus these mined metric words and dataset names."""
        pattern = "|".join([_DATASET_SEED, *(re.escape(d) for d in sorted(datasets, key=len, reverse=True))])
        return cls(metrics=SEED_METRICS + tuple(_m(w, re.escape(w), "") for w in metrics),
                   dataset_pattern=re.compile(rf"(?<![\w-])(?:{pattern})(?![\w-])"),
                   mined_metrics=tuple(metrics), mined_datasets=tuple(datasets))

    def direction(self, metric: str) -> Direction:
        m = METRIC_BY_NAME.get(metric)
        return m.direction if m else ""

    def find_metric(self, text: str) -> str:
        """The canonical metric named in `text`, or ''."""
        for m in self.metrics:
            if m.pattern.search(text):
                return m.name
        return ""
