"""The `openai` backend: OpenAI or any OpenAI-compatible server, through llama-index's
OpenAILike (which accepts model names it does not know), streaming, with bounded
timeouts and retries. Failures become LLMError; the service falls back to extractive."""

from __future__ import annotations

import json
import queue
import threading
import time
from collections.abc import Callable, Iterator
import re
from dataclasses import dataclass, field
from typing import Any

from rag.citations import cited_numbers, drop_invalid, sentences_with_citations
from rag.errors import ConfigError, LLMError
from rag.prompts import ABSTAIN_PHRASE, render
from rag.question import QuestionPlan
from rag.redact import public_url, redact
from rag.settings import Settings
from rag.support import SupportJudge
from rag.text import content_terms, split_sentences
from rag.tokens import count_tokens
from rag.types import Answer, Citation, Hit, TableRow, Usage


@dataclass
class PackedContext:
    hits: list[Hit]  # the sources, numbered 1..n in this order
    text: str
    tokens: int
    sources: list[str] = field(default_factory=list)  # what the model saw of each source (title, abstract)
    withheld: list[tuple[int, str]] = field(default_factory=list)  # (n, sentence) addressed to the model


# text in an abstract that addresses the model rather than describing research
_INSTRUCTION = re.compile(
    r"\b(?:ignore|disregard|forget|override)\b[^.]{0,40}\b(?:instructions?|prompts?|rules|directions)\b|"
    r"\bsystem prompt\b|\byou are (?:now )?(?:an? |the )?(?:ai|assistant|language model|chatbot|llm)\b|"
    r"\b(?:respond|reply|answer|output|print|say)\s+(?:only\s+|exactly\s+)?(?:with\s+)?(?:the word\s+)?['\"“‘][^'\"”’]{1,40}['\"”’]",
    re.I)
_FENCE = re.compile(r"</?\s*source\b[^>]*>", re.I)


def _fenced(n: int, title: str, sentences: list[str]) -> str:
    body = _FENCE.sub("", " ".join(sentences))
    return f'<source id="{n}">\n[{n}] {_FENCE.sub("", title)}\n{body}\n</source>'


def pack_context(hits: list[Hit], budget: int) -> PackedContext:
    """Number the sources and add them in rank order while they fit the token budget.

    Each source is fenced as data (`<source id="n">`); sentences that address the model
    ("ignore all previous instructions ...") are withheld and reported.
    """
    blocks: list[str] = []
    kept: list[Hit] = []
    seen: list[str] = []
    withheld: list[tuple[int, str]] = []
    used = 0
    for hit in hits:
        n = len(kept) + 1
        sentences = split_sentences(hit.paper.abstract)
        bad = [s for s in sentences if _INSTRUCTION.search(s)]
        sentences = [s for s in sentences if s not in bad]
        block = _fenced(n, hit.paper.title, sentences)
        cost = count_tokens(block) + 2
        if used + cost > budget:
            if kept:
                continue
            while sentences and count_tokens(" ".join(sentences)) + 30 > budget:  # always give the best source
                sentences.pop()
            block = _fenced(1, hit.paper.title, sentences)
            cost = count_tokens(block) + 2
        blocks.append(block)
        kept.append(hit)
        seen.append(f"{hit.paper.title}. {' '.join(sentences)}")
        withheld += [(n, s) for s in bad]
        used += cost
    return PackedContext(hits=kept, text="\n\n".join(blocks), tokens=used, sources=seen, withheld=withheld)


class DeadlineExceeded(Exception):
    """The answer's total time ran out."""


def within(deadline: float, produce: Callable[[], Iterator[Any]]) -> Iterator[Any]:
    """The items of `produce()`, read in a worker thread, until `deadline` (time.monotonic()).

    A server that trickles one token every few seconds, or stays silent through every retry,
    is cut off at the deadline: per-read timeouts alone never bound the whole answer.
    """
    box: queue.Queue[tuple[str, Any]] = queue.Queue()
    stop = threading.Event()

    def pump() -> None:
        try:
            for item in produce():
                if stop.is_set():
                    return
                box.put(("item", item))
            box.put(("end", None))
        except BaseException as exc:  # noqa: BLE001 - handed to the reader
            box.put(("error", exc))

    threading.Thread(target=pump, daemon=True, name="llm-stream").start()
    try:
        while True:
            remaining = deadline - time.monotonic()
            try:
                kind, item = box.get(timeout=max(0.0, remaining))
            except queue.Empty:
                raise DeadlineExceeded from None
            if kind == "end":
                return
            if kind == "error":
                raise item
            yield item
    finally:
        stop.set()


