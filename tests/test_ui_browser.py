"""The chat page in a real headless Chromium (Debian's), driven by Playwright."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from rag.feedback import latest_votes
from rag.service import RagService
from rag.text import split_sentences
from tests.conftest import make_settings
from tests.fakes import HashEmbedder
from tests.pages import ARTIFACTS, BROWSER_ARGS, require_chromium, serve
from ui.build import IndexBuild

pytestmark = pytest.mark.browser
playwright_api = pytest.importorskip("playwright.sync_api")
expect = playwright_api.expect
expect.set_options(timeout=60_000)

RESNET_Q = "which methods beat ResNet-50 without extra data?"
TIMEOUT = 60_000


@pytest.fixture(scope="session")
def browser():
    path = require_chromium()
    with playwright_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=path, args=BROWSER_ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    pg = context.new_page()
    pg.set_default_timeout(TIMEOUT)
    pg.errors = []  # type: ignore[attr-defined]
    pg.on("pageerror", lambda exc: pg.errors.append(str(exc)))  # type: ignore[attr-defined]
    yield pg
    context.close()


@pytest.fixture(scope="module")
def url(service):
    with serve(service) as u:
        yield u


def screenshot(page, name: str, **kw) -> None:
    """Kept in tests/_artifacts; with UPDATE_SCREENSHOT=1 also the README's picture docs/<name>."""
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / name), **kw)
    if os.environ.get("UPDATE_SCREENSHOT"):
        Path("docs").mkdir(exist_ok=True)
        shutil.copy(ARTIFACTS / name, Path("docs") / name)


def ask(page, question: str) -> None:
    """Type and send a question; returns once the page shows a new assistant message."""
    bots = page.locator('#chat [data-testid="bot"]')
    before = bots.count()
    box = page.locator("#question textarea")
    box.fill(question)
    box.press("Enter")
    expect(bots).to_have_count(before + 1)


def last_answer(page):
    """The newest assistant message, once it is final (final answers end with a meta line)."""
    msg = page.locator('#chat [data-testid="bot"]').last
    expect(msg.locator("span.meta")).to_be_visible()
    return msg


def test_ask_cite_click_highlights_the_supporting_sentence(page, url, service):
    page.goto(url)
    ask(page, RESNET_Q)
    msg = last_answer(page)
    expected = service.ask(RESNET_Q)
    first = expected.citations[0]
    cite = msg.locator("a.cite").first
    expect(cite).to_have_text("[1]")
    cards = page.locator("#sources details.src[id^='src-0-']")
    expect(cards).to_have_count(len(expected.citations))
    # the card for [3] is further down the panel; clicking scrolls it into view
    target = expected.citations[min(2, len(expected.citations) - 1)]
    card = page.locator(f"#src-0-{target.n}")
    for _ in range(3):  # the panel may still be re-rendered once after the answer arrives
        msg.locator(f"a.cite[href='#src-0-{target.n}']").first.click()
        try:
            expect(card).to_have_class("src active", timeout=5000)
            break
        except AssertionError:
            continue
    expect(card).to_have_class("src active")
    mark = card.locator("mark").first
    expect(mark).to_be_in_viewport()
    assert mark.inner_text().split()[:5] == target.quote.split()[:5]
    expect(page.locator("#src-0-1 .title")).to_have_text(first.title)
    # papers retrieved but not cited: listed separately, collapsed
    uncited = page.locator("#turn-0 details.uncited")
    if len(expected.hits) > len(expected.citations):
        expect(uncited).to_have_count(1)
        assert uncited.evaluate("el => el.open") is False
    ARTIFACTS.mkdir(exist_ok=True)
    screenshot(page, "screenshot.png")
    assert page.errors == []


def test_abstention_looks_different(page, url):
    page.goto(url)
    ask(page, "What does DeepCache get on SDXL?")
    msg = last_answer(page)
    expect(msg.locator("span.abstain")).to_have_text("Not answered by the collection")
    expect(msg).to_contain_text("The collection does not answer this question.")
    expect(msg).to_contain_text("Closest papers:")
    expect(msg.locator("a.cite")).to_have_count(0)
    expect(page.locator("#turn-0 .abstain-note")).to_be_visible()
    expect(page.locator("#turn-0 details.uncited > summary")).to_contain_text("Closest papers")


