"""The chat page: `build_demo(service) -> gr.Blocks`. Thin: every answer, search and vote
goes through `rag`; this module only turns them into page updates."""

from __future__ import annotations

import hashlib
import logging
import tempfile
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gradio as gr

from rag.errors import RagError
from rag.export import bibtex, cited_papers, conversation_markdown, papers_csv
from rag.redact import redact
from rag.feedback import record_vote
from rag.followup import Turn
from rag.retrieve import Filters
from rag.service import RagService
from rag.types import Answer, Hit
from ui.build import IndexBuild
from ui.mcp import add_tools
from ui.papers import papers_panel
from ui.render import chat_message, esc, esc_md, sources_panel, streaming_message

log = logging.getLogger(__name__)
STATIC = Path(__file__).parent / "static"
ANY = "any"
ADD_PAPERS_UPLOAD_BYTES = 50_000_000  # the upload limit RAG_UI_MAX_UPLOAD_BYTES=0 means when the page adds papers
EXAMPLES = [
    "which methods beat ResNet-50 without extra data?",
    "What speed-up does DeepCache give on Stable Diffusion?",
    "Which papers prune large language models without retraining?",
    "What does DeepCache get on SDXL?",
]


@dataclass
class ChatTurn:
    """An answered question and where its message sits in the chat (for votes)."""

    answer: Answer
    message_index: int


def status_html(build: IndexBuild | None) -> str:
    if build is None or build.ready:
        return ""
    css = "failed" if build.state == "failed" else "building"
    return f'<div class="{css}">{esc(build.message())}</div>'


def _filters(year_from: Any, year_to: Any, has_code: bool) -> Filters | None:
    lo = None if year_from in (None, "", ANY) else int(year_from)
    hi = None if year_to in (None, "", ANY) else int(year_to)
    if lo is not None and hi is not None and lo > hi:
        lo, hi = hi, lo
    chosen = Filters(year_min=lo, year_max=hi, has_code=bool(has_code))
    return chosen if chosen.chosen else None


def _message(role: str, content: str) -> dict[str, str]:
    return {"role": role, "content": content}


def saved_conversation(turns: list[ChatTurn], keep: int) -> list[dict[str, Any]]:
    """The last `keep` answers as plain JSON for the browser's storage (they carry their sources)."""
    return [t.answer.model_dump(mode="json") for t in (turns or [])[-keep:]] if keep else []


def restored_conversation(saved: Any) -> tuple[list[dict[str, str]], list[ChatTurn]]:
    """Chat messages and turns rebuilt from `saved_conversation`; what does not parse (an older
    format, a foreign value) is dropped rather than breaking the page."""
    chat: list[dict[str, str]] = []
    turns: list[ChatTurn] = []
    for item in saved if isinstance(saved, list) else []:
        try:
            answer = Answer.model_validate(item)
        except ValueError:
            continue
        chat += [_message("user", esc_md(answer.question)), _message("assistant", chat_message(answer, len(turns)))]
        turns.append(ChatTurn(answer, len(chat) - 1))
    return chat, turns


