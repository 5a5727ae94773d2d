"""Taking the work away: clean Markdown, BibTeX that a BibTeX parser reads back, CSV."""

from __future__ import annotations

import csv
import io

import bibtexparser

from rag.export import answer_markdown, bibtex, cited_papers, conversation_markdown, papers_csv
from rag.types import Answer, Citation, Hit, Paper


def _paper(pid: str, title: str, **kw) -> Paper:
    return Paper(paper_id=pid, title=title, abstracts=[f"We study {title}. It reaches 50% & more."], **kw)


def _answers() -> list[Answer]:
    a = _paper("dense-nets", "Densely Connected {Nets}: 100% of_layers", code_urls=["https://github.com/a/b"])
    b = _paper("other-paper", "Other Paper")
    first = Answer(question="How do DenseNets connect layers?", text="Each layer connects to every other [1].",
                   abstained=False, backend="extractive", hits=[Hit(paper=a, score=1), Hit(paper=b, score=0.5)],
                   citations=[Citation(n=1, paper_id="dense-nets", title=a.title, quote="We study it.")])
    second = Answer(question="and which use less memory?", text="Both do [1] [2].", abstained=False,
                    backend="extractive", hits=[Hit(paper=b, score=1), Hit(paper=a, score=0.9)],
                    citations=[Citation(n=1, paper_id="other-paper", title=b.title, quote=""),
                               Citation(n=2, paper_id="dense-nets", title=a.title, quote="It reaches 50% & more.")])
    return [first, second]


def test_an_answer_as_markdown_has_no_markup_and_lists_its_sources():
    md = answer_markdown(_answers()[0])
    assert md == ("Each layer connects to every other [1].\n\nSources:\n"
                  "[1] Densely Connected {Nets}: 100% of_layers — “We study it.”")
    assert "<" not in md and "\\[" not in md


def test_the_conversation_and_its_cited_papers_export():
    answers = _answers()
    md = conversation_markdown(answers)
    assert md.startswith("# Ask the papers\n\n## 1. How do DenseNets connect layers?")
    assert "## 2. and which use less memory?" in md and md.count("Sources:") == 2
    papers = cited_papers(answers)
    assert [(p.paper_id, turns) for p, turns in papers] == [("dense-nets", [1, 2]), ("other-paper", [2])]
    library = bibtexparser.parse_string(bibtex(p for p, _ in papers))
    assert not library.failed_blocks and len(library.entries) == 2
    entry = library.entries[0]
    assert entry.entry_type == "misc" and "Densely Connected" in entry["title"] and entry["url"] == "https://github.com/a/b"
    assert len({e.key for e in library.entries}) == 2
    rows = list(csv.DictReader(io.StringIO(papers_csv(papers))))
    assert [r["paper_id"] for r in rows] == ["dense-nets", "other-paper"] and rows[0]["cited_in"] == "1 2"
    assert rows[0]["title"] == "Densely Connected {Nets}: 100% of_layers"


def test_the_collection_overview_counts_years_and_finds_topics_in_titles():
    from rag.catalog import overview

    papers = [_paper("a", "Sparse Attention for Graphs", published=None),
              _paper("b", "Graph Pruning at Scale", code_urls=["https://github.com/x/y"]),
              _paper("c", "Attention Pruning Tricks")]
    view = overview(papers)
    assert [r.paper_id for r in view.papers] == ["c", "b", "a"]  # by title
    assert dict(view.topics) == {"attention": 2, "graph": 2, "pruning": 2}  # "Graphs" counts as "graph"
    assert view.by_year == {"undated": 3} and view.with_code == 1
    assert [r.paper_id for r in view.matching(topic="pruning", has_code=True)] == ["b"]
    assert [r.paper_id for r in view.matching("sparse graphs")] == ["a"]
    assert view.papers[0].gist.startswith("We study Attention Pruning Tricks.")
