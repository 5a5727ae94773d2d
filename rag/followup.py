"""Follow-up questions: use the conversation to interpret "and which of those used
transformers?".

Two parts, both here:
- reference detection (offline, always): "those/these/them/they" point at the papers the
  previous answer cited, "it/this paper" at the first of them; the search is then limited
  to those papers;
- the wording: with an LLM, the `condense_question` prompt rewrites the follow-up into a
  standalone question; offline (or when the LLM fails) a heuristic replaces the pronouns.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, Field

from rag.question import specific_terms
from rag.prompts import render
from rag.types import Answer

# references that point back on their own: "which of those", "this paper", "and ...?"
_STRONG = re.compile(r"\b(those|these|the above)\b|\b(this|that) (paper|method|work|model|approach|one)\b", re.I)
# pronouns that often point inside the question itself ("... does it train with X?"): a
# reference only in a short question that names nothing of its own
_WEAK = re.compile(r"\b(it|its|they|them|their)\b", re.I)
_PLURAL = re.compile(r"\b(those|these|them|they|their|the above)\b", re.I)
_LEAD = re.compile(r"^\s*(?:(and|also|so|but|then|ok(?:ay)?)\b[\s,]*|(what|how) about\b\s*)", re.I)
_SHORT = 12
_HISTORY_TURNS = 3
_ANSWER_CHARS = 600


class Turn(BaseModel):
    """What the conversation remembers of one answered question."""

    question: str = Field(description="The question as answered (after interpretation).")
    answer: str
    abstained: bool = False
    cited: list[str] = Field(default_factory=list, description="Paper ids, in citation order.")
    titles: list[str] = Field(default_factory=list)

    @classmethod
    def from_answer(cls, answer: Answer) -> Turn:
        return cls(
            question=answer.interpreted_as or answer.question,
            answer=answer.text,
            abstained=answer.abstained,
            # "those" after a results table are its rows' papers, not the borderline ones also cited
            cited=[c.paper_id for c in answer.citations if not answer.table or c.paper_id in {r.paper_id for r in answer.table}],
            titles=[c.title for c in answer.citations if not answer.table or c.paper_id in {r.paper_id for r in answer.table}],
        )


@dataclass
class Interpretation:
    question: str  # what to retrieve and answer with
    scope: list[str]  # paper ids to search within; empty = the whole collection
    rewritten: bool


def short_name(title: str) -> str:
    """'DeepCache: Accelerating ...' -> 'DeepCache'; otherwise the whole title."""
    head = title.split(":")[0].strip()
    return head if ":" in title and 2 <= len(head) <= 40 else title


def is_follow_up(question: str) -> bool:
    if _STRONG.search(question) or _LEAD.match(question):
        return True
    short = len(question.split()) <= _SHORT and not specific_terms(question)
    return bool(short and _WEAK.search(question))


def heuristic_rewrite(question: str, previous: Turn) -> str:
    """Replace the references with what they point at; keep the rest verbatim."""
    q = _LEAD.sub("", question, count=1).strip()
    q = re.sub(r"\b(of|among|from) (those|these|them|the above)\b", r"\1 the papers", q, flags=re.I)
    q = re.sub(r"\b(those|these)\b(?= \w+s\b)", "the", q, flags=re.I)  # "those methods"
    q = re.sub(r"\b(those|these|them|they|the above)\b", "the papers", q, flags=re.I)
    if previous.titles:
        name = short_name(previous.titles[0])
        q = re.sub(r"\b(this|that) (paper|method|work|model|approach|one)\b", name, q, flags=re.I)
        q = re.sub(r"\bits\b", f"{name}'s", q, flags=re.I)
        q = re.sub(r"\bit\b", name, q, flags=re.I)
    q = q[:1].upper() + q[1:] if q else question
    return q


def format_history(turns: list[Turn]) -> str:
    lines = []
    for t in turns[-_HISTORY_TURNS:]:
        answer = t.answer if len(t.answer) <= _ANSWER_CHARS else t.answer[:_ANSWER_CHARS] + " ..."
        lines += [f"User: {t.question}", f"Assistant: {answer}"]
    return "\n".join(lines)


def llm_rewrite(question: str, history: list[Turn], llm: Any, deadline: float | None = None) -> str | None:
    """The condense_question prompt through the LLM; None when it fails, says nothing or is not
    back by `deadline` (time.monotonic())."""
    from llama_index.core.llms import ChatMessage

    from rag.llm import call_within

    prompt = render("condense_question", history=format_history(history), question=question)
    try:
        ask = lambda: llm.chat([ChatMessage(role="user", content=prompt)])  # noqa: E731
        reply = call_within(deadline, ask) if deadline is not None else ask()
    except Exception:  # noqa: BLE001 - any failure means: use the offline heuristic
        return None
    text = (reply.message.content or "").strip().strip('"').strip()
    return text.splitlines()[0].strip() if text else None


def interpret(question: str, history: list[Turn], *, llm: Any = None, deadline: float | None = None) -> Interpretation:
    """The standalone question and search scope for `question` after `history`."""
    previous = next((t for t in reversed(history) if t.cited), None)
    if not history or not is_follow_up(question):
        return Interpretation(question, [], False)
    scope: list[str] = []
    if previous is not None:
        plural = bool(_PLURAL.search(question)) or bool(_LEAD.match(question))
        scope = list(previous.cited) if plural else previous.cited[:1]
    rewritten = llm_rewrite(question, history, llm, deadline) if llm is not None else None
    if not rewritten:
        rewritten = heuristic_rewrite(question, previous or history[-1])
    return Interpretation(rewritten, scope, rewritten != question)
