"""BM25 kept per paper (rag.bm25): the scores are bm25s's own, and an incremental build
tokenises only what changed yet equals a build from scratch."""

from __future__ import annotations

import numpy as np
import pytest

import bm25s
from rag import bm25 as lexical
from rag.text import stemmer, tokens


def _queries(papers, ref) -> list[list[str]]:
    """Every paper's title, and a few of its abstract's words, as BM25 queries."""
    qs = []
    for p in papers:
        for text in (p.title, " ".join(p.abstract.split()[5:12])):
            q = [t for t in tokens(text) if t in ref.vocab_dict]
            if q:
                qs.append(q)
    return qs


def _same_scores(a, b, queries) -> None:
    assert a.scores["num_docs"] == b.scores["num_docs"]
    for q in queries:
        np.testing.assert_array_equal(a.get_scores(q), b.get_scores(q))


def _reference(papers):
    ref = bm25s.BM25()
    ref.index(bm25s.tokenize([lexical.paper_text(p) for p in papers], stopwords="en", stemmer=stemmer(),
                             show_progress=False), show_progress=False)
    return ref


def test_scores_are_bm25s_index_scores(tmp_path, corpus):
    papers = corpus.papers
    assert lexical.build(tmp_path, None, papers, set()) == len(papers)
    ours, ref = lexical.load(tmp_path, len(papers)), _reference(papers)
    assert set(ours.vocab_dict) == set(ref.vocab_dict)
    _same_scores(ours, ref, _queries(papers, ref))
    assert isinstance(ours.scores["data"], np.memmap)  # loaded memory-mapped
    with pytest.raises(ValueError, match="rows for"):
        lexical.load(tmp_path, len(papers) + 1)


def _changed(papers):
    """Three abstracts edited, four papers removed, the rest in a new order, five added at the end."""
    keep = papers[4:-5]
    edited = [p.model_copy(update={"abstracts": [p.abstract + " We also study zebra finch song."]})
              if i in (0, 7, 30) else p for i, p in enumerate(keep)]
    edited = edited[::-1]
    return edited + papers[-5:], {edited[-1].paper_id, edited[-8].paper_id, edited[-31].paper_id}


def test_an_incremental_build_tokenises_only_changed_papers_and_equals_a_full_one(tmp_path, corpus, monkeypatch):
    first, second = tmp_path / "first", tmp_path / "second"
    lexical.build(first, None, corpus.papers[:-5], set())
    papers, edited = _changed(corpus.papers)
    seen: list[str] = []
    real = lexical.tokenize
    monkeypatch.setattr(lexical, "tokenize", lambda texts: seen.extend(texts) or real(texts))
    assert lexical.build(second, first, papers, edited) == 8
    assert len(seen) == 8 and sum("zebra finch" in t for t in seen) == 3

    ours, ref = lexical.load(second, len(papers)), _reference(papers)
    assert set(ours.vocab_dict) == set(ref.vocab_dict)  # words only the removed papers had are gone
    assert "zebra" in ours.vocab_dict
    _same_scores(ours, ref, _queries(papers, ref) + [["zebra", "finch"]])


def test_kept_tokens_that_do_not_add_up_are_ignored(tmp_path, corpus):
    first, second = tmp_path / "first", tmp_path / "second"
    lexical.build(first, None, corpus.papers, set())
    tokens_file = first / lexical.FOLDER / lexical.TOKENS
    tokens_file.write_bytes(tokens_file.read_bytes()[:-8])  # a truncated write
    assert lexical.PaperTokens.read(first) is None
    assert lexical.build(second, first, corpus.papers, set()) == len(corpus.papers)  # all tokenised again
    ref = _reference(corpus.papers)
    _same_scores(lexical.load(second, len(corpus.papers)), ref, _queries(corpus.papers[:50], ref))
