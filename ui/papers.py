"""The "Papers in the collection" panel: every paper (title, year, authors, code, topics, gist),
searchable and sortable, with counts by year and topic, so a user knows what is worth asking.
Thin: the rows come from `RagService.overview()` (the same as `python -m rag papers`)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import gradio as gr

from rag.catalog import Overview, PaperRow
from rag.errors import RagError
from rag.redact import redact
from rag.service import RagService

ADD_TYPES = [".jsonl", ".ndjson", ".json", ".csv", ".tsv", ".bib", ".gz"]

HEADERS = ["title", "year", "authors", "code", "topics", "gist"]
ANY = "any"


def _table(rows: list[PaperRow]) -> list[list[Any]]:
    return [[r.title, r.year or "", r.authors or "", r.code, ", ".join(r.topics), r.gist] for r in rows]


def _summary(view: Overview, shown: int) -> str:
    years = ", ".join(f"{y}: {n}" for y, n in view.by_year.items())
    topics = ", ".join(f"{t} ({n})" for t, n in view.topics)
    return (f"**{shown} of {len(view.papers)} papers** shown · {view.with_code} link code · by year — {years}"
            f"\n\nTopics (the words titles share most): {topics}")


def papers_panel(service: RagService) -> None:
    """Build the panel inside the current Blocks and wire its filters."""
    view = service.overview()
    with gr.Accordion(f"Papers in the collection ({len(view.papers)})", open=False, elem_id="papers"):
        summary = gr.Markdown(_summary(view, len(view.papers)), elem_id="papers-summary")
        with gr.Row():
            search = gr.Textbox(label="Search titles and gists", placeholder="e.g. pruning", elem_id="papers-search",
                                scale=3)
            topic = gr.Dropdown([ANY, *(t for t, _ in view.topics)], value=ANY, label="Topic", elem_id="papers-topic")
            year = gr.Dropdown([ANY, *(y for y in view.by_year if y != "undated")], value=ANY, label="Year",
                               elem_id="papers-year")
            code = gr.Checkbox(False, label="Only with code", elem_id="papers-code")
        table = gr.Dataframe(_table(view.papers), headers=HEADERS, interactive=False, wrap=True, max_height=520,
                             column_widths=["30%", "6%", "7%", "17%", "12%", "28%"],
                             elem_id="papers-table")

        current = [view]  # replaced when papers are added

        def filtered(text: str, chosen_topic: str, chosen_year: str, has_code: bool) -> tuple:
            view = current[0]
            rows = view.matching(text or "", year=None if chosen_year in (None, ANY) else int(chosen_year),
                                 has_code=bool(has_code), topic="" if chosen_topic in (None, ANY) else chosen_topic)
            return _summary(view, len(rows)), _table(rows)

        inputs = [search, topic, year, code]
        for control in inputs:
            control.change(filtered, inputs, [summary, table], api_visibility="private", show_progress="hidden")
        if service.settings.ui_add_papers:
            _add_papers(service, current, inputs, filtered, [summary, table])


def _add_papers(service: RagService, current: list[Overview], inputs: list[Any], filtered: Any,
                outputs: list[Any]) -> None:
    """Upload a collection file, see the ingest's progress, then the panel with the new papers."""
    with gr.Row():
        upload = gr.File(label="Add papers from a file: JSONL, JSON, CSV, BibTeX or the arXiv snapshot",
                         file_types=ADD_TYPES, elem_id="add-file", scale=3)
        add = gr.Button("Add to the collection", elem_id="add-btn", scale=1)
    status = gr.Markdown(elem_id="add-status")

    def run(path: str | None, *chosen: Any) -> Iterator[tuple]:
        if not path:
            raise gr.Error("Choose a file first.", print_exception=False)
        file = Path(path)
        state: dict[str, Any] = {"stage": "reading", "done": 0, "total": 0}

        def progress(stage: str, done: int, total: int) -> None:
            state.update(stage=stage, done=done, total=total)

        def work() -> None:
            try:
                state["result"] = service.add_papers(file, progress=progress)
            except RagError as exc:
                state["error"] = redact(exc)
            except Exception as exc:  # noqa: BLE001 - the page gets a line, the log the details
                state["error"] = f"adding the papers failed ({type(exc).__name__}); the details are in the server log"
                raise

        thread = threading.Thread(target=work, name="add-papers", daemon=True)
        thread.start()
        while thread.is_alive():
            thread.join(0.5)
            if state["stage"] == "embedding" and state["total"]:
                yield f"⏳ {file.name}: embedding {state['done']}/{state['total']} new chunks…", gr.skip(), gr.skip()
            else:
                yield f"⏳ Reading {file.name}…", gr.skip(), gr.skip()
        if "error" in state:
            yield f"⚠ Nothing was added: {state['error']}", gr.skip(), gr.skip()
            return
        report, stats = state["result"]
        current[0] = service.overview()
        first = f" First problem: {report.warnings[0]}" if report.warnings else ""
        message = (f"✓ {file.name}: {report.summary()}. **{stats.added} new papers added**, {stats.updated} updated, "
                   f"{len(report.papers) - stats.added - stats.updated} already in the collection. The collection "
                   f"now has {len(current[0].papers)} papers; questions use them at once.{first}")
        yield (message, *filtered(*chosen))

    add.click(run, [upload, *inputs], [status, *outputs], api_visibility="private")
