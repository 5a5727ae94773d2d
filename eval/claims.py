"""Score the claim extractor against hand-labelled abstracts (eval/claims_{dev,test}.jsonl).

    python -m eval.claims [--split dev|test|both] [--json] [--show]

Metrics per split: recall (and precision) of numbers; precision/recall/F1 of
(value, metric) pairs and of full (method, dataset, metric, value) claims; precision and
recall of paper flags; right-method precision (of extracted claims whose value and metric
match a gold claim, the share attributed to the right method, the paper's own or the
baseline's); and whether two runs give the identical table.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from rapidfuzz import fuzz

from rag.claims import Extractor
from rag.quantities import quantities
from rag.text import name_key, split_sentences
from rag.types import Claim
from rag.vocabulary import SEED_METRICS, dataset_family

HERE = Path(__file__).resolve().parent
SPLITS = {"dev": HERE / "claims_dev.jsonl", "test": HERE / "claims_test.jsonl"}


def _num(value: str) -> float | None:
    for q in quantities(value if any(c.isdigit() for c in value) else ""):
        return q.number
    try:
        return float(value.replace(",", ""))
    except ValueError:
        return None


def metric_match(gold: str, got: str) -> bool:
    """A gold metric (free words) and an extracted canonical metric agree."""
    if not gold or not got:
        return False
    if name_key(gold) == name_key(got):
        return True
    canon = next((m.name for m in SEED_METRICS if m.pattern.search(gold)), "")
    if canon and canon == got:
        return True
    family = {"top-1 accuracy": "accuracy", "top-5 accuracy": "accuracy", "top-1 error": "error rate", "mAP": "AP",
              "mIoU": "IoU", "throughput": "speedup", "FPS": "speedup", "latency": "speedup"}
    return (family.get(canon, canon) == family.get(got, got)) or fuzz.token_set_ratio(gold.lower(), got.lower()) >= 90


def dataset_match(gold: str, got: str) -> bool:
    if not gold and not got:
        return True
    if not gold or not got:
        return False
    g, e = dataset_family(gold), dataset_family(got)
    return g == e or g in e or e in g


def method_match(gold: dict[str, Any], got: Claim, own_names: list[str]) -> bool:
    if bool(gold.get("is_baseline")) == got.own:
        return False
    g = gold.get("method", "")
    if got.own and ("(ours)" in g or not g):  # "(ours)", or "(ours) on ResNet50": the unnamed own method
        return True
    cands = [got.method] + (own_names if got.own else [])
    gk = name_key(g)
    for c in cands:
        ck = name_key(c)
        if ck.strip() and gk.strip() and (ck in gk or gk in ck or fuzz.ratio(gk, ck) >= 80):
            return True
    return not got.method and not got.own and g.lower() in ("baseline", "prior work", "")


def _prf(tp: int, n_got: int, n_gold: int) -> dict[str, float]:
    p = tp / n_got if n_got else 1.0
    r = tp / n_gold if n_gold else 1.0
    return {"precision": round(p, 3), "recall": round(r, 3), "f1": round(2 * p * r / (p + r), 3) if p + r else 0.0}


def _match(gold: list[dict[str, Any]], got: list[Claim], ok: Any) -> list[tuple[int, int]]:
    """Greedy one-to-one matching of gold to extracted claims under predicate `ok`."""
    used: set[int] = set()
    pairs = []
    for gi, g in enumerate(gold):
        for ei, e in enumerate(got):
            if ei not in used and ok(g, e):
                used.add(ei)
                pairs.append((gi, ei))
                break
    return pairs


def score(rows: list[dict[str, Any]], papers: dict[str, Any], extractor: Extractor, names: dict[str, list[str]],
          *, show: bool = False) -> dict[str, Any]:
    n_gold = n_got = n_hit = 0
    vm = [0, 0, 0]
    full = [0, 0, 0]
    flags = [0, 0, 0]
    right = [0, 0]
    for row in rows:
        paper = papers[row["paper_id"]]
        own = names.get(row["paper_id"], []) + [paper.title.split(":")[0]]
        claims, mentions = extractor.extract(paper.paper_id, paper.abstract, own)
        got_nums = Counter(q.number for s in split_sentences(paper.abstract) for q in quantities(s))
        gold_nums = Counter(n for n in map(_num, row["numbers"]) if n is not None)
        n_gold += sum(gold_nums.values())
        n_got += sum(got_nums.values())
        n_hit += sum((gold_nums & got_nums).values())
        gold = row["claims"]

        def value_ok(g: dict[str, Any], e: Claim) -> bool:
            return _num(g["value"]) == e.number and metric_match(g["metric"], e.metric)

        pairs = _match(gold, claims, value_ok)
        vm[0] += len(pairs)
        vm[1] += len(claims)
        vm[2] += len(gold)
        for gi, ei in pairs:
            right[1] += 1
            right[0] += method_match(gold[gi], claims[ei], own)
        fpairs = _match(gold, claims, lambda g, e: value_ok(g, e) and dataset_match(g.get("dataset", ""), e.dataset)
                        and method_match(g, e, own))
        full[0] += len(fpairs)
        full[1] += len(claims)
        full[2] += len(gold)
        gold_flags = {f["flag"] for f in row["flags"]}
        got_flags = {m.flag for m in mentions}
        flags[0] += len(gold_flags & got_flags)
        flags[1] += len(got_flags)
        flags[2] += len(gold_flags)
        if show:
            matched = {gi for gi, _ in pairs}
            fmatched = {gi for gi, _ in fpairs}
            print(f"## {row['paper_id']}")
            for gi, g in enumerate(gold):
                mark = "OK " if gi in fmatched else ("vm " if gi in matched else "-- ")
                print(f"  {mark}gold {g['value']} {g['metric']!r} ds={g.get('dataset','')!r} m={g.get('method')!r} base={g.get('is_baseline')}")
            for ei, e in enumerate(claims):
                if ei not in {x for _, x in fpairs}:
                    print(f"     got  {e.value} {e.metric!r} ds={e.dataset!r} m={e.method!r} own={e.own} cw={e.compared_with!r}")
            if gold_flags != got_flags:
                print(f"     flags gold={sorted(gold_flags)} got={sorted(got_flags)}")
    return {
        "abstracts": len(rows),
        "numbers": {"recall": round(n_hit / n_gold, 3) if n_gold else 1.0,
                    "precision": round(n_hit / n_got, 3) if n_got else 1.0, "gold": n_gold},
        "value_metric": _prf(*vm) | {"gold": vm[2]},
        "full_claim": _prf(*full) | {"gold": full[2]},
        "flags": _prf(*flags) | {"gold": flags[2], "extracted": flags[1]},
        "right_method_precision": round(right[0] / right[1], 3) if right[1] else 1.0,
    }


def run(splits: list[str], *, show: bool = False) -> dict[str, Any]:
    from rag.claimstore import build_claims, prepare
    from rag.corpus import load_corpus
    from rag.settings import get_settings

    report = load_corpus(get_settings().corpus_dir)
    papers = {p.paper_id: p for p in report.papers}
    extractor, names = prepare(report.papers)
    out: dict[str, Any] = {}
    for split in splits:
        rows = [json.loads(line) for line in SPLITS[split].read_text().splitlines() if line.strip()]
        out[split] = score(rows, papers, extractor, names, show=show)
    first = build_claims(report.papers)
    again = build_claims(report.papers)
    out["deterministic"] = [c.model_dump() for c in first[0]] == [c.model_dump() for c in again[0]]
    out["claims_in_collection"] = len(first[0])
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m eval.claims", description=__doc__.splitlines()[0])
    ap.add_argument("--split", choices=["dev", "test", "both"], default="both")
    ap.add_argument("--json", action="store_true", help="print the scores as JSON")
    ap.add_argument("--show", action="store_true", help="print gold and extracted claims per abstract (dev only!)")
    args = ap.parse_args(argv)
    splits = ["dev", "test"] if args.split == "both" else [args.split]
    result = run(splits, show=args.show)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        for split in splits:
            r = result[split]
            print(f"{split}: numbers recall {r['numbers']['recall']:.3f} (of {r['numbers']['gold']}), "
                  f"(value, metric) F1 {r['value_metric']['f1']:.3f}, full claim F1 {r['full_claim']['f1']:.3f}, "
                  f"right method {r['right_method_precision']:.3f}, flag precision {r['flags']['precision']:.3f} "
                  f"({r['flags']['extracted']} extracted, {r['flags']['gold']} gold)")
        print(f"deterministic: {result['deterministic']}; claims in the collection: {result['claims_in_collection']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