def call_within(deadline: float, fn: Callable[[], Any]) -> Any:
    """`fn()` if it returns before `deadline`; else DeadlineExceeded."""
    for item in within(deadline, lambda: iter([fn()])):
        return item
    raise DeadlineExceeded


def _finished(chunk: Any) -> bool:
    """Whether this streamed chunk carries the server's finish_reason (the answer is complete)."""
    choices = getattr(getattr(chunk, "raw", None), "choices", None) or []
    return any(getattr(c, "finish_reason", None) for c in choices)


def make_llm(settings: Settings) -> Any:
    from llama_index.llms.openai_like import OpenAILike

    if not settings.openai_configured:
        raise ConfigError(
            "The openai backend needs OPENAI_API_KEY or OPENAI_BASE_URL; set one in .env "
            "or use RAG_LLM=extractive."
        )
    return OpenAILike(
        model=settings.llm_model,
        api_base=settings.openai_base_url or "https://api.openai.com/v1",
        api_key=settings.openai_api_key.get_secret_value() if settings.openai_api_key else "none",
        is_chat_model=True,
        timeout=min(settings.llm_timeout, settings.llm_deadline),
        max_retries=settings.llm_max_retries,
        max_tokens=settings.llm_max_tokens,
        temperature=settings.llm_temperature,
        context_window=128_000,
    )


def best_quote(claims: list[str], hit: Hit, withheld: frozenset[str] = frozenset()) -> str:
    """The abstract sentence that shares most terms with the (supported) sentences citing it;
    none when no supported sentence cites it. Withheld sentences are never a quote."""
    want = content_terms(" ".join(claims))
    sentences = [s for s in split_sentences(hit.paper.abstract) if s not in withheld]
    if not sentences or not claims:
        return ""
    return max(sentences, key=lambda s: len(want & content_terms(s)))


def build_answer(question: str, raw: str, ctx: PackedContext, usage: Usage, all_hits: list[Hit],
                 judge: SupportJudge | None = None) -> Answer:
    """Validate the model's citations, check each cited sentence against what the model saw of
    its sources (`judge`), and attach the supporting sentences."""
    text, dropped = drop_invalid(raw.strip(), len(ctx.hits))
    abstained = ABSTAIN_PHRASE.lower().rstrip(".") in text.lower()
    notices = []
    if dropped:
        notices.append(f"Removed citations to sources that do not exist: {dropped}.")
    if ctx.withheld:
        notices.append("Withheld from the model, as text addressed to it rather than research: "
                       + "; ".join(f"[{n}] \"{s[:80]}\"" for n, s in ctx.withheld) + ".")
    claims: dict[int, list[str]] = {}
    unsupported: list[str] = []
    miscited: list[str] = []  # cite sources that do not support them
    for sentence, nums in sentences_with_citations(text):  # sentences already without their markers
        # a sentence citing nothing is held against every source the model saw
        against = nums or list(range(1, len(ctx.sources) + 1))
        if judge is not None and not abstained and not any(judge(sentence, ctx.sources[n - 1]) for n in against):
            unsupported.append(sentence)
            if nums:
                miscited.append(sentence)
            continue  # an unsupported sentence lends no quote to its source
        for n in nums:
            claims.setdefault(n, []).append(sentence)
    if miscited:
        notices.append(f"{len(miscited)} sentence(s) of this answer are not supported by the sources they cite: "
                       + " ".join(f"\"{s}\"" for s in miscited))
    if len(unsupported) > len(miscited):
        notices.append(f"{len(unsupported) - len(miscited)} uncited sentence(s) are not supported by any source: "
                       + " ".join(f"\"{s}\"" for s in unsupported if s not in miscited))
    citations = [
        Citation(n=n, paper_id=ctx.hits[n - 1].paper_id, title=ctx.hits[n - 1].paper.title,
                 quote=best_quote(claims.get(n, []), ctx.hits[n - 1], frozenset(s for _, s in ctx.withheld)))
        for n in cited_numbers(text)
    ]
    if not citations and not abstained:
        notices.append("The model cited no sources; treat this answer with care.")
    return Answer(
        question=question, text=text, abstained=abstained, backend="openai",
        citations=[] if abstained else citations, hits=all_hits,
        notice=" ".join(notices) or None, usage=usage, unsupported=unsupported,
    )


_GUIDANCE = {
    "list": "This asks for papers: answer with one line per matching source, most relevant first: "
            "'- **name of the method or paper**: what it proposes for the asked topic [n]'. "
            "Say how many sources match.",
    "best": "This asks for the best result: name the paper(s) and the numbers exactly as written, one line each.",
    "compare": "This compares {items}: one short paragraph per item, each starting with its name in bold, "
               "then the contrast on what is asked when the sources give comparable numbers. If no source "
               "covers an item, say 'The sources have no paper on <item>.'",
    "yesno": "This is a yes/no question: start with Yes or No only if a source states it, then the evidence.",
}


