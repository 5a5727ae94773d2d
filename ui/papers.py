"""The "Papers in the collection" panel: every paper (title, year, authors, code, topics, gist),
searchable and sortable, with counts by year and topic, so a user knows what is worth asking.
Thin: the rows come from `RagService.overview()` (the same as `python -m rag papers`)."""

from __future__ import annotations

from typing import Any

import gradio as gr

from rag.catalog import Overview, PaperRow
from rag.service import RagService

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

        def filtered(text: str, chosen_topic: str, chosen_year: str, has_code: bool) -> tuple:
            rows = view.matching(text or "", year=None if chosen_year in (None, ANY) else int(chosen_year),
                                 has_code=bool(has_code), topic="" if chosen_topic in (None, ANY) else chosen_topic)
            return _summary(view, len(rows)), _table(rows)

        inputs = [search, topic, year, code]
        for control in inputs:
            control.change(filtered, inputs, [summary, table], api_visibility="private", show_progress="hidden")
