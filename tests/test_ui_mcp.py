"""The collection as MCP tools: a real MCP client session (streamable HTTP) against the page's server."""

from __future__ import annotations

import asyncio
import json
from concurrent.futures import ThreadPoolExecutor

import httpx

import pytest

from rag.service import RagService
from tests.conftest import make_settings
from tests.pages import serve

mcp = pytest.importorskip("mcp")
from mcp.client.streamable_http import streamable_http_client  # noqa: E402


async def _session(url: str, calls: list[tuple[str, dict]]) -> tuple[list, list]:
    async with streamable_http_client(url + "gradio_api/mcp/") as (read, write, _):
        async with mcp.ClientSession(read, write) as session:
            await session.initialize()
            tools = (await session.list_tools()).tools
            results = [await session.call_tool(name, args) for name, args in calls]
    return tools, results


def _run(url: str, calls: list[tuple[str, dict]]) -> tuple[list, list]:
    """The client session on a thread of its own: Playwright's sync API may hold this thread's loop."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, _session(url, calls)).result()


def _payload(result) -> object:
    assert not result.isError, result.content
    return json.loads(result.content[0].text)


@pytest.fixture(scope="module")
def mcp_service(service, tmp_path_factory) -> RagService:
    """The session's index, opened by a service whose settings turn the MCP tools on."""
    tmp = tmp_path_factory.mktemp("mcp")
    return RagService(make_settings(tmp, index_dir=service.settings.index_dir, ui_mcp=True))


def test_search_and_ask_are_mcp_tools_with_documented_arguments(mcp_service, service):
    question = "What speed-up does DeepCache give on Stable Diffusion?"
    with serve(mcp_service) as url:
        tools, (found, answered, refused) = _run(url, [
            ("search_papers", {"query": "DeepCache", "top_k": 3}),
            ("ask_papers", {"question": question}),
            ("search_papers", {"query": "densenet", "top_k": 0}),
        ])
    by_name = {t.name: t for t in tools}
    assert set(by_name) == {"search_papers", "ask_papers"}  # the page's own chat endpoint is not a tool
    search = by_name["search_papers"]
    assert "hybrid" in search.description
    props = search.inputSchema["properties"]
    assert props["top_k"]["type"] == "integer" and "How many papers" in props["top_k"]["description"]
    assert search.inputSchema["required"] == ["query"]

    hits = _payload(found)
    expected = service.search("DeepCache", top_k=3)
    assert [h["paper_id"] for h in hits] == [h.paper_id for h in expected]
    assert "DeepCache" in hits[0]["title"]

    answer = _payload(answered)
    assert not answer["abstained"]
    assert answer["citations"] and all(c["quote"] for c in answer["citations"])
    assert "[1]" in answer["answer"]
    assert answer["answer"] == service.ask(question).text

    assert refused.isError and "between 1 and 100" in refused.content[0].text


def test_no_tools_unless_the_setting_is_on(service):
    with serve(service) as url:
        reply = httpx.post(url + "gradio_api/mcp/", json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
                           headers={"Accept": "application/json, text/event-stream"})
        api = httpx.get(url + "gradio_api/info").json()
    assert reply.status_code == 404
    assert not any("papers" in name for name in api["named_endpoints"])