def build_demo(service: RagService, build: IndexBuild | None = None) -> gr.Blocks:
    settings = service.settings
    backends = service.backends()
    years = service.years()

    def respond(message: str, chat: list[dict], turns: list[ChatTurn], backend: str, top_k: float,
                year_from: Any, year_to: Any, has_code: bool) -> Iterator[tuple]:
        question = _checked(message)
        chat = [*(chat or []), _message("user", esc_md(question)),
                _message("assistant", "*Searching the papers…*")]
        turns = list(turns or [])
        turn_no = len(turns)
        panel = gr.skip()
        yield chat, panel, turns
        if build is not None and not build.ready:
            for progress in build.wait():
                chat[-1] = _message("assistant", f"⏳ {esc_md(progress)}")
                yield chat, panel, turns
            if not build.ready:
                chat[-1] = _message("assistant", f'<span class="notice">⚠ {esc_md(build.message())}</span>')
                yield chat, panel, turns
                return
        n_hits = [0]

        def on_hits(hits: list[Hit]) -> None:
            n_hits[0] = len(hits)

        partial = ""
        try:
            for event in service.ask_stream(
                question, backend=backend, top_k=int(top_k) or None, filters=_filters(year_from, year_to, has_code),
                history=[Turn.from_answer(t.answer) for t in turns], on_hits=on_hits,
            ):
                if isinstance(event, Answer):
                    turns.append(ChatTurn(event, len(chat) - 1))
                    chat[-1] = _message("assistant", chat_message(event, turn_no))
                    yield chat, sources_panel([t.answer for t in turns]), turns
                else:
                    partial += event
                    chat[-1] = _message("assistant", streaming_message(partial, turn_no, n_hits[0]))
                    yield chat, panel, turns
        except RagError as exc:
            chat[-1] = _message("assistant", f'<span class="notice">⚠ {esc_md(redact(exc))}</span>')
            yield chat, panel, turns
        except Exception as exc:  # noqa: BLE001 - never a stack trace on the page
            log.exception("answering %r failed", question)
            chat[-1] = _message("assistant", f'<span class="notice">⚠ Something went wrong while answering '
                                             f'({esc_md(type(exc).__name__)}); the details are in the server log.</span>')
            yield chat, panel, turns

    def _checked(message: str) -> str:
        try:
            return service.check_question(message)
        except RagError as exc:  # a toast; no stack trace in the server log for a user's typo
            raise gr.Error(redact(exc), print_exception=False) from None

    def take(message: str) -> tuple[str, str]:
        """The question leaves the box at once (what is typed while it is answered stays);
        a refused one stays in the box."""
        return _checked(message), ""

    def vote(data: gr.LikeData, turns: list[ChatTurn], request: gr.Request) -> None:
        verdict = {True: "up", "Like": "up", False: "down", "Dislike": "down"}.get(data.liked)  # type: ignore[call-overload]
        turn = next((t for t in turns or [] if t.message_index == data.index), None)
        if verdict is None or turn is None:
            return
        # one vote per answer per session: the same vote again is not written, a changed one wins
        session = getattr(request, "session_hash", None) or ""
        vote_id = hashlib.sha256(f"{session}:{turn.message_index}".encode()).hexdigest()[:16]
        try:
            written = record_vote(settings.feedback_path, turn.answer, verdict, vote_id=vote_id,  # type: ignore[arg-type]
                                  max_bytes=settings.feedback_max_bytes, keep=settings.feedback_keep)
        except RagError as exc:
            raise gr.Error(redact(exc), print_exception=False) from None
        icon = "👍" if verdict == "up" else "👎"
        gr.Info(f"Thanks — your {icon} was saved." if written else f"Your {icon} on this answer was already saved.")

    def export(turns: list[ChatTurn]) -> Any:
        """The conversation as Markdown and its cited papers as BibTeX and CSV, as files to download."""
        answers = [t.answer for t in turns or []]
        if not answers:
            raise gr.Error("Nothing to export yet: ask a question first.", print_exception=False)
        folder = Path(tempfile.mkdtemp(prefix="rag-export-"))  # Gradio copies them to its cache (cleaned)
        papers = cited_papers(answers)
        files = {"conversation.md": conversation_markdown(answers), "cited-papers.bib": bibtex(p for p, _ in papers),
                 "cited-papers.csv": papers_csv(papers)}
        for name, text in files.items():
            (folder / name).write_text(text, encoding="utf-8")
        return gr.update(value=[str(folder / name) for name in files], visible=True)

    def clear() -> tuple:
        """A new conversation: no messages, no earlier turns for follow-ups, no sources, no old export,
        nothing kept in the browser."""
        return [], sources_panel([]), [], gr.update(value=None, visible=False), []

    def save(turns: list[ChatTurn]) -> list[dict[str, Any]]:
        return saved_conversation(turns, settings.ui_saved_turns)

    def restore(saved: Any) -> tuple:
        """After a reload: the conversation the browser kept, with its sources and follow-up context."""
        chat, turns = restored_conversation(saved)
        if not turns:
            return gr.skip(), gr.skip(), gr.skip()
        return chat, sources_panel([t.answer for t in turns]), turns

    cache = int(settings.ui_cache_hours * 3600)  # Gradio's temporary files: checked and deleted this often / this old
    with gr.Blocks(title="Ask the papers", analytics_enabled=False, delete_cache=(cache, cache)) as demo:
        gr.Markdown(
            f"## Ask the papers\nAnswers come only from the abstracts of **{service.paper_count()} papers**, "
            "with `[n]` citations you can click. When the collection does not answer, it says so."
        )
        status = gr.HTML(status_html(build), elem_id="status")
        turns = gr.State([])
        secret = settings.ui_storage_secret.get_secret_value() if settings.ui_storage_secret else None
        kept = gr.BrowserState([], storage_key="ask-the-papers-conversation", secret=secret)
        with gr.Row():
            with gr.Column(scale=3):
                with gr.Row():  # above the chat: reachable without scrolling
                    clear_btn = gr.Button("New conversation", elem_id="clear", size="sm")
                    export_btn = gr.Button("Export conversation and cited papers", elem_id="export-btn", size="sm")
                exported = gr.File(label="Export: conversation (Markdown), cited papers (BibTeX, CSV)",
                                   file_count="multiple", interactive=False, visible=False, elem_id="export")
                chat = gr.Chatbot(
                    elem_id="chat", label="Chat", show_label=False, height=560, latex_delimiters=[], buttons=[],
                    placeholder="Ask about methods, results, datasets… Follow-up questions use the conversation.",
                )
                with gr.Row():
                    box = gr.Textbox(
                        elem_id="question", label="question", show_label=False, scale=6, lines=1, max_lines=4, autofocus=True,
                        placeholder="e.g. which methods beat ResNet-50 without extra data?",
                    )
                    ask = gr.Button("Ask", variant="primary", elem_id="ask", scale=1, min_width=80)
                gr.Examples(EXAMPLES, inputs=box, label="Examples")
                with gr.Accordion("Search options", open=True, elem_id="options"):
                    with gr.Row():
                        backend = gr.Radio(
                            backends, value=service.backend_for("auto") if len(backends) > 1 else backends[0],
                            label="Answer backend", elem_id="backend",
                            info=None if len(backends) > 1 else "Set OPENAI_BASE_URL or OPENAI_API_KEY to add 'openai'.",
                        )
                        top_k = gr.Slider(0, 40, value=0, step=1, label="Papers to retrieve (0 = automatic)",
                                          info=f"Automatic: {settings.top_k}, or up to {settings.list_candidates} "
                                               "for questions that ask for a list of papers.",
                                          elem_id="top-k")
                    with gr.Row():
                        choices = [ANY, *[str(y) for y in years]]
                        year_from = gr.Dropdown(choices, value=ANY, label="From year", elem_id="year-from")
                        year_to = gr.Dropdown(choices, value=ANY, label="To year", elem_id="year-to",
                                              info=f"Only {service.dated_count()} papers have a date.")
                        has_code = gr.Checkbox(False, label="Only papers with code", elem_id="has-code")
            with gr.Column(scale=2):
                gr.Markdown("### Sources")
                sources = gr.HTML(sources_panel([]), elem_id="sources", label="sources")

        papers_panel(service)
        pending = gr.Textbox(visible=False, elem_id="pending")  # the question being answered
        inputs = [pending, chat, turns, backend, top_k, year_from, year_to, has_code]
        outputs = [chat, sources, turns]
        for answered in (
            box.submit(take, [box], [pending, box], concurrency_limit=None, api_visibility="private").success(
                respond, inputs, outputs, api_name="ask"),
            ask.click(take, [box], [pending, box], concurrency_limit=None, api_visibility="private").success(
                respond, inputs, outputs, api_visibility="private"),
        ):
            answered.then(save, [turns], [kept], api_visibility="private", queue=False)
        demo.load(restore, [kept], outputs, api_visibility="private")
        respond._mcp_type = "page"  # type: ignore[attr-defined]  # the page's chat endpoint is not an MCP tool
        if settings.ui_mcp:
            add_tools(service)
        chat.like(vote, [turns], None, api_visibility="private")
        export_btn.click(export, [turns], [exported], api_visibility="private")
        clear_btn.click(clear, None, [*outputs, exported, kept], api_visibility="private")
        chat.clear(clear, None, [*outputs, exported, kept], api_visibility="private")  # the chat's own 🗑 resets everything too
        if build is not None and not build.ready:
            timer = gr.Timer(1.0)

            def tick() -> tuple:
                return status_html(build), gr.Timer(active=not build.ready and build.state != "failed")

            timer.tick(tick, None, [status, timer], api_visibility="private", show_progress="hidden")
    return demo


