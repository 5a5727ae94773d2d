"""The page's markup: escaping, citation links, highlighted support (no browser)."""

from __future__ import annotations

from datetime import date

from rag.citations import supporting_sentences
from rag.types import Answer, Citation, Hit, Paper
from ui.render import chat_message, esc_md, linked_text, sources_panel

EVIL = ('We use <img src=x onerror="alert(1)"> and <script>alert(2)</script>. '
        'See [here](javascript:alert(3)) and **bold** $x$. It reaches 97.5% accuracy.')


def paper(**kw) -> Paper:
    base = dict(paper_id="p1", title="Evil <b>Paper</b>", abstracts=[EVIL], published=date(2023, 5, 4),
                authors=3, code_urls=["https://github.com/a/b", "javascript:alert(4)"])
    base.update(kw)
    return Paper(**base)


def answer(**kw) -> Answer:
    p = paper()
    other = paper(paper_id="p2", title="Other paper", abstracts=["Unrelated text."], code_urls=[])
    base = dict(question="q?", text="It reaches 97.5% accuracy [1]. Nothing [7].", abstained=False,
                backend="extractive", citations=[Citation(n=1, paper_id="p1", title=p.title,
                                                          quote="It reaches 97.5% accuracy.")],
                hits=[Hit(paper=p, score=1.0), Hit(paper=other, score=0.5)])
    base.update(kw)
    return Answer(**base)


def test_markdown_and_html_are_escaped_in_chat_text():
    out = esc_md(EVIL)
    assert "<img" not in out and "<script" not in out
    assert "&lt;img" in out
    assert "\\[here\\]\\(javascript:alert\\(3\\)\\)" in out
    assert "\\*\\*bold\\*\\*" in out and "\\$x\\$" in out


def test_citations_link_to_their_turns_cards_and_invalid_ones_stay_text():
    out = linked_text("Claim [1]. Both [1, 2]. Bad [9].", turn=3, n_sources=2)
    assert out.count('href="#src-3-1"') == 2 and out.count('href="#src-3-2"') == 1
    assert "#src-3-9" not in out and "\\[9\\]" in out


def test_sources_panel_escapes_everything_and_highlights_the_quote():
    html = sources_panel([answer()])
    assert "<img" not in html and "<script" not in html and "<b>" not in html
    assert "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;" in html
    assert "javascript:" not in html.split("abstract")[0]  # no javascript: link in the meta line
    assert 'href="javascript' not in html
    assert '<a class="code" href="https://github.com/a/b"' in html
    assert "<mark>It reaches 97.5% accuracy.</mark>" in html
    assert "2023-05-04 · 3 authors" in html
    # the uncited paper is listed separately and collapsed
    assert '<details class="uncited"><summary>Retrieved but not cited (1)</summary>' in html


def test_abstention_is_marked_and_lists_the_closest_papers():
    a = answer(text="The collection does not answer this question. Closest papers: Other paper.",
               abstained=True, citations=[])
    msg = chat_message(a, 0)
    assert '<span class="abstain">' in msg and "a class=\"cite\"" not in msg
    html = sources_panel([a])
    assert "abstain-note" in html and "Closest papers (2)" in html and '<details class="uncited" open>' in html


def test_only_the_latest_turn_is_open():
    html = sources_panel([answer(question="first?"), answer(question="second?")])
    assert html.index('id="turn-1" open') < html.index('id="turn-0"')
    assert 'id="turn-0" open' not in html


def test_supporting_sentences_flags_only_the_quoted_ones():
    spans = supporting_sentences("One is here. Two is there. Three is everywhere.", "Two is there.")
    assert [flag for _, flag in spans] == [False, True, False]
    assert not any(flag for _, flag in supporting_sentences("One. Two.", ""))


def test_panel_keeps_only_the_recent_turns():
    from ui.render import MAX_TURNS

    html = sources_panel([answer(question=f"q{i}?") for i in range(MAX_TURNS + 2)])
    assert 'id="turn-0"' not in html and 'id="turn-1"' not in html
    assert f'id="turn-{MAX_TURNS + 1}" open' in html and 'id="turn-2"' in html
    assert "first 2 answer(s) are no longer shown" in html


def test_every_card_links_out_to_a_title_search():
    html = sources_panel([answer()])
    assert ('href="https://arxiv.org/search/?query=Evil+%3Cb%3EPaper%3C%2Fb%3E&amp;searchtype=title"' in html)
    assert 'href="https://www.semanticscholar.org/search?q=Other+paper"' in html  # cited or not
    assert html.count('class="out"') == 4


def test_every_card_says_why_it_was_retrieved_in_words():
    from rag.types import Why

    a = answer()
    a.hits[0].why = Why(name="EvilNet", terms=["accuracy"], similarity=0.72)
    a.hits[1].why = Why(terms=["unrelated"], similarity=0.31)
    html = sources_panel([a])
    assert "Found because it names EvilNet; has accuracy; closest sentence very close in meaning (0.72)." in html
    assert "Found because it has unrelated; closest sentence loosely related in meaning (0.31)." in html  # uncited too
    assert "RRF" not in html and "score" not in html


def test_copy_link_carries_the_clean_markdown():
    import base64
    import re

    from rag.export import answer_markdown

    a = answer()
    link = re.search(r'<a class="copy-md" href="#copy:([A-Za-z0-9+/=]+)"', chat_message(a, 0))
    assert link and base64.b64decode(link.group(1)).decode() == answer_markdown(a)
