"""Per-paper facts kept in the index (rag.facts): an ingest computes them, and the claims, only
for what a change reaches, and the result is exactly what computing everything gives; opening an
index reads them instead of running the rules over every abstract."""

from __future__ import annotations

import gc
import json
import logging
import os

import numpy as np
import pytest

from rag.claims import Extractor
from rag.claimstore import ClaimStore, build_claims
from rag.facts import ANALYSIS, Analysis, PaperFacts
from rag.index import ingest, open_index
from rag.retrieve import Retriever
from rag.text import split_sentences
from rag.types import Paper
from rag.workers import RuleWorkers
from tests.conftest import make_settings
from tests.fakes import HashEmbedder


def _paper(title: str, abstract: str) -> Paper:
    return Paper(paper_id="-".join(title.lower().split()), title=title, abstracts=[abstract])


# X reports a "ZQM" once: one paper is not enough for ZQM to be a metric of the collection.
# W proposes WqNet; while it is the only paper to, "WqNet" is W's name in its claims.
X = _paper("Zebra Quilting Models", "We study quilting. Our model reaches a ZQM of 71.2 on the QuiltSet benchmark.")
W = _paper("Quilt Networks for Fabric",
           "We propose WqNet, a quilt network. Our method reaches 80.1% top-1 accuracy on ImageNet.")
# later: a second paper writes ZQM next to a number (now a mined metric), and three more
# propose a WqNet (now a generic name, not W's)
Y = _paper("Another Quilting Study", "Stitches matter. Our baseline gets a ZQM of 64.0 on QuiltSet.")
WQ = [_paper(f"WqNet Variant {i}", f"We propose WqNet, a variant number {i}. It is fast.") for i in range(3)]


def _rotated(p: Paper) -> Paper:
    s = split_sentences(p.abstract)
    return p.model_copy(update={"abstracts": [" ".join(s[1:] + s[:1])]})


def _stored(settings):
    idx = open_index(settings, embedder=HashEmbedder())
    gen = idx.path
    claims, flags = idx.claims.all(), [f for pid in idx.papers for f in idx.claims.flags(pid)]
    del idx
    gc.collect()
    return gen, claims, flags


def _same_analysis(a: Analysis, b: Analysis) -> None:
    assert list(a.facts) == list(b.facts) and a.facts == b.facts
    assert a.lexicon == b.lexicon
    assert (a.vocab.mined_metrics, a.vocab.mined_datasets) == (b.vocab.mined_metrics, b.vocab.mined_datasets)
    for pa, pb in ((a.postings(), b.postings()), (a.pieces(), b.pieces())):
        assert list(pa) == list(pb) and all(np.array_equal(pa[t], pb[t]) for t in pa)


def _triples(papers):
    return [(p.paper_id, p.title, p.abstract) for p in papers]


def test_an_incremental_ingest_computes_only_what_a_change_reaches_and_equals_a_full_build(tmp_path, corpus,
                                                                                          monkeypatch):
    s = make_settings(tmp_path)
    first = [*corpus.papers[:60], X, W]
    ingest(first, s, embedder=HashEmbedder())
    gen, claims, flags = _stored(s)
    _same_analysis(Analysis.read(gen, [p.paper_id for p in first]), Analysis.compute(_triples(first)))
    assert (claims, flags) == build_claims(first)
    assert not any(c.metric == "ZQM" for c in claims)

    computed: list[str] = []
    extracted: list[str] = []
    of, extract = PaperFacts.of.__func__, Extractor.extract
    monkeypatch.setattr(PaperFacts, "of", classmethod(lambda cls, pid, *a: (computed.append(pid), of(cls, pid, *a))[1]))
    monkeypatch.setattr(Extractor, "extract", lambda self, pid, *a: (extracted.append(pid), extract(self, pid, *a))[1])
    second = [*(_rotated(p) if i in (3, 7) else p for i, p in enumerate(corpus.papers[:60]) if i != 5), X, W, Y, *WQ]
    stats = ingest(second, s, embedder=HashEmbedder())
    assert (stats.added, stats.updated, stats.removed) == (4, 2, 1)
    new_ids = {Y.paper_id, *(p.paper_id for p in WQ), corpus.papers[3].paper_id, corpus.papers[7].paper_id}
    assert set(computed) == new_ids and len(computed) == len(new_ids)  # every other paper's facts carried forward
    # re-extracted: the new and changed papers, X (ZQM is now a metric) and W (WqNet no longer its name)
    assert {X.paper_id, W.paper_id} | new_ids <= set(extracted) and len(extracted) < len(second) // 2
    monkeypatch.undo()

    gen, claims, flags = _stored(s)
    _same_analysis(Analysis.read(gen, [p.paper_id for p in second]), Analysis.compute(_triples(second)))
    assert (claims, flags) == build_claims(second)  # exactly what extracting every paper gives
    assert any(c.metric == "ZQM" and c.paper_id == X.paper_id for c in claims)
    was = [c for c in build_claims(first)[0] if c.paper_id == W.paper_id]
    assert was != [c for c in claims if c.paper_id == W.paper_id]  # W's claims did change with its names


