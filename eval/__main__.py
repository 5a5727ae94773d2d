"""`python -m eval`: run the eval (dev and test splits, name probe) on the configured
backend and gate on eval/thresholds.json."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from eval.runner import EVAL_DIR, SPLITS, THRESHOLDS, check_thresholds, run, write_report
from rag.errors import RagError
from rag.service import RagService
from rag.redact import redact
from rag.settings import PROJECT_ROOT, load_settings


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="eval", description="Score the pipeline on eval/dev.jsonl and eval/test.jsonl.")
    p.add_argument("--index", help="index folder (default: the configured one)")
    p.add_argument("--chroma-url", metavar="URL", help="a running Chroma server for the vectors (default: RAG_CHROMA_URL)")
    p.add_argument("--out", default=None,
                   help="report folder (default: .rag/eval, ignored by git, so a test run leaves the tree clean)")
    p.add_argument("--update-report", action="store_true",
                   help="write the checked-in report in eval/results instead (refresh it on purpose)")
    p.add_argument("--split", choices=[*SPLITS, "all"], default="all", help="which split(s) to run")
    p.add_argument("--no-baselines", action="store_true", help="skip the BM25-only, dense-only and RRF runs")
    p.add_argument("--llm-judge", action="store_true",
                   help="also score answers with llama-index's Faithfulness/Correctness evaluators (needs an LLM)")
    args = p.parse_args(argv)
    splits = tuple(SPLITS) if args.split == "all" else (args.split,)
    try:
        settings = load_settings(**({"index_dir": Path(args.index)} if args.index else {}),
                                 **({"chroma_url": args.chroma_url} if args.chroma_url else {}))
        service = RagService(settings)
        service.ensure_index()
        llm = None
        if args.llm_judge:
            from rag.llm import make_llm

            llm = make_llm(settings)
        result = run(service, baselines=not args.no_baselines, splits=splits, llm=llm,
                     progress=sys.stderr.isatty())
    except RagError as exc:
        print(f"error: {redact(exc)}", file=sys.stderr)
        return 1
    thresholds = json.loads(THRESHOLDS.read_text())
    out = Path(args.out) if args.out else (EVAL_DIR / "results" if args.update_report else PROJECT_ROOT / ".rag" / "eval")
    write_report(result, thresholds, out)
    print(f"report: {out / 'latest.md'}", file=sys.stderr)
    summary = {s: r["summary"] for s, r in result["splits"].items()} | {
        "names": result.get("names"), "judge_accuracy": round(result["judge_accuracy"], 4)}
    print(json.dumps(summary, indent=1))
    failed = check_thresholds(result, thresholds)
    for f in failed:
        print(f"BELOW THRESHOLD: {f}", file=sys.stderr)
    total = sum(len(v) for k, v in thresholds.items() if k in splits or k == "names")
    print(f"eval: {total - len(failed)} passed, {len(failed)} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