def test_follow_up_uses_the_conversation(page, url):
    page.goto(url)
    ask(page, RESNET_Q)
    last_answer(page)
    first_cited = page.locator("#turn-0 details.src").evaluate_all("els => els.map(e => e.dataset.paper)")
    ask(page, "and which of those use distillation?")
    msg = last_answer(page)
    expect(msg.locator("span.interp")).to_contain_text("Which of the papers use distillation?")
    expect(msg.locator("span.interp")).to_contain_text("of the previous answer")
    cited = page.locator("#turn-1 details.src").evaluate_all("els => els.map(e => e.dataset.paper)")
    assert cited and set(cited) <= set(first_cited)
    # the older turn's sources stay available, collapsed
    assert page.locator("#turn-0").evaluate("el => el.open") is False


def test_empty_question_is_refused_and_nothing_is_lost(page, url, capfd):
    page.goto(url)
    page.locator("#question textarea").fill("   ")
    page.locator("#ask").click()
    expect(page.locator(".toast-body")).to_contain_text("The question is empty")
    expect(page.locator('#chat [data-testid="bot"]')).to_have_count(0)
    long = "why " * 600
    page.locator("#question textarea").fill(long)
    page.locator("#question textarea").press("Enter")
    expect(page.locator(".toast-body").last).to_contain_text("the limit is")
    expect(page.locator("#question textarea")).to_have_value(long)  # the refused question stays to be edited
    assert "Traceback" not in capfd.readouterr().err  # a user's slip is no stack trace in the server log


def test_the_chats_own_clear_resets_the_conversation(page, url):
    page.goto(url)
    ask(page, "Which papers do data-free quantization?")
    last_answer(page)
    expect(page.locator("#sources details.turn")).to_have_count(1)
    page.locator('#chat button[aria-label="Clear"]').click()
    expect(page.locator('#chat [data-testid="bot"]')).to_have_count(0)
    expect(page.locator("#sources details.turn")).to_have_count(0)
    ask(page, "which of those use distillation?")  # no earlier turn left to scope it to
    msg = last_answer(page)
    expect(msg).not_to_contain_text("Interpreted as")
    expect(page.locator("#sources details.turn")).to_have_count(1)


def test_vote_appends_to_the_feedback_file(page, url, service):
    path = service.settings.feedback_path
    before = path.read_text().splitlines() if path.exists() else []
    page.goto(url)
    ask(page, RESNET_Q)
    msg = last_answer(page)
    msg.hover()
    page.locator('#chat button[aria-label="Dislike"]').last.click()
    expect(page.locator(".toast-body")).to_contain_text("saved")
    lines = path.read_text().splitlines()
    assert len(lines) == len(before) + 1
    record = json.loads(lines[-1])
    assert record["vote"] == "down" and record["question"] == RESNET_Q
    assert record["citations"] and record["citations"][0]["n"] == 1 and record["answer"]
    page.locator('#chat button[aria-label="Like"]').last.click()  # changed its mind: the last vote wins
    expect(page.locator(".toast-body").last).to_contain_text("👍 was saved")
    changed = json.loads(path.read_text().splitlines()[-1])
    assert changed["vote"] == "up" and changed["vote_id"] == record["vote_id"]
    assert [r["vote"] for r in latest_votes([record, changed])] == ["up"]


@pytest.fixture
def llm_service(service, openai_server, tmp_path):
    """The same real index, answering through the fake OpenAI-compatible server."""
    settings = make_settings(tmp_path, index_dir=service.settings.index_dir, llm="auto",
                             openai_base_url=openai_server.base_url, llm_timeout=5, llm_max_retries=0)
    return RagService(settings)


def _cite_first_source(body: dict) -> str:
    """A model that restates the first source's first sentence (a supported sentence)."""
    prompt = body["messages"][-1]["content"]
    abstract = prompt.split("[1] ", 1)[1].split("\n", 2)[1]
    return f"{split_sentences(abstract)[0].rstrip('.')} [1]. This is streamed slowly to watch it arrive [1]."


def test_llm_answer_streams_in(page, llm_service, openai_server):
    openai_server.state.reply = _cite_first_source
    openai_server.state.chunk_delay = 0.08  # ~2 s of streaming
    with serve(llm_service) as u:
        page.goto(u)
        expect(page.get_by_role("radio", name="openai")).to_be_checked()
        ask(page, RESNET_Q)
        bot = page.locator('#chat [data-testid="bot"]').last
        expect(bot.locator("span.typing")).to_be_visible()  # text arriving, not done yet
        partial = bot.inner_text()
        msg = last_answer(page)
        assert len(msg.inner_text()) > len(partial)
        expect(msg.locator("span.meta")).to_contain_text("openai")
        msg.locator("a.cite").first.click()
        expect(page.locator("#src-0-1")).to_have_class("src active")
        expect(page.locator("#src-0-1 mark").first).to_be_in_viewport()