def test_opening_reads_the_stored_analysis_and_an_index_without_it_still_opens(tmp_path, corpus, monkeypatch):
    s = make_settings(tmp_path)
    papers = corpus.papers[:40]
    ingest(papers, s, embedder=HashEmbedder())
    expected = Analysis.compute(_triples(papers))

    def refuse(*a, **k):
        raise AssertionError("the rules ran at open")

    parsed: list[str] = []
    keys_read: list[str] = []
    real, real_loads = PaperFacts.from_json, json.loads

    def loads(line: bytes):
        value = real_loads(line)
        if isinstance(value, str):  # a keys.jsonl line
            keys_read.append(value)
        return value

    with monkeypatch.context() as m:
        m.setattr(PaperFacts, "of", classmethod(refuse))
        m.setattr(PaperFacts, "from_json", classmethod(lambda cls, d: parsed.append(d["paper_id"]) or real(d)))
        m.setattr(json, "loads", loads)
        idx = open_index(s, embedder=HashEmbedder())
        retriever = Retriever(idx, s)
        hits = retriever.search(papers[3].title, top_k=3)
        assert not keys_read  # no paper's name key read to open and search
        assert retriever.paper_key(papers[0].paper_id) == expected.facts[papers[0].paper_id].key
        assert keys_read == [expected.facts[papers[0].paper_id].key]  # the one asked for
    # facts are parsed for the papers a search scores, not for every paper at open
    assert hits and 0 < len(parsed) <= 3 and set(parsed) <= {h.paper_id for h in hits}
    _same_analysis(idx.analysis, expected)
    assert retriever.lexicon == expected.lexicon
    assert retriever.paper_key(papers[0].paper_id) == expected.facts[papers[0].paper_id].key
    assert Analysis.read(idx.path, list(idx.papers)).stored_postings is not None  # read, not made at open
    del retriever, idx
    gc.collect()

    # an index written before the analysis files (or by other rules): computed at open, same result
    gen = s.index_dir / (s.index_dir / "CURRENT").read_text()
    (gen / ANALYSIS).unlink()
    idx = open_index(s, embedder=HashEmbedder())
    _same_analysis(idx.analysis, expected)


@pytest.mark.parametrize("damage", ["truncated", "other rules", "postings", "pieces", "line offsets", "keys"])
def test_a_stored_analysis_that_does_not_fit_is_not_used(tmp_path, corpus, damage, caplog):
    s = make_settings(tmp_path)
    papers = corpus.papers[:20]
    ingest(papers, s, embedder=HashEmbedder())
    gen = s.index_dir / (s.index_dir / "CURRENT").read_text()
    if damage == "truncated":
        lines = (gen / "facts.jsonl").read_text().splitlines()
        (gen / "facts.jsonl").write_text("\n".join(lines[:-1]) + "\n")
    elif damage == "line offsets":  # an offsets file of an earlier write
        raw = (gen / "facts.i64").read_bytes()
        (gen / "facts.i64").write_bytes(raw[:-8])
    elif damage == "keys":  # one paper's key missing
        keys = (gen / "keys.jsonl").read_text().splitlines(keepends=True)
        (gen / "keys.jsonl").write_text("".join(keys[1:]))
    elif damage in ("postings", "pieces"):  # rows that do not add up to what the term list says
        raw = (gen / f"{damage}.i64").read_bytes()
        (gen / f"{damage}.i64").write_bytes(raw[:-8])
    else:
        head = json.loads((gen / ANALYSIS).read_text())
        head["rules"] = "0" * 16
        (gen / ANALYSIS).write_text(json.dumps(head))
    assert Analysis.read(gen, [p.paper_id for p in papers]) is None
    with caplog.at_level(logging.WARNING, logger="rag.index"):
        _same_analysis(open_index(s, embedder=HashEmbedder()).analysis, Analysis.compute(_triples(papers)))
    assert "computing them for 20 papers at every start until `python -m rag ingest`" in caplog.text  # told, not slow
    # and the next ingest (here with one paper changed) computes every paper's facts anew
    stats = ingest([_rotated(papers[0]), *papers[1:]], s, embedder=HashEmbedder())
    assert stats.updated == 1
    gen = s.index_dir / (s.index_dir / "CURRENT").read_text()
    changed = [_rotated(papers[0]), *papers[1:]]
    _same_analysis(Analysis.read(gen, [p.paper_id for p in changed]), Analysis.compute(_triples(changed)))
    store = ClaimStore(gen / "claims.sqlite")
    assert store.all() == build_claims(changed)[0]


def _pids(items):
    return [os.getpid() for _ in items]


def test_the_rules_run_in_worker_processes_for_a_large_ingest_and_give_what_one_process_gives(tmp_path, corpus,
                                                                                              monkeypatch):
    with RuleWorkers(2, 10) as pool:
        assert set(pool.map(_pids, list(range(9)))) == {os.getpid()} and not pool.started  # too few: here
        assert os.getpid() not in set(pool.map(_pids, list(range(40))))  # the batches ran elsewhere
    started = []
    exit_ = RuleWorkers.__exit__
    monkeypatch.setattr(RuleWorkers, "__exit__", lambda self, *a: (started.append(self.started), exit_(self, *a))[1])
    papers = corpus.papers
    ingest(papers, make_settings(tmp_path / "small", ingest_workers=2), embedder=HashEmbedder())  # 517 < 1000
    s = make_settings(tmp_path, ingest_workers=2, ingest_parallel_min=len(papers))
    ingest(papers, s, embedder=HashEmbedder())
    assert started == [False, True]
    gen, claims, flags = _stored(s)
    _same_analysis(Analysis.read(gen, [p.paper_id for p in papers]), Analysis.compute(_triples(papers)))
    assert (claims, flags) == build_claims(papers)