def guidance(plan: QuestionPlan) -> str:
    """How the answer should be laid out for this question (from the question plan)."""
    text = _GUIDANCE.get(plan.intent, "Lead with the sentence that answers it, introduced by the paper's name in bold.")
    if plan.intent == "compare":
        text = text.format(items=" and ".join(plan.items) or "the items named")
    if plan.numeric:
        text += " Give the numbers first, copied exactly, with what they measure and on which dataset."
    return text


def table_context(rows: list[TableRow]) -> str:
    """The result rows of a table question as structured context (JSON lines)."""
    if not rows:
        return ""
    lines = [json.dumps({k: v for k, v in r.model_dump().items() if k not in ("title", "quote")}) for r in rows]
    return ("\nResult rows extracted from these sources (one per claim; [n] is the source, values verbatim). "
            "Answer from these rows: compare their values as given and cite each row's [n]; list every "
            "qualifying row:\n" + "\n".join(lines) + "\n")


def stream_llm_answer(
    plan: QuestionPlan, hits: list[Hit], settings: Settings, *, llm: Any = None, table: list[TableRow] | None = None,
    deadline: float | None = None, judge: SupportJudge | None = None,
) -> Iterator[str | Answer]:
    """Yield text deltas as they arrive, then the final Answer. Raises LLMError, also when the
    whole answer takes longer than `deadline` (default: settings.llm_deadline from now) or the
    stream ends before the server says it is finished."""
    import openai
    from llama_index.core.llms import ChatMessage

    llm = llm or make_llm(settings)
    system = render("answer_system", abstain_phrase=ABSTAIN_PHRASE)
    budget = max(200, settings.context_tokens)
    ctx = pack_context(hits, budget)
    question = plan.question
    rows = [r for r in table or [] if r.n <= len(ctx.hits)]
    user = render("answer_user", sources=ctx.text, question=plan.corrected, guidance=guidance(plan),
                  table=table_context(rows))
    messages = [ChatMessage(role="system", content=system), ChatMessage(role="user", content=user)]
    usage = Usage(prompt_tokens=count_tokens(system) + count_tokens(user))
    parts: list[str] = []
    where = public_url(settings.openai_base_url) or "api.openai.com"
    deadline = deadline if deadline is not None else time.monotonic() + settings.llm_deadline
    finished = False
    try:
        for chunk in within(deadline, lambda: llm.stream_chat(messages)):
            finished = finished or _finished(chunk)
            if chunk.delta:
                parts.append(chunk.delta)
                yield chunk.delta
    except DeadlineExceeded:
        raise LLMError(f"the LLM server at {where} did not finish the answer within {settings.llm_deadline:g}s "
                       "(RAG_LLM_DEADLINE)") from None
    except openai.APITimeoutError as exc:
        raise LLMError(f"the LLM server at {where} did not answer within {min(settings.llm_timeout, settings.llm_deadline):g}s") from exc
    except openai.APIConnectionError as exc:
        raise LLMError(redact(f"cannot reach the LLM server at {where} ({exc.__cause__ or exc})")) from exc
    except openai.APIStatusError as exc:
        raise LLMError(f"the LLM server at {where} answered HTTP {exc.status_code}") from exc
    except Exception as exc:  # noqa: BLE001 - malformed bodies surface as assorted errors
        raise LLMError(f"the LLM server at {where} sent a reply that could not be read ({type(exc).__name__})") from exc
    raw = "".join(parts)
    if not raw.strip():
        raise LLMError(f"the LLM server at {where} returned an empty or unreadable answer")
    if not finished:
        raise LLMError(f"the LLM server at {where} broke off the answer before finishing it (truncated stream)")
    usage.completion_tokens = count_tokens(raw)
    answer = build_answer(question, raw, ctx, usage, hits, judge)
    answer.table = rows
    yield answer


class OpenAIAnswerer:
    """The openai backend behind the Answerer interface (rag/answer.py)."""

    backend = "openai"

    def __init__(self, settings: Settings, llm: Any = None, embedder: Any = None):
        self.settings = settings
        self.llm = llm
        self.judge = SupportJudge(embedder)

    def stream(self, plan: QuestionPlan, hits: list[Hit], table: list[TableRow] | None = None,
               deadline: float | None = None) -> Iterator[str | Answer]:
        yield from stream_llm_answer(plan, hits, self.settings, llm=self.llm, table=table, deadline=deadline,
                                     judge=self.judge)
