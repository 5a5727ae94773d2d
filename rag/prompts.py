"""Prompt templates: files under prompts/, loaded and checked in one place.

A template whose {placeholders} differ from what the code fills fails at load time,
not in the middle of an answer.
"""

from __future__ import annotations

import string
from functools import lru_cache

from rag.settings import PROJECT_ROOT

PROMPTS_DIR = PROJECT_ROOT / "prompts"

#: The exact sentence the answerers use to abstain; detected in LLM output and tests.
ABSTAIN_PHRASE = "The collection does not answer this question."

#: template name -> the placeholders the code fills
FIELDS: dict[str, frozenset[str]] = {
    "answer_system": frozenset({"abstain_phrase"}),
    "answer_user": frozenset({"sources", "question", "guidance", "table"}),
    "condense_question": frozenset({"history", "question"}),
}


class PromptError(ValueError):
    pass


def placeholders(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


@lru_cache(maxsize=None)
def load_prompt(name: str) -> str:
    """The template text, after checking its placeholders against FIELDS."""
    if name not in FIELDS:
        raise PromptError(f"unknown prompt {name!r}; known: {sorted(FIELDS)}")
    path = PROMPTS_DIR / f"{name}.md"
    text = path.read_text(encoding="utf-8")
    found = placeholders(text)
    if found != FIELDS[name]:
        raise PromptError(
            f"{path}: placeholders {sorted(found)} but the code fills {sorted(FIELDS[name])}"
        )
    return text


def render(name: str, **values: str) -> str:
    return load_prompt(name).format(**values)


def check_all() -> None:
    """Load every template (called at start-up)."""
    for name in FIELDS:
        load_prompt(name)
