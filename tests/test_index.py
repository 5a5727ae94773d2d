from __future__ import annotations

import gc
import json
import logging
import threading
import time

import numpy as np
import pytest

from rag.corpus import load_corpus
from rag.errors import EmbedderMismatchError, IndexCorruptError, IndexMissingError, RagError
from rag.generations import IndexBusyError, writer_lock
from rag.index import chunk_paper, ingest, open_index
from rag.retrieve import Retriever
from rag.text import split_sentences
from tests.conftest import make_settings
from tests.fakes import HashEmbedder


def _ingest(settings, emb=None, **kw):
    return ingest(load_corpus(settings.corpus_dir).papers, settings, embedder=emb or HashEmbedder(), **kw)


def test_one_chunk_per_sentence_with_its_position(corpus):
    for paper in corpus.papers[:50]:
        chunks = chunk_paper(paper)
        assert chunks[0].kind == "title" and chunks[0].text == paper.title and chunks[0].position == 0
        sentences = list(dict.fromkeys(s for a in paper.abstracts for s in split_sentences(a)))
        assert [c.text for c in chunks[1:]] == sentences
        assert [c.position for c in chunks] == list(range(len(chunks)))
        assert len({c.chunk_id for c in chunks}) == len(chunks)


def test_nothing_changed_is_no_new_generation_and_a_metadata_change_is_one(tmp_path, small_corpus):
    s = make_settings(tmp_path, corpus_dir=small_corpus)
    first = _ingest(s)
    again = _ingest(s)
    assert again.generation == first.generation and again.chunks == first.chunks
    assert again.unchanged == first.added and again.chunks_embedded == 0
    assert sorted(p.name for p in s.index_dir.glob("gen-*")) == [first.generation]
    # a paper's metadata alone (here its url) is a change: a new generation that shows it, nothing re-embedded
    papers = load_corpus(small_corpus).papers
    papers[0].url = "https://example.org/paper"
    third = ingest(papers, s, embedder=HashEmbedder())
    assert third.generation != first.generation and third.chunks_embedded == 0
    assert open_index(s, embedder=HashEmbedder()).papers[papers[0].paper_id].url == "https://example.org/paper"


def test_incremental_ingest(tmp_path, small_corpus):
    s = make_settings(tmp_path, corpus_dir=small_corpus)
    first = _ingest(s)
    n = len(load_corpus(small_corpus).papers)
    assert (first.added, first.updated, first.unchanged) == (n, 0, 0)
    idx = open_index(s, embedder=HashEmbedder())
    assert len(idx.papers) == n
    assert idx.collection.count() == first.chunks_embedded

    again = _ingest(s)
    assert (again.added, again.chunks_embedded, again.unchanged) == (0, 0, n)

    # change one abstract, add a page, and check only those are embedded
    page = small_corpus / "004_e042a9c637ce68d9.txt"
    page.write_text(page.read_text().replace("Sparsely-gated Mixture of Expert (MoE)", "Sparsely gated MoE layers"))
    (small_corpus / "new.txt").write_text(
        "A Brand New Paper About Graph Sparsifiers\n\n"
        "We introduce spectral graph sparsifiers for message passing networks and show large speed-ups on citation graphs.\n"
    )
    third = _ingest(s)
    assert (third.added, third.updated, third.removed) == (1, 1, 0)
    changed = [p for p in load_corpus(small_corpus).papers
               if p.paper_id in ("a-brand-new-paper-about-graph-sparsifiers",
                                 "robust-mixture-of-expert-training-for-convolutional-neural-networks")]
    assert third.chunks_embedded == sum(len(chunk_paper(p)) for p in changed)
    assert (first.tokenised, third.tokenised) == (n, 2)  # BM25 carries the unchanged papers' tokens
    idx = open_index(s, embedder=HashEmbedder())
    assert "a-brand-new-paper-about-graph-sparsifiers" in idx.papers
    got = idx.collection.get(where={"paper_id": "robust-mixture-of-expert-training-for-convolutional-neural-networks"},
                                      include=["documents"])
    assert any("Sparsely gated MoE layers" in d for d in got["documents"])
    assert not any("Sparsely-gated Mixture of Expert (MoE)" in d for d in got["documents"])

    (small_corpus / "new.txt").unlink()
    fourth = _ingest(s)
    assert fourth.removed == 1
    reading = idx.path  # `idx` still has the third generation open: the ingest keeps it for its reader
    assert reading.is_dir() and len(list(s.index_dir.glob("gen-*"))) == 2
    assert "a-brand-new-paper-about-graph-sparsifiers" in idx.papers
    idx = open_index(s, embedder=HashEmbedder())
    assert "a-brand-new-paper-about-graph-sparsifiers" not in idx.papers
    assert not idx.collection.get(where={"paper_id": "a-brand-new-paper-about-graph-sparsifiers"})["ids"]
    del idx
    gc.collect()
    _ingest(s)
    assert len(list(s.index_dir.glob("gen-*"))) == 1  # no reader left: old generations are cleaned up
    assert not reading.exists()


