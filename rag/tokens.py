"""tiktoken, offline: point it at the BPE files that llama-index-core ships."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path


def _ensure_cache_dir() -> None:
    if os.environ.get("TIKTOKEN_CACHE_DIR"):
        return
    import llama_index.core

    cache = Path(llama_index.core.__file__).parent / "_static" / "tiktoken_cache"
    if cache.is_dir():
        os.environ["TIKTOKEN_CACHE_DIR"] = str(cache)


@lru_cache(maxsize=4)
def _encoding(name: str):  # type: ignore[no-untyped-def]
    _ensure_cache_dir()
    import tiktoken

    return tiktoken.get_encoding(name)


def count_tokens(text: str, encoding: str = "cl100k_base") -> int:
    """Tokens of `text` as OpenAI models count them (offline)."""
    return len(_encoding(encoding).encode(text, disallowed_special=()))
