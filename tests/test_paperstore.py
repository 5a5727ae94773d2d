"""The papers of a generation in SQLite, read when asked for (rag.paperstore)."""

from __future__ import annotations

import json
import sqlite3
import threading
from collections import Counter
from datetime import date

from rag.corpus import load_corpus
from rag.index import ingest, open_index
from rag.paperstore import FILE, LEGACY, PaperStore, write
from rag.retrieve import Retriever
from tests.conftest import make_settings
from tests.fakes import HashEmbedder


def _built(tmp_path, small_corpus):
    s = make_settings(tmp_path, corpus_dir=small_corpus)
    papers = load_corpus(small_corpus).papers
    ingest(papers, s, embedder=HashEmbedder())
    return s, papers, s.index_dir / (s.index_dir / "CURRENT").read_text()


def test_the_store_gives_back_every_paper_and_parses_only_those_read(tmp_path, small_corpus):
    s, papers, gen = _built(tmp_path, small_corpus)
    assert (gen / FILE).exists() and not (gen / LEGACY).exists()
    idx = open_index(s, embedder=HashEmbedder())
    store = idx.papers
    assert store.ids == [p.paper_id for p in papers] and store.titles == [p.title for p in papers]
    assert not store._cache  # opening parsed no paper
    hits = Retriever(idx, s).search("image classification on ImageNet", top_k=3)
    assert hits and len(store._cache) < len(papers)  # a search parses the papers it reads, not all
    assert store[papers[3].paper_id] == papers[3] and store.at(3) == papers[3] and store.rows()[-1] == papers[-1]
    assert store.all() == papers  # every field back (dates, authors, links) in the collection's order
    assert papers[0].paper_id in store and "no-such-paper" not in store and list(store) == store.ids


def test_the_store_is_read_safely_from_many_threads(tmp_path, small_corpus):
    _, papers, gen = _built(tmp_path, small_corpus)
    store = PaperStore.open(gen)
    wrong: list[int] = []

    def read(offset: int) -> None:
        for k in range(300):
            row = (offset * 37 + k * 11) % len(papers)
            if store.at(row).paper_id != papers[row].paper_id:
                wrong.append(row)

    threads = [threading.Thread(target=read, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not wrong


def test_an_index_written_before_the_store_still_answers_the_same(tmp_path, small_corpus):
    s, papers, gen = _built(tmp_path, small_corpus)
    query = "which method improves object detection on COCO?"
    before = [(h.paper_id, round(h.score, 6)) for h in Retriever(open_index(s, embedder=HashEmbedder()), s).search(query)]
    (gen / LEGACY).write_text(json.dumps([p.model_dump(mode="json") for p in papers]))  # what ingest wrote before
    (gen / FILE).unlink()
    idx = open_index(s, embedder=HashEmbedder())
    assert idx.papers.all() == papers
    assert [(h.paper_id, round(h.score, 6)) for h in Retriever(idx, s).search(query)] == before


def test_the_years_are_counted_by_sqlite_without_parsing_a_paper(tmp_path, small_corpus):
    papers = load_corpus(small_corpus).papers
    papers = [papers[0].model_copy(update={"published": None, "published_year": 1999}),
              papers[1].model_copy(update={"published": None, "published_year": None}),
              papers[2].model_copy(update={"published": date(2021, 5, 3), "published_year": None}), *papers[3:]]
    want = Counter(p.year for p in papers)
    assert want[1999] == 1 and want[None] >= 1 and len(want) >= 3  # a year alone, undated, full dates
    write(tmp_path, papers)
    store = PaperStore.open(tmp_path)
    assert store.year_counts() == want and not store._cache
    con = sqlite3.connect(tmp_path / FILE)  # a store written before the year column: read out of the JSON
    con.execute("ALTER TABLE papers DROP COLUMN year")
    con.commit()
    con.close()
    assert PaperStore.open(tmp_path).year_counts() == want
