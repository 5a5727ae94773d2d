"""Adding papers to a collection from one file (what the page's "Add to the collection" does)."""

from __future__ import annotations

import json

import pytest

from rag.errors import CorpusError
from rag.service import RagService
from tests.conftest import make_settings
from tests.fakes import HashEmbedder

NEW = [
    {"title": "Quokka Attention: Sparse Marsupial Transformers",
     "abstract": "We propose Quokka attention, a sparse attention pattern inspired by marsupial foraging. "
                 "Quokka attention reaches 81.2% top-1 accuracy on ImageNet with 40% fewer FLOPs than dense attention.",
     "year": 2025, "arxiv_id": "2501.00001"},
    {"title": "Wombat Pruning for Burrowing Networks",
     "abstract": "Wombat pruning removes 70% of the weights of a convolutional network without retraining, "
                 "keeping accuracy within 0.3% on CIFAR-10, by burrowing through the loss landscape.",
     "doi": "10.1000/wombat"},
]


def _file(tmp_path, records, name="mine.jsonl"):
    path = tmp_path / name
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


@pytest.fixture
def svc(tmp_path, small_corpus) -> RagService:
    s = RagService(make_settings(tmp_path, corpus_dir=small_corpus), embedder=HashEmbedder())
    s.ingest()
    return s


def test_added_papers_are_searchable_and_stay_in_the_collection(svc, tmp_path):
    before = svc.paper_count()
    embedder = svc.embedder
    embedded_before = embedder.embedded
    report, stats = svc.add_papers(_file(tmp_path, [*NEW, {"title": "too short", "abstract": "no"}]))
    assert (stats.added, stats.updated, stats.removed) == (2, 0, 0)
    assert report.skipped_records == 1 and "mine.jsonl:3" in report.warnings[0]
    assert embedder.embedded - embedded_before == stats.chunks_embedded < 12  # only the new papers were embedded
    assert svc.paper_count() == before + 2
    hit = svc.search("Quokka attention", top_k=1)[0]
    assert hit.paper.title == NEW[0]["title"] and hit.paper.arxiv_id == "2501.00001"
    assert [p.name for p in svc.settings.added_dir.iterdir()][0].endswith("-mine.jsonl")
    # a later ingest (the CLI's) keeps them: the added folder is part of the collection
    _, again = RagService(svc.settings, embedder=HashEmbedder()).ingest()
    assert (again.added, again.removed, again.unchanged) == (0, 0, before + 2)


def test_a_file_without_papers_adds_nothing(svc, tmp_path):
    before = svc.paper_count()
    with pytest.raises(CorpusError, match="bad.jsonl"):
        svc.add_papers(_file(tmp_path, [{"title": "x", "abstract": "too short"}], name="bad.jsonl"))
    assert not svc.settings.added_dir.exists() or not any(svc.settings.added_dir.iterdir())
    assert svc.paper_count() == before


def test_an_interrupted_add_leaves_the_collection_as_it_was(svc, tmp_path):
    before = svc.paper_count()
    svc.embedder = HashEmbedder(fail_after=1)
    with pytest.raises(KeyboardInterrupt):
        svc.add_papers(_file(tmp_path, NEW))
    assert not any(svc.settings.added_dir.iterdir())  # the kept copy is gone again
    svc.embedder = HashEmbedder()
    assert svc.paper_count() == before
    assert svc.search("densenet", top_k=1)  # the previous index still answers
