"""How eval/judge_calibration.jsonl was made: (claim, source paper, supported?) pairs.

For each answerable dataset question we take the abstract sentence holding its key
string and derive, with labels fixed by construction (then read through by hand):
  verbatim            -> supported
  wrong number        -> not supported (the key number changed)
  right number, wrong paper -> not supported (the sentence judged against another abstract)
  negated claim       -> not supported
plus hand-written paraphrases (supported) and plausible-but-absent claims (not supported).

    .venv/bin/python eval/make_calibration.py
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from rag.corpus import load_corpus  # noqa: E402
from rag.settings import PROJECT_ROOT  # noqa: E402
from rag.text import split_sentences  # noqa: E402

HAND = [  # (claim, gold id prefix, supported)
    ("DenseNets ease the vanishing-gradient problem and reuse features.", "densely-connected-convolutional-networks", True),
    ("Each DenseNet layer receives the feature maps of all preceding layers.", "densely-connected-convolutional-networks", True),
    ("DenseNet was evaluated on CIFAR-10, CIFAR-100, SVHN and ImageNet.", "densely-connected-convolutional-networks", True),
    ("DenseNet was evaluated on COCO object detection.", "densely-connected-convolutional-networks", False),
    ("Stochastic depth lets residual networks go beyond 1200 layers.", "deep-networks-with-stochastic-depth", True),
    ("Stochastic depth trains networks with 5000 layers.", "deep-networks-with-stochastic-depth", False),
    ("EfficientNet-B7 is 8.4x smaller than the best existing ConvNet.", "efficientnet-rethinking", True),
    ("EfficientNet-B7 is 8.4x larger than the best existing ConvNet.", "efficientnet-rethinking", False),
    ("ZeroQ needs no training or validation data.", "zeroq", True),
    ("ZeroQ needs the full ImageNet training set to calibrate.", "zeroq", False),
    ("MEAL V2 uses knowledge distillation to boost ResNet-50 above 80% top-1 on ImageNet.", "meal-v2", True),
    ("MEAL V2 relies on mixup and cutmix to reach its accuracy.", "meal-v2", False),
    ("DeepCache is training-free and reuses high-level features across denoising steps.", "deepcache", True),
    ("DeepCache requires retraining the diffusion model.", "deepcache", False),
    ("U-Net won the ISBI cell tracking challenge 2015.", "u-net-convolutional", True),
    ("U-Net lost the ISBI cell tracking challenge 2015.", "u-net-convolutional", False),
    ("Mixed precision training stores weights, activations and gradients in half precision.", "mixed-precision-training", True),
    ("ReZero trains 120-layer Transformers easily.", "rezero", True),
    ("ReZero trains 1200-layer Transformers easily.", "rezero", False),
    ("Label errors make up at least 6% of the ImageNet validation set.", "pervasive-label-errors", True),
]


def negate(sentence: str) -> str | None:
    for pat, rep in [(r"\b(is|are|was|were|can|does|do|will)\b", r"\1 not"),
                     (r"\b(achieves|reaches|obtains|improves|reduces|outperforms|surpasses|yields|requires|takes)\b",
                      lambda m: "does not " + m.group(1)[:-1] if m.group(1).endswith("es") and m.group(1)[-3] in "sx" else "does not " + m.group(1)[:-1]),
                     (r"\b(achieve|reach|obtain|improve|reduce|outperform|surpass|yield|require|take)\b", r"do not \1")]:
        new, n = re.subn(pat, rep, sentence, count=1)
        if n:
            return new
    return None


def shift_number(sentence: str, key: str) -> str | None:
    m = re.search(r"\d+(?:\.\d+)?", key)
    if not m or m.group(0) not in sentence:
        return None
    old = m.group(0)
    new = f"{float(old) * 1.37 + 1.1:.2f}".rstrip("0").rstrip(".")
    return sentence.replace(old, new, 1)


def main() -> None:
    papers = {p.paper_id: p for p in load_corpus(PROJECT_ROOT / "data" / "seeds").papers}
    items = [json.loads(x) for x in (PROJECT_ROOT / "eval" / "dev.jsonl").read_text().splitlines()]
    rows = []
    facts = [i for i in items if i["type"] in ("fact", "compare", "which") and i["key_strings"]]
    for k, item in enumerate(facts):
        gold = papers[item["gold"][0]]
        key = item["key_strings"][0]
        sentence = next((s for s in split_sentences(gold.abstract) if key.lower() in s.lower()), None)
        if not sentence:
            continue
        other = papers[facts[(k + 7) % len(facts)]["gold"][0]]
        rows.append({"claim": sentence, "paper_id": gold.paper_id, "supported": True, "kind": "verbatim"})
        rows.append({"claim": sentence, "paper_id": other.paper_id, "supported": False, "kind": "right number, wrong paper"})
        if (wrong := shift_number(sentence, key)) and wrong != sentence:
            rows.append({"claim": wrong, "paper_id": gold.paper_id, "supported": False, "kind": "wrong number"})
        if neg := negate(sentence):
            rows.append({"claim": neg, "paper_id": gold.paper_id, "supported": False, "kind": "negated"})
    for claim, prefix, label in HAND:
        pid = next(p for p in papers if p.startswith(prefix))
        rows.append({"claim": claim, "paper_id": pid, "supported": label, "kind": "hand-written"})
    out = PROJECT_ROOT / "eval" / "judge_calibration.jsonl"
    out.write_text("".join(json.dumps(r) + "\n" for r in rows))
    print(f"{len(rows)} pairs ({sum(r['supported'] for r in rows)} supported) -> {out}")


if __name__ == "__main__":
    main()