def test_refuses_to_mix_embedders(tmp_path, small_corpus):
    s = make_settings(tmp_path, corpus_dir=small_corpus)
    _ingest(s)
    with pytest.raises(EmbedderMismatchError, match="--rebuild"):
        _ingest(s, HashEmbedder(id="fake:other"))
    with pytest.raises(EmbedderMismatchError):
        open_index(s, embedder=HashEmbedder(id="fake:other"))
    assert _ingest(s, HashEmbedder(id="fake:other"), rebuild=True).added > 0


def test_interrupted_ingest_leaves_previous_index_usable(tmp_path, small_corpus):
    s = make_settings(tmp_path, corpus_dir=small_corpus)
    _ingest(s)
    before = open_index(s, embedder=HashEmbedder())
    n_before, chunks_before = len(before.papers), before.collection.count()
    (small_corpus / "more.txt").write_text("".join(
        f"Extra Paper Number {i}\n\nThis abstract describes extra paper number {i} and its many interesting results on benchmarks.\n\n"
        for i in range(20)))
    with pytest.raises(KeyboardInterrupt):
        _ingest(s, HashEmbedder(fail_after=5))
    after = open_index(s, embedder=HashEmbedder())
    assert len(after.papers) == n_before
    assert after.collection.count() == chunks_before
    assert _ingest(s).added == 20  # and the next run completes the job


def test_missing_and_corrupt_index(tmp_path, small_corpus):
    s = make_settings(tmp_path, corpus_dir=small_corpus)
    with pytest.raises(IndexMissingError, match="python -m rag ingest"):
        open_index(s, embedder=HashEmbedder())
    _ingest(s)
    gen = s.index_dir / (s.index_dir / "CURRENT").read_text()
    (gen / "manifest.json").write_text("{not json")
    with pytest.raises(IndexCorruptError, match="--rebuild"):
        open_index(s, embedder=HashEmbedder())
    (gen / "manifest.json").write_text(json.dumps({"embedder": "fake:hash-64"}))
    (gen / "papers.sqlite").write_bytes(b"not a database")
    with pytest.raises(IndexCorruptError):
        open_index(s, embedder=HashEmbedder())
    assert _ingest(s, rebuild=True).added > 0
    assert open_index(s, embedder=HashEmbedder()).papers
    gen = s.index_dir / (s.index_dir / "CURRENT").read_text()
    (gen / "manifest.json").write_text("{not json")
    repaired = _ingest(s)  # a plain ingest rebuilds an unreadable index instead of failing on it
    assert repaired.added > 0 and any("damaged" in w and "rebuilt" in w for w in repaired.warnings)
    assert open_index(s, embedder=HashEmbedder()).papers


def test_damaged_vectors_are_reported_and_never_carried_forward(tmp_path, small_corpus):
    s = make_settings(tmp_path, corpus_dir=small_corpus)
    _ingest(s)
    gen = s.index_dir / (s.index_dir / "CURRENT").read_text()
    [vectors] = gen.glob("chroma/*/data_level0.bin")
    with vectors.open("r+b") as f:
        f.truncate(1000)
    with pytest.raises(IndexCorruptError, match="data_level0.bin holds 1000 bytes"):  # read from disk, no cache
        Retriever(open_index(s, embedder=HashEmbedder()), s)
    gc.collect()
    again = _ingest(s)  # nothing changed in the corpus, but the copy fails its check: rebuilt
    assert any("damaged" in w for w in again.warnings) and again.added == len(load_corpus(small_corpus).papers)
    retriever = Retriever(open_index(s, embedder=HashEmbedder()), s)
    assert retriever.search("camera localization uncertainty", top_k=3)


