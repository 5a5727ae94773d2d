"""One typed settings object, read from the environment and `.env`.

Every field has a default and a description; `.env.example` lists them all (a test checks).
"""

from __future__ import annotations

import difflib
import re
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import AliasChoices, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from rag.errors import ConfigError
from rag.redact import register_secret

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    """Settings for ingest, retrieval, answering and the page. Env vars are `RAG_<FIELD>`."""

    model_config = SettingsConfigDict(
        env_prefix="RAG_",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="forbid",
        populate_by_name=True,
    )

    # --- data and index -------------------------------------------------------------------
    corpus_dir: Path = Field(
        PROJECT_ROOT / "data" / "seeds",
        description="The collection: a folder (listing pages *.txt and/or .jsonl, .json, .csv, .bib files) or one such "
        "file; the arXiv metadata snapshot too.",
    )
    corpus_categories: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="arXiv categories to keep from the arXiv metadata snapshot, comma-separated (cs.LG,cs.CV; "
        "'cs' keeps every cs.*); empty keeps all. Other formats have no categories and are read whole.",
    )
    added_dir: Path = Field(
        PROJECT_ROOT / ".rag" / "added",
        description="Collection files added from the page (RAG_UI_ADD_PAPERS); part of the collection at every "
        "ingest, the CLI's too. Delete a file here and ingest to take its papers out again.",
    )
    index_dir: Path = Field(
        PROJECT_ROOT / ".rag" / "index", description="Where the Chroma + BM25 index lives."
    )
    chroma_url: str | None = Field(
        None,
        description="A running Chroma server, e.g. http://127.0.0.1:8000 (`chroma run --path DIR --port 8000`): "
        "vectors live there, one collection per index generation, shared by every app process; "
        "unset = a local Chroma folder inside the index folder.",
    )
    ingest_lock_wait: float = Field(
        600.0, ge=0, description="Seconds an ingest waits for another ingest of the same index to finish."
    )
    embedder: Literal["minilm", "minilm-dynamic", "openai"] = Field(
        "minilm",
        description="minilm = offline all-MiniLM-L6-v2 int8 ONNX; minilm-dynamic = the same weights with int8 "
                    "compute (about 1.5x faster ingest, needs the onnx package; a new index); openai = OpenAI "
                    "embeddings.",
    )
    model_dir: Path = Field(
        PROJECT_ROOT / ".rag" / "models", description="Where embedder=minilm-dynamic keeps the model it makes."
    )
    ingest_batch: int = Field(
        4096, ge=16, le=100_000, description="Chunks embedded and inserted into Chroma at a time: bounds an "
                                             "ingest's memory (a node holds its vector as Python floats)."
    )
    ingest_workers: int = Field(
        0, ge=0, le=64, description="Processes that run the fact and claim rules of a large ingest (see "
                                    "ingest_parallel_min); 0 = one per CPU core, at most 8; 1 = never in processes."
    )
    ingest_parallel_min: int = Field(
        1000, ge=1, description="Papers an ingest must run a rule step (facts, claims) over for it to run in "
                                "ingest_workers processes; for fewer, starting them costs more than it saves."
    )
    openai_embedding_model: str = Field(
        "text-embedding-3-small", description="Embedding model used when embedder=openai."
    )
    openai_embed_batch: int = Field(
        128, ge=1, le=2048, description="Texts per request to the embeddings server (embedder=openai)."
    )
    openai_embed_concurrency: int = Field(
        4, ge=1, le=64, description="Embedding requests in flight at once (embedder=openai); failed ones are "
                                    "retried RAG_LLM_MAX_RETRIES times with back-off by the openai client."
    )

    # --- retrieval ------------------------------------------------------------------------
    top_k: int = Field(8, ge=1, le=50, description="Papers passed to the answerer.")
    search_top_k: int = Field(10, ge=1, le=100, description="Papers returned by `search`.")
    candidate_k: int = Field(
        60, ge=10, le=500, description="Depth of each ranking fed to the reciprocal-rank-fusion baseline."
    )
    rrf_k: int = Field(60, ge=1, description="Reciprocal-rank-fusion constant (the eval's baseline).")
    fuse_dense: float = Field(
        1.0, ge=0, description="Fusion weight of dense similarity (best sentence or title), normalised to [0, 1]."
    )
    fuse_lexical: float = Field(1.0, ge=0, description="Fusion weight of BM25, normalised by the best paper's score.")
    fuse_coverage: float = Field(
        0.5, ge=0, description="Fusion weight of the idf-weighted share of question terms a paper contains."
    )
    fuse_name: float = Field(
        1.0, ge=0, description="Added to a paper whose own name (title head, 'we propose X') the question contains."
    )
    dense_exact_max_rows: int = Field(
        250_000, ge=0, description="Sentence vectors up to which a search scores every one (about 9 ms per "
        "100,000 on 2 cores); above it each paper is scored by the mean of its vectors and only the "
        "dense_candidates best papers' sentences exactly (bench/README, 'Dense search at 50k')."
    )
    dense_candidates: int = Field(
        500, ge=10, le=100_000, description="Papers whose sentences a large collection's search scores exactly: "
        "the best by mean similarity, as many by BM25, and any the question names (see dense_exact_max_rows)."
    )
    min_dense: float = Field(
        0.20,
        description="Relevance floor: a paper is dropped when its best sentence is less similar than this "
        "and it covers less than min_coverage of the question's terms and is not named.",
    )
    min_coverage: float = Field(
        0.5, ge=0, le=1, description="Relevance floor on term coverage (see min_dense)."
    )

    # --- extractive answers: evidence, composition, abstention ------------------------------
    evidence_similarity: float = Field(1.0, ge=0, description="Sentence score: weight of the sentence's own cosine similarity to the question.")
    evidence_terms: float = Field(1.0, ge=0, description="Sentence score: weight of the idf-weighted share of asked terms it contains.")
    evidence_attribute: float = Field(0.4, ge=0, description="Sentence score: bonus for a number of the asked kind (x for speed-ups, % for accuracy).")
    evidence_result: float = Field(0.15, ge=0, description="Sentence score on numeric questions: bonus for stating a result ('achieves 84.3%').")
    evidence_proposal: float = Field(0.2, ge=0, description="Sentence score on list questions: bonus for saying what the paper proposes.")
    evidence_boilerplate: float = Field(0.4, ge=0, description="Sentence score: penalty for 'code is available at ...' unless asked.")
    compose_number_lead: float = Field(0.6, ge=0, le=1, description="A sentence holding the asked number leads when it scores at least this share of the best sentence.")
    compose_second_sentence: float = Field(0.85, ge=0, le=1, description="A second sentence is quoted when it scores at least this share of the first.")
    compose_second_paper: float = Field(0.9, ge=0, le=1, description="A single-answer question cites a second paper only this close to the first (relevance ratio).")
    list_candidates: int = Field(40, ge=5, le=200, description="Papers retrieved for a list question before its property check.")
    list_max_papers: int = Field(12, ge=1, le=50, description="Papers a list answer shows (it says how many matched).")
    list_min_coverage: float = Field(0.6, ge=0, le=1, description="List property check: share of the question's terms a paper must contain ...")
    list_min_similarity: float = Field(0.45, ge=0, le=1, description="... or the cosine similarity one of its sentences must reach.")
    list_relative_cut: float = Field(0.5, ge=0, le=1, description="List answers keep papers scoring at least this share of the best paper.")
    abstain_min_coverage: float = Field(0.45, ge=0, le=1, description="Abstain when the best paper covers less of the question's terms than this ...")
    abstain_alternative: float = Field(0.6, ge=0, le=1, description="When the best paper lacks a dataset or name the question gives, a paper that has them answers if this close in relevance.")
    abstain_min_similarity: float = Field(0.35, ge=0, le=1, description="... and no sentence is more similar to the question than this.")

    # --- answering ------------------------------------------------------------------------
    llm: Literal["auto", "extractive", "openai"] = Field(
        "auto",
        description="auto = openai when OPENAI_API_KEY or OPENAI_BASE_URL is set, else extractive.",
    )
    llm_model: str = Field("gpt-4o-mini", description="Chat model name for the openai backend.")
    openai_api_key: SecretStr | None = Field(
        None,
        validation_alias=AliasChoices("OPENAI_API_KEY", "openai_api_key"),
        description="OpenAI key (or any token your compatible server expects).",
    )
    openai_base_url: str | None = Field(
        None,
        validation_alias=AliasChoices("OPENAI_BASE_URL", "openai_base_url"),
        description="OpenAI-compatible server, e.g. http://127.0.0.1:8000/v1 (vLLM, Ollama).",
    )
    llm_timeout: float = Field(30.0, gt=0, description="Seconds one read from the LLM server may wait (connect, next token).")
    llm_deadline: float = Field(
        60.0, gt=0, description="Seconds one whole answer may take: follow-up rewrite, connect, first token and "
        "the whole stream, retries included. Past it the extractive answer is shown."
    )
    llm_max_tokens: int = Field(800, ge=16, le=16384, description="Most tokens the LLM may write for one answer.")
    llm_max_retries: int = Field(1, ge=0, le=5, description="Retries after a failed LLM call.")
    llm_temperature: float = Field(0.0, ge=0, le=2, description="Sampling temperature.")
    context_tokens: int = Field(
        3000, ge=200, description="Token budget (tiktoken) for the sources in the LLM prompt."
    )
    max_question_chars: int = Field(
        2000, ge=10, description="Longer questions are refused with a clear message."
    )

    # --- page -----------------------------------------------------------------------------
    gradio_server_name: str = Field(
        "127.0.0.1",
        validation_alias=AliasChoices("GRADIO_SERVER_NAME", "gradio_server_name"),
        description="Interface the chat page listens on.",
    )
    gradio_server_port: int = Field(
        7860,
        validation_alias=AliasChoices("GRADIO_SERVER_PORT", "gradio_server_port"),
        description="Port of the chat page.",
    )
    ui_concurrency: int = Field(
        4, ge=1, le=64, description="Extractive questions the page answers at the same time (others queue); "
                                    "LLM answers have their own RAG_LLM_CONCURRENCY slots on top, so they never make these wait."
    )
    ui_max_upload_bytes: int = Field(
        0, ge=0, description="Largest file Gradio's upload route accepts; 0 refuses every file (the page has no file "
                             "input), except with RAG_UI_ADD_PAPERS, where 0 means 50 MB."
    )
    ui_cache_hours: float = Field(
        1.0, gt=0, description="Files the page's server keeps in its temporary cache are deleted after this many hours."
    )
    ui_saved_turns: int = Field(
        20, ge=0, le=200, description="Answers of a conversation the page keeps in the browser's storage, so a reload "
                                      "brings the conversation back (0: nothing is stored)."
    )
    ui_storage_secret: SecretStr | None = Field(
        None, description="Key the page encrypts the stored conversation with; unset, a new one per server start "
                          "(a reload keeps the conversation, a server restart starts a new one)."
    )
    ui_add_papers: bool = Field(
        False, description="Let the page add papers from an uploaded collection file (JSONL, JSON, CSV, BibTeX, the "
                           "arXiv snapshot) to RAG_ADDED_DIR and the index; the collection changes for every user."
    )
    ui_mcp: bool = Field(
        False, description="Also serve the collection as MCP tools (search_papers, ask_papers) at "
                           "/gradio_api/mcp/ on the page's server, for assistants that speak MCP."
    )
    llm_concurrency: int = Field(
        4, ge=1, le=64, description="LLM answers in flight at once (page workers and threads); one more is answered "
                                    "extractively at once, with a notice, instead of waiting."
    )
    feedback_path: Path = Field(
        PROJECT_ROOT / "feedback" / "votes.jsonl",
        description="Thumbs up/down from the page are appended here (JSONL).",
    )
    feedback_max_bytes: int = Field(
        5_000_000, ge=10_000, description="The votes file is rotated (votes.jsonl.1, .2, ...) when it would grow past this."
    )
    feedback_keep: int = Field(3, ge=0, le=100, description="Rotated votes files kept; older ones are deleted.")

    @field_validator("corpus_categories", mode="before")
    @classmethod
    def _split_categories(cls, value: object) -> object:
        """'cs.LG, cs.CV' (the environment, --categories) as a list; a list stays one."""
        if isinstance(value, str):
            return [c for c in re.split(r"[,\s]+", value) if c]
        return value

    @field_validator("openai_api_key", mode="before")
    @classmethod
    def _clean_key(cls, value: object) -> object:
        """A key loses the whitespace around it (a trailing newline in .env) and may hold no other."""
        raw = value.get_secret_value() if isinstance(value, SecretStr) else value
        if not isinstance(raw, str):
            return value
        register_secret(raw)
        key = raw.strip()
        if any(c.isspace() or ord(c) < 32 or ord(c) == 127 for c in key):
            raise ValueError("the key contains spaces or control characters; it cannot be sent in an HTTP header")
        return key or None

    @field_validator("openai_base_url", mode="before")
    @classmethod
    def _clean_url(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        url = _register_userinfo(value.strip())
        if url and not re.match(r"^https?://[^/\s]+", url):
            raise ValueError("expected a URL such as http://127.0.0.1:8000/v1")
        return url or None

    @field_validator("chroma_url", mode="before")
    @classmethod
    def _clean_chroma_url(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        url = _register_userinfo(value.strip()).rstrip("/")
        if url and not re.match(r"^https?://[^/\s@]*@?[^/\s@]+$", url):
            raise ValueError("expected the server's address only, such as http://127.0.0.1:8000")
        if url:
            urlsplit(url).port  # noqa: B018 - raises ValueError for a port that is not a number 0-65535
        return url or None

    @property
    def openai_configured(self) -> bool:
        """Whether an OpenAI(-compatible) server is set: a key, a base URL, or both."""
        return bool(self.openai_api_key or self.openai_base_url)

    def resolved_backend(self) -> Literal["extractive", "openai"]:
        """The answer backend `auto` stands for."""
        if self.llm == "auto":
            return "openai" if self.openai_configured else "extractive"
        return self.llm

    @property
    def embedder_id(self) -> str:
        """Recorded in the index so that two embedders are never mixed."""
        if self.embedder == "openai":
            return f"openai:{self.openai_embedding_model}"
        if self.embedder == "minilm-dynamic":
            from rag.quantise import RECIPE

            return f"minilm:all-MiniLM-L6-v2-onnx-{RECIPE}"
        return "minilm:all-MiniLM-L6-v2-onnx-int8"


def _register_userinfo(url: str) -> str:
    """`url` unchanged; its user and password ("http://user:secret@host") are registered as
    secrets, so they never reach an output."""
    userinfo = re.match(r"^[a-zA-Z][\w+.\-]*://([^/@\s]+)@", url)
    if userinfo:
        for part in userinfo.group(1).split(":"):
            register_secret(part)
        register_secret(userinfo.group(1))
    return url


def _setting_name(loc: tuple[object, ...]) -> str:
    name = str(loc[0]) if loc else "?"
    field = Settings.model_fields.get(name)
    if field is not None:
        alias = field.validation_alias
        return alias.choices[0] if isinstance(alias, AliasChoices) else f"RAG_{name.upper()}"
    return name.upper()


def load_settings(**overrides: object) -> Settings:
    """Settings from the environment, `.env` and `overrides`; a bad one is a ConfigError that names
    the setting and the reason, never its value (a mistyped variable may hold a key)."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = []
        for err in exc.errors(include_input=False, include_url=False):
            name = _setting_name(tuple(err.get("loc", ())))
            if err.get("type") == "extra_forbidden":
                known = [_setting_name((n,)) for n in Settings.model_fields]
                close = difflib.get_close_matches(name.upper(), known, n=1, cutoff=0.6)
                hint = f" (did you mean {close[0]}?)" if close else ""
                problems.append(f"setting {name} is not known{hint}")
            else:
                reason = str(err.get("msg", "invalid")).removeprefix("Value error, ")
                problems.append(f"setting {name} is invalid: {reason}")
        raise ConfigError("; ".join(problems) + " (check .env and the environment; .env.example lists every setting)") from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return load_settings()
