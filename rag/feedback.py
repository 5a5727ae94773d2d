"""Thumbs up/down from the page, appended to a JSONL file so bad answers can become
eval questions (each line has the question, the answer, its citations and the vote).

One vote per answer per session: a vote carries a `vote_id` (the page derives it from the
session and the message), the same vote again writes nothing, and a changed vote is appended
and wins (`latest_votes` keeps the last per id). The file is capped: past `max_bytes` it is
rotated to `votes.jsonl.1` (then `.2` ...), keeping `keep` old files, so votes cannot fill the disk.
"""

from __future__ import annotations

import json
import os
import threading
from collections import OrderedDict
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal

from rag.errors import RagError
from rag.types import Answer

Vote = Literal["up", "down"]
_LOCK = threading.Lock()
_SEEN: OrderedDict[tuple[str, str], Vote] = OrderedDict()  # (file, vote_id) -> the vote written last
_SEEN_MAX = 100_000


def record_vote(path: Path, answer: Answer, vote: Vote, *, vote_id: str | None = None,
                max_bytes: int = 5_000_000, keep: int = 3) -> dict[str, Any] | None:
    """Append one vote and return the record written; None when `vote_id` already has this vote."""
    record = {
        "time": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "vote": vote,
        "vote_id": vote_id,
        "question": answer.question,
        "interpreted_as": answer.interpreted_as,
        "answer": answer.text,
        "abstained": answer.abstained,
        "backend": answer.backend,
        "citations": [c.model_dump() for c in answer.citations],
        "retrieved": [h.paper_id for h in answer.hits],
    }
    line = json.dumps(record, ensure_ascii=False) + "\n"
    key = (str(path), vote_id or "")
    try:
        with _LOCK:
            if vote_id is not None and _SEEN.get(key) == vote:
                return None
            path.parent.mkdir(parents=True, exist_ok=True)
            _rotate(path, len(line.encode()), max_bytes, keep)
            with path.open("a", encoding="utf-8") as f:
                f.write(line)
            if vote_id is not None:
                _SEEN[key] = vote
                _SEEN.move_to_end(key)
                if len(_SEEN) > _SEEN_MAX:
                    _SEEN.popitem(last=False)
    except OSError as exc:
        raise RagError(f"Could not save the vote to {path} ({exc.strerror}); check RAG_FEEDBACK_PATH.") from exc
    return record


def _rotate(path: Path, incoming: int, max_bytes: int, keep: int) -> None:
    """votes.jsonl -> votes.jsonl.1 -> ... -> votes.jsonl.<keep> (the oldest is dropped)."""
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        return
    if size + incoming <= max_bytes:
        return
    for n in range(keep, 0, -1):
        older = path.with_name(f"{path.name}.{n}")
        if n == keep:
            older.unlink(missing_ok=True)
        newer = path.with_name(f"{path.name}.{n - 1}") if n > 1 else path
        if newer.exists():
            os.replace(newer, older)
    if keep == 0:
        path.unlink()


def latest_votes(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The votes as they stand: for each `vote_id` only its last record (where the first was)."""
    out: dict[Any, dict[str, Any]] = {}
    for i, r in enumerate(records):
        out[r.get("vote_id") or ("line", i)] = r
    return list(out.values())
