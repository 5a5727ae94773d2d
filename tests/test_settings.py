from __future__ import annotations

import re

import pytest
from pydantic import ValidationError

from rag.prompts import FIELDS, PromptError, load_prompt, placeholders
from rag.settings import PROJECT_ROOT, Settings


def test_env_example_documents_every_setting():
    text = (PROJECT_ROOT / ".env.example").read_text()
    names = set(re.findall(r"^#?\s*([A-Z_]+)=", text, re.M))
    for name, field in Settings.model_fields.items():
        alias = field.validation_alias
        expected = alias.choices[0] if alias is not None else f"RAG_{name.upper()}"
        assert expected in names, f"{expected} missing from .env.example"


def test_typos_fail_loudly(tmp_path):
    env = tmp_path / ".env"
    env.write_text("RAG_TOP_KK=3\n")
    with pytest.raises(ValidationError):
        Settings(_env_file=env)


def test_auto_backend(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    assert Settings(_env_file=None).resolved_backend() == "extractive"
    assert Settings(_env_file=None, openai_base_url="http://127.0.0.1:1/v1").resolved_backend() == "openai"
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    assert Settings(_env_file=None).resolved_backend() == "openai"
    assert Settings(_env_file=None, llm="extractive").resolved_backend() == "extractive"


def test_prompts_have_exactly_the_placeholders_the_code_fills():
    for name, fields in FIELDS.items():
        assert placeholders(load_prompt(name)) == fields
    with pytest.raises(PromptError):
        load_prompt("no_such_prompt")
