"""Turn the page's 👎 votes into draft eval questions.

    .venv/bin/python -m eval.from_feedback [feedback/votes.jsonl] > drafts.jsonl

Each down-voted answer becomes one draft in the format of eval/dev.jsonl, with the
papers it cited as a *suggested* gold and an empty reference: a person fills in `type`,
`gold`, `reference` and `key_strings` before moving it into the dataset. Questions voted
down more than once appear once, a vote changed to 👍 counts as 👍; questions already in the dataset are skipped.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from eval.runner import DATASET, load_jsonl
from rag.feedback import latest_votes
from rag.settings import get_settings


def drafts(votes: list[dict[str, Any]], known: set[str]) -> list[dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for v in votes:
        q = " ".join(str(v.get("question", "")).split())
        if v.get("vote") != "down" or not q or q.lower() in known or q.lower() in out:
            continue
        out[q.lower()] = {
            "id": f"fb{len(out) + 1:02d}", "question": q, "type": "TODO",
            "gold": [c["paper_id"] for c in v.get("citations", [])] or v.get("retrieved", [])[:3],
            "reference": "", "key_strings": [],
            "draft": {"answer_voted_down": v.get("answer", ""), "abstained": v.get("abstained"),
                      "interpreted_as": v.get("interpreted_as"), "backend": v.get("backend")},
        }
    return list(out.values())


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m eval.from_feedback", description=__doc__.split("\n\n")[0])
    p.add_argument("votes", nargs="?", help="votes file (default: RAG_FEEDBACK_PATH)")
    args = p.parse_args(argv)
    path = Path(args.votes) if args.votes else get_settings().feedback_path
    if not path.exists():
        print(f"error: no votes at {path}; vote on answers in the chat page first", file=sys.stderr)
        return 1
    votes = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            votes.append(json.loads(line))
        except ValueError:
            print(f"warning: {path}:{n}: not JSON, skipped", file=sys.stderr)
    known = {item["question"].lower() for item in load_jsonl(DATASET)}
    for d in drafts(latest_votes(votes), known):
        print(json.dumps(d, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