def test_one_ingest_at_a_time(tmp_path, small_corpus, caplog):
    s = make_settings(tmp_path, corpus_dir=small_corpus, ingest_lock_wait=0.3)
    _ingest(s)
    with writer_lock(s.index_dir, wait=0):  # another ingest is writing
        t0 = time.monotonic()
        with pytest.raises(IndexBusyError, match="another ingest is still writing"):
            _ingest(s)
        assert 0.25 < time.monotonic() - t0 < 5
    patient = s.model_copy(update={"ingest_lock_wait": 30.0})
    holder = threading.Thread(target=_hold_lock, args=(s.index_dir, 1.0))
    holder.start()
    time.sleep(0.2)
    with caplog.at_level(logging.WARNING, logger="rag.generations"):
        t0 = time.monotonic()
        assert _ingest(patient).unchanged > 0  # waited for the other one, then did its own work
    holder.join()
    assert time.monotonic() - t0 > 0.5 and "waiting up to 30 s" in caplog.text
    assert open_index(s, embedder=HashEmbedder()).papers


def _hold_lock(index_dir, seconds):
    with writer_lock(index_dir, wait=0):
        time.sleep(seconds)


def test_a_collection_of_one_paper_passes_its_check(tmp_path):
    pages = tmp_path / "pages"
    pages.mkdir()
    (pages / "one.txt").write_text("A Single Paper\nWe segment zebra crossings in street images at 120 frames per "
                                   "second with a small network.\n")
    s = make_settings(tmp_path, corpus_dir=pages)
    assert _ingest(s).added == 1 and _ingest(s).unchanged == 1


def test_vectors_are_mapped_from_the_generation_and_carried_forward(tmp_path, small_corpus):

    from rag.chunkstore import CHUNKS, VECTORS, ChunkTable

    s = make_settings(tmp_path, corpus_dir=small_corpus)
    _ingest(s)
    idx = open_index(s, embedder=HashEmbedder())
    table = idx.chunks
    assert isinstance(table.vectors, np.memmap)
    got = idx.collection.get(include=["embeddings", "documents", "metadatas"])
    for cid, emb, doc, meta in zip(got["ids"], got["embeddings"], got["documents"], got["metadatas"]):
        pid = meta["paper_id"]  # the map holds exactly what Chroma holds, row by row
        assert table.texts[pid][meta["position"]] == doc
        assert np.allclose(table.rows(pid)[meta["position"]], emb, atol=1e-6), cid
    retriever = Retriever(idx, s)
    assert np.shares_memory(retriever._vecs, table.vectors)  # searched in place, not copied
    before = {pid: np.array(table.rows(pid)) for pid in table.texts}
    expected = [h.paper_id for h in retriever.search("mixture of experts robustness")]
    del retriever, idx, table
    gc.collect()

    # change one paper: the others' rows are carried forward unchanged, the changed one is new
    page = small_corpus / "004_e042a9c637ce68d9.txt"
    page.write_text(page.read_text().replace("Sparsely-gated Mixture of Expert (MoE)", "Sparsely gated MoE layers"))
    stats = _ingest(s)
    assert stats.updated == 1
    new = open_index(s, embedder=HashEmbedder()).chunks
    changed = "robust-mixture-of-expert-training-for-convolutional-neural-networks"
    assert any("Sparsely gated MoE layers" in t for t in new.texts[changed])
    for pid, rows in before.items():
        if pid != changed:
            assert np.array_equal(new.rows(pid), rows)

    # an index built before the map (no files) is read from Chroma, answers the same, and gets one at the next ingest
    gen = s.index_dir / (s.index_dir / "CURRENT").read_text()
    (gen / VECTORS).unlink()
    (gen / CHUNKS).unlink()
    idx = open_index(s, embedder=HashEmbedder())
    assert idx.chunks is None
    page.write_text(page.read_text().replace("Sparsely gated MoE layers", "Sparsely-gated Mixture of Expert (MoE)"))
    assert [h.paper_id for h in Retriever(idx, s).search("mixture of experts robustness")][:1] == expected[:1]
    del idx
    gc.collect()
    _ingest(s)
    assert ChunkTable.read(s.index_dir / (s.index_dir / "CURRENT").read_text()) is not None


def test_a_damaged_vector_map_is_an_error_to_read_and_rebuilt_by_ingest(tmp_path, small_corpus):
    from rag.chunkstore import CHUNKS, ChunkTable

    s = make_settings(tmp_path, corpus_dir=small_corpus)
    _ingest(s)
    gen = s.index_dir / (s.index_dir / "CURRENT").read_text()
    lines = (gen / CHUNKS).read_text().splitlines()
    (gen / CHUNKS).write_text("\n".join(lines[:-1]) + "\n")  # a paper's rows no longer add up
    with pytest.raises(IndexCorruptError, match="rows"):
        open_index(s, embedder=HashEmbedder())
    stats = _ingest(s)  # not "nothing changed": the map is rewritten from Chroma, nothing re-embedded
    assert stats.chunks_embedded == 0 and stats.generation != gen.name
    assert ChunkTable.read(s.index_dir / stats.generation).vectors.shape[0] == stats.chunks
    assert open_index(s, embedder=HashEmbedder()).chunks is not None


