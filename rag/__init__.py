"""Cited question answering over paper abstracts."""

from rag.service import RagService
from rag.settings import Settings
from rag.types import Answer, Chunk, Citation, Hit, Paper

__all__ = ["Answer", "Chunk", "Citation", "Hit", "Paper", "RagService", "Settings"]
