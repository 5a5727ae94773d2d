"""A search starts quickly: the modules it needs do not import llama-index, Chroma (answers read
the generation's vectors.npy), the page or an LLM client."""

from __future__ import annotations

import json
import subprocess
import sys

from rag.settings import PROJECT_ROOT

HEAVY = ("llama_index", "chromadb", "gradio", "openai", "tiktoken", "sqlalchemy", "nltk")


def _imported_after(code: str) -> list[str]:
    """The heavy top-level packages present after running `code` in a fresh interpreter."""
    probe = f"{code}\nimport json, sys\nprint(json.dumps(sorted({{m.split('.')[0] for m in sys.modules}})))"
    out = subprocess.run([sys.executable, "-c", probe], cwd=PROJECT_ROOT, capture_output=True, text=True,
                         timeout=120, check=True).stdout
    return [m for m in json.loads(out.splitlines()[-1]) if m in HEAVY]


def test_the_library_modules_a_search_imports_are_light():
    assert _imported_after("import rag.embed, rag.index, rag.retrieve, rag.service, rag.__main__") == []


def test_a_search_and_an_extractive_answer_import_no_llama_index(service):
    settings = service.settings
    code = (
        "from rag.service import RagService\n"
        "from rag.settings import Settings\n"
        f"s = Settings(_env_file=None, corpus_dir={str(settings.corpus_dir)!r}, index_dir={str(settings.index_dir)!r}, "
        "llm='extractive', openai_api_key=None, openai_base_url=None)\n"
        "svc = RagService(s)\n"
        "assert svc.search('densenet')\n"
        "assert svc.ask('what is densenet?').citations\n"
    )
    assert _imported_after(code) == []