def test_an_ingest_embeds_and_inserts_a_batch_at_a_time_with_the_same_result(tmp_path, small_corpus, monkeypatch):

    import rag.index as index_module

    inserted: list[int] = []
    made = index_module._chunk_nodes
    monkeypatch.setattr(index_module, "_chunk_nodes", lambda chunks, vecs: inserted.append(len(chunks)) or made(chunks, vecs))

    class Counting(HashEmbedder):
        calls: list[int] = []

        def embed(self, texts, progress=None):
            self.calls.append(len(texts))
            return super().embed(texts, progress)

    whole = make_settings(tmp_path / "whole", corpus_dir=small_corpus)
    batched = make_settings(tmp_path / "batched", corpus_dir=small_corpus, ingest_batch=16)
    one = _ingest(whole, Counting())
    assert len(inserted) == 1
    inserted.clear()
    Counting.calls = []
    many = _ingest(batched, Counting())
    assert many.chunks == one.chunks and many.chunks_embedded == one.chunks_embedded
    assert max(Counting.calls) <= 16 and sum(Counting.calls) == one.chunks_embedded  # never more nodes at once
    assert max(inserted) <= 16 and sum(inserted) == one.chunks_embedded
    a, b = open_index(whole, embedder=HashEmbedder()), open_index(batched, embedder=HashEmbedder())
    assert b.collection.count() == a.collection.count() == one.chunks
    for pid in a.chunks.texts:  # the same rows in the vector map, in the same order
        assert b.chunks.texts[pid] == a.chunks.texts[pid] and np.array_equal(b.chunks.rows(pid), a.chunks.rows(pid))
    query = "mixture of experts robustness"
    assert [h.paper_id for h in Retriever(b, batched).search(query)] == [h.paper_id for h in Retriever(a, whole).search(query)]


def test_two_papers_with_one_id_are_refused_before_anything_is_written(tmp_path, corpus):
    s = make_settings(tmp_path)
    twin = corpus.papers[1].model_copy(update={"paper_id": corpus.papers[0].paper_id})
    with pytest.raises(RagError, match="two papers have the id"):
        ingest([corpus.papers[0], twin], s, embedder=HashEmbedder())
    assert not (s.index_dir / "CURRENT").exists()


def test_chunk_texts_are_read_per_paper_and_an_index_without_their_row_file_reads_them_whole(tmp_path, small_corpus,
                                                                                          monkeypatch):

    from rag import chunkstore
    from rag.chunkstore import ROWS, ChunkTable

    s = make_settings(tmp_path, corpus_dir=small_corpus)
    _ingest(s)
    gen = s.index_dir / (s.index_dir / "CURRENT").read_text()
    parsed = []
    real_loads = chunkstore.json.loads
    lines = {p: chunkstore.json.dumps({"id": p, "texts": t}, ensure_ascii=False) + "\n"
             for p, t in ChunkTable.read(gen).texts.items()}
    lines_of = {form: p for p, line in lines.items() for form in (line, line.encode())}  # read as text or bytes
    monkeypatch.setattr(chunkstore.json, "loads",
                        lambda b: (parsed.append(lines_of[b]) if b in lines_of else None) or real_loads(b))
    lazy = ChunkTable.read(gen)
    assert not parsed  # opening parses no paper's line
    hits = Retriever(open_index(s, embedder=HashEmbedder()), s).search("mixture of experts robustness", top_k=3)
    assert hits and 0 < len(set(parsed)) < len(lazy.texts)  # the lines of the papers read, not all
    monkeypatch.setattr(chunkstore.json, "loads", real_loads)
    (gen / ROWS).unlink()  # an index written before the row file
    whole = ChunkTable.read(gen)
    assert isinstance(whole.texts, dict) and dict(lazy.texts) == whole.texts
    assert lazy.starts == whole.starts and lazy.counts == whole.counts
    assert all(np.array_equal(lazy.rows(p), whole.rows(p)) for p in whole.texts)
    again = Retriever(open_index(s, embedder=HashEmbedder()), s).search("mixture of experts robustness", top_k=3)
    assert [(h.paper_id, h.why.sentence) for h in again] == [(h.paper_id, h.why.sentence) for h in hits]