def test_text_typed_while_an_answer_streams_is_kept(page, llm_service, openai_server):
    openai_server.state.reply = _cite_first_source
    openai_server.state.chunk_delay = 0.08
    with serve(llm_service) as u:
        page.goto(u)
        ask(page, RESNET_Q)
        expect(page.locator("#question textarea")).to_have_value("")  # sent: the box is free at once
        page.locator("#question textarea").fill("and which of those use distillation")
        last_answer(page)
        expect(page.locator("#question textarea")).to_have_value("and which of those use distillation")


def test_failing_llm_shows_notice_and_extractive_answer(page, llm_service, openai_server):
    openai_server.state.mode = "500"
    with serve(llm_service) as u:
        page.goto(u)
        ask(page, RESNET_Q)
        msg = last_answer(page)
        expect(msg.locator("span.notice")).to_contain_text("HTTP 500")
        expect(msg.locator("span.notice")).to_contain_text("extractive answer instead")
        expect(msg.locator("span.meta")).to_contain_text("extractive")
        expect(msg.locator("a.cite").first).to_be_visible()
        assert "Traceback" not in page.content()


EVIL = """Evil Paper: Injection Through Abstracts
We study <img src=x onerror="window.__pwned=1"> injection and <script>window.__pwned=2</script> in zebra-crossing detection. Click [here](javascript:window.__pwned=3) for zebra-crossing results. Our detector finds 97.5% of zebra crossings.

Fast Zebra Crossing Segmentation
We segment zebra crossings in street images at 120 frames per second with a small network.
"""


def test_injected_abstract_renders_inert(page, tmp_path):
    pages = tmp_path / "pages"
    pages.mkdir()
    (pages / "evil.txt").write_text(EVIL)
    svc = RagService(make_settings(tmp_path, corpus_dir=pages), embedder=HashEmbedder())
    IndexBuild(svc).run_now()
    with serve(svc) as u:
        page.goto(u)
        ask(page, "How many zebra crossings does the injection detector find?")
        msg = last_answer(page)
        expect(page.locator("#sources")).to_contain_text("<img src=x onerror=")
        expect(page.locator("#sources")).to_contain_text("<script>window.__pwned=2</script>")
        expect(page.locator("#sources")).to_contain_text("[here](javascript:window.__pwned=3)")
        assert msg.inner_text()
        # the user's own text is shown as typed, not as markup
        ask(page, "Do zebra crossings <img src=x onerror=window.__pwned=4> [go](javascript:window.__pwned=5) work?")
        last_answer(page)
        expect(page.locator('#chat [data-testid="user"]').last).to_contain_text(
            "<img src=x onerror=window.__pwned=4> [go](javascript:window.__pwned=5)")
        assert page.evaluate("window.__pwned") is None
        assert page.locator("img[src='x']").count() == 0
        assert page.locator("a[href^='javascript']").count() == 0
        assert page.locator("#sources script, #chat script").count() == 0


def test_first_start_shows_build_progress_then_answers(page, tmp_path, small_corpus):
    svc = RagService(make_settings(tmp_path, corpus_dir=small_corpus), embedder=HashEmbedder(delay=0.02))
    build = IndexBuild(svc).start()
    with serve(svc, build) as u:
        page.goto(u)
        expect(page.locator("#status")).to_contain_text("uilding the search index")
        ask(page, "What does the first paper propose?")
        expect(page.locator('#chat [data-testid="bot"]').last).to_contain_text("⏳")  # waits, says why
        last_answer(page)
        assert build.ready
        expect(page.locator("#status")).to_have_text("")