def launch(demo: gr.Blocks, service: RagService, **kwargs: Any) -> Any:
    """Start the server with the page's CSS/JS; `kwargs` go to `Blocks.launch`."""
    settings = service.settings
    # LLM answers are capped by the service (RAG_LLM_CONCURRENCY, never waiting for a slot), so with this
    # many workers an extractive question always finds one free even while every LLM slot is busy
    demo.queue(default_concurrency_limit=settings.ui_concurrency + settings.llm_concurrency)
    options: dict[str, Any] = dict(
        server_name=settings.gradio_server_name, server_port=settings.gradio_server_port,
        css=(STATIC / "page.css").read_text(encoding="utf-8"), js=(STATIC / "page.js").read_text(encoding="utf-8"),
        footer_links=["api"], show_error=False, max_file_size=settings.ui_max_upload_bytes or (ADD_PAPERS_UPLOAD_BYTES if settings.ui_add_papers else 0),
        mcp_server=settings.ui_mcp,
        # system fonts: the page makes no request beyond this server (works offline)
        theme=gr.themes.Soft(font=["ui-sans-serif", "system-ui", "sans-serif"],
                             font_mono=["ui-monospace", "monospace"]),
    )
    options.update(kwargs)
    # the page's chat endpoint has session state but is not offered as a tool (ui.mcp)
    warnings.filterwarnings("ignore", message="This MCP server includes a tool that has a gr.State input")
    return demo.launch(**options)
