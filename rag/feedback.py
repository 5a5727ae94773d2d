"""Thumbs up/down from the page, appended to a JSONL file so bad answers can become
eval questions (each line has the question, the answer, its citations and the vote)."""

from __future__ import annotations

import json
import threading
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal

from rag.errors import RagError
from rag.types import Answer

Vote = Literal["up", "down"]
_LOCK = threading.Lock()


def record_vote(path: Path, answer: Answer, vote: Vote) -> dict[str, Any]:
    """Append one vote; returns the record written. One write per line, under a lock."""
    record = {
        "time": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "vote": vote,
        "question": answer.question,
        "interpreted_as": answer.interpreted_as,
        "answer": answer.text,
        "abstained": answer.abstained,
        "backend": answer.backend,
        "citations": [c.model_dump() for c in answer.citations],
        "retrieved": [h.paper_id for h in answer.hits],
    }
    line = json.dumps(record, ensure_ascii=False) + "\n"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with _LOCK, path.open("a", encoding="utf-8") as f:
            f.write(line)
    except OSError as exc:
        raise RagError(f"Could not save the vote to {path} ({exc.strerror}); check RAG_FEEDBACK_PATH.") from exc
    return record
