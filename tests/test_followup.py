"""Follow-up questions: reference detection, rewriting (heuristic and LLM), scoped search."""

from __future__ import annotations

import pytest

from rag.followup import Turn, heuristic_rewrite, interpret, is_follow_up
from rag.llm import make_llm
from rag.service import RagService
from tests.conftest import make_settings

PREV = Turn(question="which methods beat ResNet-50 without extra data?", answer="... [1] ... [2]",
            cited=["meal-v2", "simclr-v2"], titles=["MEAL V2: Boosting Vanilla ResNet-50", "Big Models"])


def test_detects_follow_ups():
    assert is_follow_up("and which of those used transformers?")
    assert is_follow_up("What dataset did it use?")
    assert is_follow_up("what about CIFAR-10?")
    assert not is_follow_up("Which papers prune large language models?")
    # a pronoun that points inside a question that names its own subject
    assert not is_follow_up("How much faster does a ResNet-50 SlowFast train when it uses the multigrid method?")
    assert is_follow_up("How fast is it?")


def test_heuristic_rewrites_the_references():
    assert heuristic_rewrite("and which of those used transformers?", PREV) == "Which of the papers used transformers?"
    assert heuristic_rewrite("What dataset did this paper use?", PREV) == "What dataset did MEAL V2 use?"
    assert heuristic_rewrite("how fast is it?", PREV) == "How fast is MEAL V2?"


def test_scope_is_the_previous_answers_papers():
    plural = interpret("and which of those used transformers?", [PREV])
    assert plural.scope == PREV.cited and plural.rewritten
    singular = interpret("What dataset did it use?", [PREV])
    assert singular.scope == PREV.cited[:1]
    fresh = interpret("Which papers prune large language models?", [PREV])
    assert fresh.scope == [] and not fresh.rewritten and fresh.question.startswith("Which papers")
    assert interpret("and which of those?", []).scope == []  # no history, nothing to refer to


def test_llm_rewrites_through_the_condense_prompt(openai_server, tmp_path):
    openai_server.state.reply = "Which methods that beat ResNet-50 without extra data use transformers?"
    llm = make_llm(make_settings(tmp_path, openai_base_url=openai_server.base_url, llm_max_retries=0))
    got = interpret("and which of those used transformers?", [PREV], llm=llm)
    assert got.question == "Which methods that beat ResNet-50 without extra data use transformers?"
    prompt = openai_server.state.requests[-1]["body"]["messages"][-1]["content"]
    assert "User: which methods beat ResNet-50" in prompt and "Follow-up question: and which of those" in prompt


def test_llm_failure_falls_back_to_the_heuristic(openai_server, tmp_path):
    openai_server.state.mode = "500"
    llm = make_llm(make_settings(tmp_path, openai_base_url=openai_server.base_url, llm_max_retries=0))
    got = interpret("and which of those used transformers?", [PREV], llm=llm)
    assert got.question == "Which of the papers used transformers?"


@pytest.mark.slow
def test_service_answers_a_follow_up_within_the_previous_papers(service: RagService):
    first = service.ask("which methods beat ResNet-50 without extra data?")
    follow = service.ask("and which of those use distillation?", history=[Turn.from_answer(first)])
    prev = set(Turn.from_answer(first).cited)  # a results table: its rows' papers
    assert prev and prev == {r.paper_id for r in first.table}
    assert follow.interpreted_as == "Which of the papers use distillation?"
    assert set(follow.scope) == prev
    assert follow.citations and {c.paper_id for c in follow.citations} <= prev
    assert all(h.paper_id in prev for h in follow.hits)
    assert "distill" in follow.text.lower()
    # nothing in those papers is about transformers: says so instead of leaving the scope
    none = service.ask("and which of those used transformers?", history=[Turn.from_answer(first)])
    assert none.abstained and all(h.paper_id in prev for h in none.hits)


@pytest.mark.slow
def test_service_follow_up_through_the_llm(service: RagService, openai_server, tmp_path):
    def reply(body: dict) -> str:
        prompt = body["messages"][-1]["content"]
        if "Standalone question:" in prompt:
            return "Which of the methods that beat ResNet-50 without extra data use distillation?"
        return "MEAL V2 uses distillation [1]."

    openai_server.state.reply = reply
    llm_service = RagService(make_settings(tmp_path, index_dir=service.settings.index_dir, llm="auto",
                                           openai_base_url=openai_server.base_url, llm_max_retries=0))
    first = llm_service.ask("which methods beat ResNet-50 without extra data?")
    follow = llm_service.ask("and which of those use distillation?", history=[Turn.from_answer(first)])
    assert follow.backend == "openai" and follow.text == "MEAL V2 uses distillation [1]."
    assert follow.interpreted_as == "Which of the methods that beat ResNet-50 without extra data use distillation?"
    assert set(follow.scope) == {c.paper_id for c in first.citations}
    answer_prompt = openai_server.state.requests[-1]["body"]["messages"][-1]["content"]
    assert "Question: Which of the methods that beat ResNet-50" in answer_prompt


def test_metadata_follow_ups_use_the_listing_metadata(service):
    first = service.ask("Which papers do data-free quantization?")
    history = [Turn.from_answer(first)]
    code = service.ask("which of those have code?", history=history)
    cited = [service.paper(c.paper_id) for c in first.citations]
    assert [c.paper_id for c in code.citations] == [p.paper_id for p in cited if p.code_urls]
    assert all(url in code.text for p in cited if p.code_urls for url in p.code_urls)
    assert [h.paper_id for h in code.hits] == [p.paper_id for p in cited]  # the page's cards
    dated = service.ask("which are from 2023?", history=history)
    expected = [p.paper_id for p in cited if p.year == 2023]
    assert [c.paper_id for c in dated.citations] == expected
    assert not dated.abstained and (expected or dated.text.startswith("None of the"))


def test_metadata_filter_reads_only_metadata_questions():
    from rag.metadata import metadata_filter

    assert metadata_filter("which of those have code?").has_code
    f = metadata_filter("which are from 2023?")
    assert (f.year_min, f.year_max) == (2023, 2023)
    assert metadata_filter("which were published after 2021?").year_min == 2022
    assert metadata_filter("which of those use distillation?") is None
    assert metadata_filter("what code-free method reaches 80% on ImageNet in 2023?") is None