def test_controls_limit_sources_and_filter_by_code_and_year(page, url, service):
    page.goto(url)
    page.get_by_label("Only papers with code").check()
    number = page.locator("#top-k input[type=number]")
    number.fill("3")
    number.press("Enter")
    ask(page, RESNET_Q)
    last_answer(page)
    cards = page.locator("#turn-0 details.src")
    n = cards.count()
    assert 1 <= n <= 3  # the number of sources asked for, list questions too
    for i in range(n):
        expect(cards.nth(i).locator("a.code").first).to_be_attached()
    # a year range keeps only dated papers inside it
    page.get_by_label("Only papers with code").uncheck()
    page.locator("#year-from input").click()
    page.get_by_role("option", name="2023", exact=True).click()
    expect(page.locator("#year-from input")).to_have_value("2023")
    page.locator("#question textarea").click()  # blur: the dropdown commits its value
    ask(page, "Which papers speed up diffusion models?")
    last_answer(page)
    ids = page.locator("#turn-1 details.src").evaluate_all("els => els.map(e => e.dataset.paper)")
    years = {p.paper_id: p.year for p in service.corpus().papers}
    assert ids and all((years[i] or 0) >= 2023 for i in ids)
    expect(last_answer(page).locator("span.meta")).to_contain_text("filters: from 2023")
    # a question only undated papers answer: the page says the filter left them out, and what answers without it
    ask(page, "How does DenseNet connect layers?")
    msg = last_answer(page)
    expect(msg.locator("span.notice")).to_contain_text("because they have no date")
    expect(msg.locator("span.notice")).to_contain_text("Densely Connected Convolutional Networks")


TABLE_Q = "Which papers report more than 80% top-1 accuracy on ImageNet?"


def test_table_answer_is_sortable_linked_and_downloads_as_csv(page, url, service):
    page.goto(url)
    ask(page, TABLE_Q)
    msg = last_answer(page)
    expected = service.ask(TABLE_Q)
    rows = msg.locator("table.claims tbody tr")
    expect(rows).to_have_count(len(expected.table))
    value_col = msg.locator("table.claims th", has_text="value")

    def values() -> list[float]:
        return [float(t.rstrip("%")) for t in msg.locator("table.claims tbody tr td:nth-child(6)").all_inner_texts()]

    assert values() == sorted(values(), reverse=True)  # best first, as composed
    value_col.click()
    expect(value_col).to_have_attribute("data-dir", "asc")
    assert values() == sorted(values())
    # a row's [n] opens its source card, like a citation in the text
    first = rows.first.locator("a.cite")
    n = int(first.inner_text().strip("[]"))
    first.click()
    expect(page.locator(f"#src-0-{n}")).to_have_class("src active")
    with page.expect_download() as info:
        msg.locator("a.table-csv").click()
    text = Path(info.value.path()).read_text()
    lines = text.strip().splitlines()
    assert lines[0].startswith("[n],paper,method") and len(lines) == len(expected.table) + 1
    assert page.errors == []


def test_copy_and_export_take_the_work_away(browser, url):
    import csv
    import io

    import bibtexparser

    context = browser.new_context(viewport={"width": 1280, "height": 900},
                                  permissions=["clipboard-read", "clipboard-write"])
    page = context.new_page()
    page.set_default_timeout(TIMEOUT)
    try:
        page.goto(url)
        expect(page.locator("#clear")).to_be_in_viewport()  # "New conversation" without scrolling
        ask(page, RESNET_Q)
        msg = last_answer(page)
        msg.locator("a.copy-md").click()
        expect(msg.locator("a.copy-md")).to_have_text("copied ✓")
        # the copied text (what the link writes), and the clipboard where headless Chromium exposes it
        copied = msg.locator("a.copy-md").evaluate(
            "a => new TextDecoder().decode(Uint8Array.from(atob(a.getAttribute('href').slice(6)), (c) => c.charCodeAt(0)))")
        clipboard = page.evaluate("navigator.clipboard.readText().catch(() => '')")
        assert clipboard in ("", copied)
        assert "[1]" in copied and "\nSources:\n[1] " in copied
        assert "<" not in copied and "\\[" not in copied and "class=" not in copied  # clean Markdown, no markup
        page.locator("#export-btn").click()
        links = page.locator("#export a[href]")
        expect(links).to_have_count(3)
        screenshot(page, "export.png")
        files = {}
        for href in links.evaluate_all("els => els.map(e => e.href)"):
            name = href.rsplit("/", 1)[-1].split("?")[0]
            files[name] = page.request.get(href).text()
        assert files["conversation.md"].startswith(f"# Ask the papers\n\n## 1. {RESNET_Q}")
        library = bibtexparser.parse_string(files["cited-papers.bib"])
        rows = list(csv.DictReader(io.StringIO(files["cited-papers.csv"])))
        assert not library.failed_blocks and len(library.entries) == len(rows) >= 1
        assert copied.count("\n[") == len(rows)  # one source line per cited paper
        page.locator("#clear").click()  # a new conversation drops the old export too
        expect(page.locator("#export")).to_be_hidden()
    finally:
        context.close()


