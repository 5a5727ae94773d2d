from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from rag.corpus import load_corpus, merge_entries, paper_id_for, parse_page
from rag.formats.records import Record
from rag.errors import CorpusError
from tests.conftest import SEEDS


def test_counts_on_real_seeds(corpus):
    assert corpus.entries == 588
    assert len(corpus.papers) == 517
    assert len({p.paper_id for p in corpus.papers}) == 517
    assert sum(len(p.sources) for p in corpus.papers) == 588


def test_duplicates_are_merged_keeping_every_page(corpus):
    by_id = {p.paper_id: p for p in corpus.papers}
    monotone = by_id["monotone-deep-boltzmann-machines"]
    assert len(monotone.sources) == 4
    assert len({s.file for s in monotone.sources}) >= 2
    assert len(monotone.abstracts) == 1


def test_title_with_two_different_abstracts_keeps_both(corpus):
    fcn = next(p for p in corpus.papers if p.title == "Fully Convolutional Networks for Semantic Segmentation")
    assert len(fcn.abstracts) == 2
    assert any("62.2% mean IU" in a for a in fcn.abstracts)
    assert any("67.2% mean IU" in a for a in fcn.abstracts)


def test_glued_subscribe_title_and_noise_lines(corpus):
    titles = {p.title for p in corpus.papers}
    assert "A Deep Neural Network for SSVEP-based Brain-Computer Interfaces" in titles
    noise = {"new", "Subscribe", "byAK and the research community", "Daily Papers", "·", "Mar 14"}
    assert not titles & noise
    assert not any(t.startswith("Subscribe") or "authors" == t.split()[-1] for t in titles)


def test_metadata_dates_authors_code(corpus):
    by_title = {p.title: p for p in corpus.papers}
    rsb = by_title["Replica symmetry breaking in dense neural networks"]
    assert rsb.authors == 4 and rsb.published == date(2021, 11, 25)
    ssvep = by_title["A Deep Neural Network for SSVEP-based Brain-Computer Interfaces"]
    assert ssvep.code_urls == ["https://github.com/osmanberke/Deep-SSVEP-BCI"]
    assert sum(1 for p in corpus.papers if p.authors) >= 60


def test_ids_are_stable_and_derived_from_title(corpus):
    again = load_corpus(SEEDS)
    assert [p.paper_id for p in corpus.papers] == [p.paper_id for p in again.papers]
    assert paper_id_for("Densely Connected Convolutional Networks") == "densely-connected-convolutional-networks"
    assert paper_id_for("  DENSELY connected: Convolutional networks! ") == "densely-connected-convolutional-networks"
    long = paper_id_for("word " * 40)
    assert len(long) <= 88 and long == paper_id_for("word " * 40)


def _write(tmp: Path, name: str, text: str | bytes) -> Path:
    path = tmp / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return path


ABSTRACT = "We study a thing in depth and show that it works well on several benchmarks, beating baselines."


def test_title_without_abstract_names_file_and_line(tmp_path):
    path = _write(tmp_path, "bad.txt", f"new\n\nGood Title\n\n{ABSTRACT}\n\nOrphan Title\n")
    with pytest.raises(CorpusError) as err:
        parse_page(path)
    assert "bad.txt:7" in str(err.value) and "Orphan Title" in str(err.value)


def test_short_abstract_is_malformed(tmp_path):
    path = _write(tmp_path, "bad.txt", "Title One\nToo short.\n")
    with pytest.raises(CorpusError, match=r"bad.txt:2: .*too short"):
        parse_page(path)


def test_non_utf8_names_the_line(tmp_path):
    path = _write(tmp_path, "latin.txt", f"Title\n{ABSTRACT}\nCaf\xe9 title\n".encode("latin-1"))
    with pytest.raises(CorpusError, match=r"latin.txt:3: not valid UTF-8"):
        parse_page(path)


def test_empty_page_is_reported_and_empty_folder_fails(tmp_path):
    _write(tmp_path, "a.txt", f"Some Title\n{ABSTRACT}\n")
    _write(tmp_path, "b.txt", "new\n\nSubscribe\n")
    report = load_corpus(tmp_path)
    assert len(report.papers) == 1
    assert any("b.txt" in w and "no papers" in w for w in report.warnings)
    empty = tmp_path / "empty"
    empty.mkdir()
    _write(empty, "x.txt", "\n\n")
    with pytest.raises(CorpusError, match="no papers found"):
        load_corpus(empty)
    with pytest.raises(CorpusError, match="does not exist"):
        load_corpus(tmp_path / "nope")


def test_a_broken_page_is_skipped_with_its_file_and_line_unless_strict(tmp_path):
    _write(tmp_path, "a.txt", f"Good Title\n{ABSTRACT}\n")
    _write(tmp_path, "b.txt", "Title One\nToo short.\n")
    _write(tmp_path, "c.txt", f"Another Good Title\n{ABSTRACT}\n".encode() + b"\xff\n")
    (tmp_path / "d.txt").mkdir()  # not even a file
    report = load_corpus(tmp_path)
    assert sorted(p.title for p in report.papers) == ["Good Title"]
    assert report.files == ["a.txt"] and len(report.skipped) == 3
    assert any("b.txt:2:" in w and "too short" in w for w in report.warnings)
    assert any("c.txt:3:" in w and "UTF-8" in w for w in report.warnings)
    assert any("d.txt" in w and "cannot read" in w for w in report.warnings)
    with pytest.raises(CorpusError, match=r"b.txt:2: .*too short"):
        load_corpus(tmp_path, strict=True)
    (tmp_path / "a.txt").unlink()
    with pytest.raises(CorpusError, match=r"no page .* could be read; the first problem: .*b.txt:2"):
        load_corpus(tmp_path)


def test_two_titles_whose_truncated_ids_collide_stay_two_papers():
    # both truncate to the same 80 characters, and their sha1s share the first 6 hex digits
    a, b = (f"Deep Learning and genetic algorithms for cosmological Bayesian inference speed-up (variant {n})"
            for n in (14, 50))
    assert paper_id_for(a) == paper_id_for(b)
    papers = merge_entries([Record(title=t, abstract=f"Abstract {i}.", file="f.jsonl", line=i)
                            for i, t in enumerate((a, b, a), start=1)])
    assert [p.title for p in papers] == [a, b] and len({p.paper_id for p in papers}) == 2
    assert papers[0].paper_id == paper_id_for(a) and len(papers[0].sources) == 2  # the first keeps its id
