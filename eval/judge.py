"""The eval's support judge is the library's (rag/support.py): the same check scores answers
offline and flags unsupported LLM sentences at answer time."""

from rag.support import SupportJudge

__all__ = ["SupportJudge"]
