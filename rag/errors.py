"""Exceptions whose messages tell the user what to do next.

The CLI prints ``str(exc)`` and exits non-zero; the page shows it in a ``gr.Error``;
under tests the exception propagates.
"""

from __future__ import annotations


class RagError(Exception):
    """Base class: every error the library raises on purpose."""

    exit_code = 1


class CorpusError(RagError):
    """A listing page could not be read or parsed."""

    def __init__(self, message: str, *, path: str | None = None, line: int | None = None):
        self.path = path
        self.line = line
        where = f"{path}:{line}: " if path and line else (f"{path}: " if path else "")
        super().__init__(f"{where}{message}")


class IndexMissingError(RagError):
    """No index exists at the configured location."""

    def __init__(self, index_dir: str):
        super().__init__(f"No index at {index_dir}; run `python -m rag ingest` to build it.")


class IndexCorruptError(RagError):
    """The index exists but cannot be opened."""

    def __init__(self, index_dir: str, detail: str):
        self.detail = detail
        super().__init__(
            f"The index at {index_dir} is unreadable ({detail}); "
            "rebuild it with `python -m rag ingest --rebuild`."
        )


class EmbedderMismatchError(RagError):
    """The index was built by another embedder than the one configured."""

    def __init__(self, index_dir: str, built_with: str, configured: str):
        super().__init__(
            f"The index at {index_dir} was built with embedder '{built_with}' but "
            f"'{configured}' is configured; vectors from two embedders cannot be mixed. "
            "Run `python -m rag ingest --rebuild`, or choose another --index directory."
        )


class QuestionError(RagError):
    """The question is empty or too long."""


class LLMError(RagError):
    """The LLM server failed (connection, timeout, HTTP error, malformed reply)."""


class EmbedderError(RagError):
    """The embedding server failed (embedder=openai)."""


class ConfigError(RagError):
    """Settings are inconsistent (e.g. openai backend without key or base URL)."""