def test_the_papers_panel_lists_and_filters_the_collection(page, url, service):
    page.goto(url)
    page.get_by_text(f"Papers in the collection ({len(service.papers())})").click()
    expect(page.locator("#papers-summary")).to_contain_text(f"{len(service.papers())} of {len(service.papers())} papers")
    page.locator("#papers-search textarea, #papers-search input").first.fill("pruning")
    expect(page.locator("#papers-summary")).not_to_contain_text(f"{len(service.papers())} of")
    summary = page.locator("#papers-summary").inner_text()
    shown = int(summary.split(" of ")[0].strip("* "))
    assert 0 < shown < len(service.papers())
    expect(page.locator("#papers-table")).to_contain_text("Pruning")
    page.locator("#papers").evaluate("el => el.scrollIntoView()")
    screenshot(page, "papers.png")


def test_the_conversation_survives_a_reload_until_a_new_one(page, url, service):
    page.goto(url)
    ask(page, RESNET_Q)
    first = last_answer(page).inner_text()
    page.reload()
    bots = page.locator('#chat [data-testid="bot"]')
    expect(bots).to_have_count(1)
    expect(bots.first.locator("span.meta")).to_be_visible()
    assert bots.first.inner_text() == first
    expect(page.locator("#turn-0 details.src").first).to_be_visible()  # the sources came back too
    ask(page, "which of those have code?")  # the follow-up still knows "those"
    expect(last_answer(page)).to_contain_text("papers of the previous answer")
    page.locator("#clear").click()
    expect(bots).to_have_count(0)
    page.reload()
    page.wait_for_timeout(2000)  # the stored conversation, if any, is restored on load
    expect(bots).to_have_count(0)


def test_phone_width_fits_and_offers_the_way_back_from_a_source(browser, url):
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    page = context.new_page()
    page.set_default_timeout(TIMEOUT)
    try:
        page.goto(url)
        ask(page, RESNET_Q)
        msg = last_answer(page)
        assert page.evaluate("document.documentElement.scrollWidth <= document.documentElement.clientWidth")
        # screen readers get the answer's text, not its markup
        label = msg.evaluate("el => el.closest('[aria-label]').getAttribute('aria-label')")
        assert label.startswith("Answer: ") and "<" not in label and "\\[" not in label and "[1]" in label
        back = page.locator("#back-to-answer")
        expect(back).to_be_hidden()
        cite = msg.locator("a.cite").first
        cite.click()
        expect(page.locator("#sources details.src.active")).to_be_in_viewport()
        expect(cite).not_to_be_in_viewport()
        expect(back).to_be_visible()
        screenshot(page, "phone.png")
        back.click()
        expect(cite).to_be_in_viewport()
        expect(back).to_be_hidden()
    finally:
        context.close()


def test_papers_added_from_a_file_are_listed_and_answered(page, tmp_path, small_corpus):
    from tests.test_add_papers import NEW, _file

    svc = RagService(make_settings(tmp_path, corpus_dir=small_corpus, ui_add_papers=True), embedder=HashEmbedder())
    svc.ingest()
    before = svc.paper_count()
    with serve(svc) as u:
        page.goto(u)
        page.get_by_text(f"Papers in the collection ({before})").click()
        page.locator("#add-file input[type=file]").set_input_files(str(_file(tmp_path, NEW)))
        page.locator("#add-btn").click()
        expect(page.locator("#add-status")).to_contain_text("2 new papers added", timeout=60_000)
        expect(page.locator("#add-status")).to_contain_text(f"now has {before + 2} papers")
        expect(page.locator("#papers-summary")).to_contain_text(f"{before + 2} of {before + 2} papers")
        page.locator("#papers-search textarea, #papers-search input").first.fill("wombat")
        expect(page.locator("#papers-table")).to_contain_text("Wombat Pruning")
        ask(page, "How many weights does Wombat pruning remove?")
        msg = last_answer(page)
        expect(msg).to_contain_text("70%")
        expect(page.locator("#turn-0 details.src .title").first).to_have_text(NEW[1]["title"])
    assert page.errors == []