def _mapped_kb(path) -> int:
    """RSS of the process's mappings of `path` (/proc/self/smaps)."""
    total, inside = 0, False
    for line in open("/proc/self/smaps"):
        head = line.split()
        if head and "-" in head[0] and len(head) >= 5:  # a mapping's first line
            inside = line.rstrip().endswith(str(path))
        elif inside and line.startswith("Rss:"):
            total += int(head[1])
    return total


def test_a_large_collection_reads_vector_rows_with_pread_not_through_the_map(tmp_path):
    """`ChunkTable.gather` gives the rows fancy indexing gives, and on a vectors.npy on disk it
    leaves the memory map untouched (its pages would stay in the process's RSS)."""
    from rag.chunkstore import ChunkTable

    vecs = np.random.default_rng(0).random((5000, 384), dtype=np.float32)
    np.save(tmp_path / "vectors.npy", vecs)
    mapped = np.load(tmp_path / "vectors.npy", mmap_mode="r")
    starts, lens = np.array([0, 17, 4000, 4990, 12]), np.array([3, 1, 25, 10, 0])
    want = np.concatenate([vecs[s : s + n] for s, n in zip(starts, lens)])
    got = ChunkTable(texts={}, starts={}, vectors=mapped).gather(starts, lens)
    assert np.array_equal(got, want) and _mapped_kb(tmp_path / "vectors.npy") == 0
    assert np.array_equal(ChunkTable(texts={}, starts={}, vectors=vecs).gather(starts, lens), want)  # in memory
    assert mapped[4000:4100].sum() > 0 and _mapped_kb(tmp_path / "vectors.npy") > 0  # the map itself would fault


def test_a_changed_papers_old_chunks_are_deleted_by_their_ids_and_any_left_by_a_filter(tmp_path, small_corpus,
                                                                                       monkeypatch):
    """The stale chunk ids are what `chunk_paper` makes of the live generation's papers, so an
    update queries no metadata; chunks those ids miss (an index chunked otherwise) are still
    found, by a where filter, because the collection's count says some are left."""
    import rag.index
    from chromadb.api.models.Collection import Collection

    from rag.paperstore import PaperStore
    from rag.text import split_sentences

    s = make_settings(tmp_path, corpus_dir=small_corpus)
    _ingest(s)
    page = small_corpus / "004_e042a9c637ce68d9.txt"
    moe = "robust-mixture-of-expert-training-for-convolutional-neural-networks"
    filtered: list[object] = []
    real_get = Collection.get
    monkeypatch.setattr(Collection, "get", lambda self, *a, **k: filtered.append(k.get("where")) or real_get(self, *a, **k))

    copied: list[object] = []
    monkeypatch.setattr(rag.index, "copy_vectors", lambda *a, **k: copied.append(a))  # the server's way only
    (small_corpus / "new.txt").write_text("A Brand New Paper About Graph Sparsifiers\n\n"
                                          "We introduce spectral graph sparsifiers for message passing networks and "
                                          "show large speed-ups on citation graphs.\n")
    stats = _ingest(s)  # added only: nothing to delete, nothing copied into the copied folder
    assert (stats.added, stats.updated) == (1, 0) and not copied and not any(filtered)
    page.write_text(page.read_text().replace("Sparsely-gated Mixture of Expert (MoE)", "Sparsely gated MoE layers"))
    stats = _ingest(s)
    assert stats.updated == 1 and not [w for w in filtered if w and "paper_id" in str(w)]  # no metadata query
    idx = open_index(s, embedder=HashEmbedder())
    assert idx.collection.count() == stats.chunks  # nothing stale left
    del idx
    gc.collect()

    real_open = PaperStore.open

    class ChunkedOtherwise(PaperStore):  # the live papers as if only their first sentence had been chunked
        @classmethod
        def open(cls, gen):
            store = real_open(gen)
            papers = [p.model_copy(update={"abstracts": split_sentences(p.abstract)[:1]}) if p.paper_id == moe else p
                      for p in store.all()]
            store.close()
            return PaperStore.of(papers)

    monkeypatch.setattr(rag.index, "PaperStore", ChunkedOtherwise)
    page.write_text(page.read_text().replace("Sparsely gated MoE layers", "Sparse MoE layers"))
    stats = _ingest(s)
    assert stats.updated == 1 and any(w and "paper_id" in str(w) for w in filtered)  # the filter found the rest
    monkeypatch.undo()
    idx = open_index(s, embedder=HashEmbedder())
    assert idx.collection.count() == stats.chunks
    got = idx.collection.get(where={"paper_id": moe}, include=["documents"])["documents"]
    assert any("Sparse MoE layers" in d for d in got) and not any("Sparsely gated" in d for d in got)
