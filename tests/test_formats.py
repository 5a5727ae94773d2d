"""Bring your own collection: JSONL/JSON, CSV, BibTeX and the arXiv snapshot, real files parsed."""

from __future__ import annotations

import csv
import io
import json
import tracemalloc
from datetime import date
from pathlib import Path

import bibtexparser
import pytest

from rag.corpus import load_corpus
from rag.errors import CorpusError
from rag.export import bibtex, papers_csv
from rag.formats import detect_format
from rag.types import Paper
from ui.render import paper_meta

A1 = ("Residual networks ease the training of very deep networks by learning residual functions with "
      "reference to the layer inputs; we reach 3.57% error on ImageNet.")
A2 = ("The Transformer is a sequence transduction model based solely on attention, dispensing with recurrence "
      "and convolutions entirely, and is faster to train.")
A3 = ("We propose a method for pruning convolutional filters that keeps accuracy while cutting the FLOPs of a "
      "ResNet by half; code at https://github.com/example/prune.")


def write(path: Path, text: str | bytes) -> Path:
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return path


def by_title(report) -> dict[str, Paper]:
    return {p.title: p for p in report.papers}


def test_jsonl_keeps_fields_and_skips_bad_lines_with_file_and_line(tmp_path):
    lines = [
        json.dumps({"title": "Deep Residual Learning", "abstract": A1, "year": 2016, "authors": ["Kaiming He", "Jian Sun"],
                    "doi": "https://doi.org/10.1109/CVPR.2016.90", "arxiv_id": "arXiv:1512.03385",
                    "venue": "CVPR", "url": "https://example.org/resnet"}),
        '{"title": "Broken", "abstract": ',  # line 2: not JSON
        json.dumps({"title": "Too Short", "abstract": "Tiny."}),  # line 3
        "",
        json.dumps({"Title": "Attention Is All You Need", "Abstract": A2, "date": "2017-06-12",
                    "author": "Ashish Vaswani, Noam Shazeer and Niki Parmar"}),  # line 5
    ]
    path = write(tmp_path / "refs.jsonl", "\n".join(lines).encode() + b"\n" + b'{"title": "caf\xe9"}\n')
    report = load_corpus(path)
    papers = by_title(report)
    assert set(papers) == {"Deep Residual Learning", "Attention Is All You Need"}
    resnet = papers["Deep Residual Learning"]
    assert (resnet.doi, resnet.arxiv_id, resnet.venue, resnet.url) == (
        "10.1109/CVPR.2016.90", "1512.03385", "CVPR", "https://example.org/resnet")
    assert resnet.author_names == ["Kaiming He", "Jian Sun"] and resnet.authors == 2
    assert resnet.year == 2016 and resnet.published is None  # a year stays a year: no made-up 1 January
    attention = papers["Attention Is All You Need"]
    assert attention.published == date(2017, 6, 12) and attention.authors == 3
    assert [s.line for s in attention.sources] == [5]
    assert report.formats == {"refs.jsonl": "JSON lines"} and report.skipped_records == 3
    warned = "\n".join(report.warnings)
    assert f"{path}:2: not valid JSON" in warned
    assert f"{path}:3: the abstract of 'Too Short' is too short" in warned
    assert f"{path}:6: not valid UTF-8" in warned
    assert report.summary() == "read 2 records from refs.jsonl (JSON lines); 3 records skipped (see the warnings)"


def test_strict_stops_at_the_first_bad_record(tmp_path):
    path = write(tmp_path / "refs.jsonl", json.dumps({"title": "Good", "abstract": A1}) + "\n"
                 + json.dumps({"title": "No abstract"}) + "\n")
    assert len(load_corpus(path).papers) == 1
    with pytest.raises(CorpusError, match=r"refs.jsonl:2: 'No abstract' has no abstract"):
        load_corpus(path, strict=True)


def test_a_file_without_one_usable_record_is_a_clear_error(tmp_path):
    path = write(tmp_path / "refs.jsonl", json.dumps({"title": "No abstract"}) + "\n")
    with pytest.raises(CorpusError, match=r"refs.jsonl: no usable records in this file \(1 bad; the first, line 1: 'No abstract' has no abstract\)$"):
        load_corpus(path)
    with pytest.raises(CorpusError, match=r"no page or file of .* could be read; the first problem: .*refs.jsonl: no usable"):
        load_corpus(tmp_path)


def test_json_list_csl_export(tmp_path):
    items = [{"type": "article-journal", "title": "Deep Residual Learning", "abstract": A1, "DOI": "10.1109/CVPR.2016.90",
              "URL": "https://example.org/resnet", "container-title": "CVPR",
              "author": [{"family": "He", "given": "Kaiming"}, {"family": "Zhang", "given": "Xiangyu"}],
              "issued": {"date-parts": [[2016, 6]]}},
             "not an object",
             {"title": "Attention Is All You Need", "abstract": A2, "issued": {"date-parts": [[2017, 6, 12]]}}]
    path = write(tmp_path / "export.json", json.dumps(items, indent=2))
    report = load_corpus(path)
    resnet = by_title(report)["Deep Residual Learning"]
    assert resnet.author_names == ["Kaiming He", "Xiangyu Zhang"] and resnet.venue == "CVPR"
    assert resnet.year == 2016 and resnet.published is None
    assert by_title(report)["Attention Is All You Need"].published == date(2017, 6, 12)
    line = json.dumps(items, indent=2).splitlines().index('  "not an object",') + 1
    assert any(f"export.json:{line}: expected a JSON object" in w for w in report.warnings)
    assert report.formats == {"export.json": "JSON"}


def test_csv_zotero_export_with_a_multiline_abstract_and_a_bad_row(tmp_path):
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["Key", "Item Type", "Publication Year", "Author", "Title", "Publication Title", "DOI", "Url",
                "Abstract Note"])
    w.writerow(["K1", "journalArticle", "2016", "He, Kaiming; Zhang, Xiangyu", "Deep Residual Learning", "CVPR",
                "10.1109/CVPR.2016.90", "", A1.replace("; ", ";\n\n")])  # lines 2-4
    w.writerow(["K2", "journalArticle", "2017", "Vaswani, Ashish", "No Abstract Here", "", "", "", ""])  # line 5
    w.writerow(["K3", "preprint", "2019", "Doe, Jane", "Pruning Filters", "", "", "https://arxiv.org/abs/1608.08710",
                A3])  # line 6
    data = "\ufeff" + buf.getvalue()
    path = write(tmp_path / "zotero.csv", data.encode() + "K4,x,2020,y,Caf".encode() + b"\xe9," + A2.encode() + b"\n")
    report = load_corpus(path)
    papers = by_title(report)
    assert set(papers) == {"Deep Residual Learning", "Pruning Filters"}
    resnet = papers["Deep Residual Learning"]
    assert resnet.author_names == ["Kaiming He", "Xiangyu Zhang"] and resnet.venue == "CVPR" and resnet.year == 2016
    assert resnet.doi == "10.1109/CVPR.2016.90" and "layer inputs;\n\nwe" not in resnet.abstract
    assert papers["Pruning Filters"].url == "https://arxiv.org/abs/1608.08710"
    assert papers["Pruning Filters"].code_urls == ["https://github.com/example/prune"]  # still found in the abstract
    assert [s.line for s in papers["Pruning Filters"].sources] == [6]
    assert any(f"{path}:5: 'No Abstract Here' has no abstract" in w for w in report.warnings)
    assert any(f"{path}:7: not valid UTF-8" in w for w in report.warnings)
    assert report.formats == {"zotero.csv": "CSV"}


def test_csv_without_a_title_column_names_the_columns(tmp_path):
    path = write(tmp_path / "x.csv", "name,text\na,b\n")
    with pytest.raises(CorpusError, match=r"x.csv:1: the header has no title or abstract column \(it has: name, text\)"):
        load_corpus(path, strict=True)


BIB = r"""@string{cvpr = "Computer Vision and Pattern Recognition"}

@inproceedings{he2016,
  title = {{Deep} Residual Learning for Image Recognition},
  author = {He, Kaiming and Sch{\"o}lkopf, Bernhard and Caf{\'e}, Ren\'e},
  booktitle = cvpr,
  year = 2016,
  doi = {10.1109/CVPR.2016.90},
  abstract = {%(a1)s},
}

@article{noabstract,
  title = {A Paper Without an Abstract},
  year = {2020},
}

@misc{vaswani2017,
  title = {Attention Is All You Need},
  author = {Vaswani, Ashish and Shazeer, Noam},
  eprint = {1706.03762},
  archivePrefix = {arXiv},
  date = {2017-06-12},
  abstract = {%(a2)s},
}

@misc{he2016, title = {Duplicate Key}, abstract = {%(a3)s}}
""" % {"a1": A1.replace("%", r"\%"), "a2": A2, "a3": A3}


def test_bibtex_with_latex_strings_and_entries_without_abstract(tmp_path):
    path = write(tmp_path / "refs.bib", BIB)
    report = load_corpus(path)
    papers = by_title(report)
    assert set(papers) == {"Deep Residual Learning for Image Recognition", "Attention Is All You Need"}
    resnet = papers["Deep Residual Learning for Image Recognition"]
    assert resnet.author_names == ["Kaiming He", "Bernhard Schölkopf", "René Café"]
    assert resnet.venue == "Computer Vision and Pattern Recognition" and resnet.year == 2016
    assert resnet.doi == "10.1109/CVPR.2016.90" and "3.57% error" in resnet.abstract
    assert [s.line for s in resnet.sources] == [3]
    attention = papers["Attention Is All You Need"]
    assert attention.arxiv_id == "1706.03762" and attention.published == date(2017, 6, 12)
    assert any(f"{path}:12: @article{{noabstract, ...}} has no abstract" in w for w in report.warnings)
    assert any(f"{path}:26: duplicate key 'he2016'; the entry on line 3" in w for w in report.warnings)
    assert report.summary() == "read 2 records from refs.bib (BibTeX); 2 records skipped (see the warnings)"
    with pytest.raises(CorpusError, match=r"refs.bib:12: .*no abstract"):
        load_corpus(path, strict=True)


def arxiv_line(i: int, categories: str, title: str | None = None, abstract: str = A1) -> str:
    return json.dumps({
        "id": f"2101.{i:05d}", "submitter": "X", "authors": "A. Smith, B. Jones and C. Lee",
        "title": title or f"Paper number {i}\n  on things", "comments": None, "journal-ref": None,
        "doi": None, "categories": categories, "license": None, "abstract": "  " + abstract + "\n",
        "versions": [{"version": "v1", "created": "Mon, 4 Jan 2021 10:00:00 GMT"},
                     {"version": "v2", "created": "Tue, 2 Mar 2021 10:00:00 GMT"}],
        "update_date": "2021-03-02",
        "authors_parsed": [["Smith", "A.", ""], ["Jones", "B.", ""], ["Lee", "C.", "Jr"]],
    })


def test_arxiv_snapshot_is_detected_from_content_and_filtered_by_category(tmp_path):
    rows = [arxiv_line(1, "cs.LG stat.ML"), arxiv_line(2, "math.CO"), arxiv_line(3, "cs.CV"),
            "{broken", arxiv_line(5, "hep-th")]
    path = write(tmp_path / "arxiv-metadata-oai-snapshot.json", "\n".join(rows) + "\n")
    assert detect_format(path) == "arxiv"
    report = load_corpus(path, categories=["cs.LG", "cs.CV"])
    assert [p.arxiv_id for p in report.papers] == ["2101.00001", "2101.00003"]
    first = report.papers[0]
    assert first.title == "Paper number 1 on things" and first.url == "https://arxiv.org/abs/2101.00001"
    assert first.published == date(2021, 1, 4)  # the first version, not the last update
    assert first.author_names == ["A. Smith", "B. Jones", "C. Lee Jr"] and first.authors == 3
    assert report.read[0].left_out == 2 and report.skipped_records == 1
    assert any(f"{path}:4: not valid JSON" in w for w in report.warnings)
    assert report.formats == {path.name: "arXiv metadata snapshot"}
    assert "2 records from arxiv-metadata-oai-snapshot.json (arXiv metadata snapshot), 2 more outside" in report.summary()
    assert len(load_corpus(path, categories=["cs"]).papers) == 2 and len(load_corpus(path).papers) == 4
    with pytest.raises(CorpusError, match=r"snapshot.json: no usable records in this file \(1 bad; the first, line 4: not valid JSON .*\); none of its 4 records is in q-bio"):
        load_corpus(path, categories=["q-bio"])


def test_arxiv_snapshot_is_streamed_not_read_whole(tmp_path, monkeypatch):
    """A ~20 MB snapshot of which 5 papers are chosen is read with far less memory than its size,
    and without Path.read_bytes/read_text (which would hold it whole)."""
    path = tmp_path / "snapshot.jsonl"
    filler = (A2 + " ") * 6
    with path.open("w") as f:
        for i in range(20_000):
            f.write(arxiv_line(i, "cs.LG" if i % 4000 == 0 else "math.CO", abstract=filler) + "\n")
    size = path.stat().st_size
    assert size > 20_000_000

    def refuse(*args, **kwargs):
        raise AssertionError("read the whole file")

    monkeypatch.setattr(Path, "read_bytes", refuse)
    monkeypatch.setattr(Path, "read_text", refuse)
    tracemalloc.start()
    try:
        report = load_corpus(path, categories=["cs.LG"])
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(report.papers) == 5 and report.read[0].left_out == 19_995
    assert peak < size / 10, f"peak {peak:,} bytes for a {size:,}-byte file"


def test_format_detection_by_extension_and_content(tmp_path):
    write(tmp_path / "lines.json", json.dumps({"title": "T", "abstract": A1}) + "\n")
    write(tmp_path / "list.jsonl", json.dumps([{"title": "T", "abstract": A1}]))
    write(tmp_path / "snap.jsonl", arxiv_line(1, "cs.LG") + "\n")
    write(tmp_path / "refs.bib", BIB)
    write(tmp_path / "refs.csv", "title,abstract\nT," + A1 + "\n")
    write(tmp_path / "page.txt", "T\n" + A1 + "\n")
    write(tmp_path / "noext", BIB)
    write(tmp_path / "pretty.json", json.dumps({"title": "T", "abstract": A1}, indent=2))
    kinds = {p: detect_format(tmp_path / p) for p in ("lines.json", "list.jsonl", "snap.jsonl", "refs.bib", "refs.csv",
                                                      "page.txt", "noext")}
    assert kinds == {"lines.json": "jsonl", "list.jsonl": "json", "snap.jsonl": "arxiv", "refs.bib": "bibtex",
                     "refs.csv": "csv", "page.txt": "pages", "noext": "bibtex"}
    with pytest.raises(CorpusError, match=r"pretty.json:1: expected a list of objects"):
        detect_format(tmp_path / "pretty.json")


def test_a_folder_mixes_formats_merges_by_title_and_skips_an_unreadable_file(tmp_path):
    write(tmp_path / "a.txt", "Attention Is All You Need\n" + A2 + "\n")
    write(tmp_path / "b.bib", BIB)
    write(tmp_path / "c.jsonl", json.dumps({"title": "Attention is all you need!", "abstract": A2,
                                            "url": "https://example.org/attention"}) + "\n")
    write(tmp_path / "d.json", '{"title": "pretty"\n}')
    write(tmp_path / "notes.md", "ignored")
    report = load_corpus(tmp_path, categories=["cs.LG"])
    attention = next(p for p in report.papers if p.title == "Attention Is All You Need")
    assert sorted(s.file for s in attention.sources) == ["a.txt", "b.bib", "c.jsonl"]
    assert len(attention.abstracts) == 1  # the same abstract is kept once
    assert attention.arxiv_id == "1706.03762" and attention.url == "https://example.org/attention"
    assert report.formats == {"a.txt": "listing pages", "b.bib": "BibTeX", "c.jsonl": "JSON lines"}
    assert report.skipped == [str(tmp_path / "d.json")]
    assert any("b.bib: --categories filters the arXiv metadata snapshot only" in w for w in report.warnings)
    assert report.summary().startswith("read 2 records from b.bib (BibTeX), 1 record from c.jsonl (JSON lines), "
                                       "1 entry from 1 listing page; 2 records skipped, 1 file skipped")


def test_cards_link_the_paper_itself_and_show_a_year_as_a_year():
    paper = Paper(paper_id="p", title="Deep Residual Learning", abstracts=[A1], published_year=2016,
                  doi="10.1109/CVPR.2016.90", arxiv_id="1512.03385", venue="CVPR",
                  author_names=["Kaiming He", "Xiangyu Zhang", "Shaoqing Ren", "Jian Sun"], authors=4)
    meta = paper_meta(paper)
    assert 'href="https://arxiv.org/abs/1512.03385"' in meta and 'href="https://doi.org/10.1109/CVPR.2016.90"' in meta
    assert "arxiv.org/search" not in meta and "semanticscholar" not in meta
    assert "2016" in meta and "2016-01-01" not in meta and "Kaiming He, Xiangyu Zhang, Shaoqing Ren et al." in meta
    plain = paper_meta(Paper(paper_id="q", title="T", abstracts=[A1]))
    assert "arxiv.org/search" in plain and "semanticscholar" in plain  # no direct link: the title searches


def test_exports_carry_doi_eprint_url_and_authors():
    paper = Paper(paper_id="deep-residual-learning", title="Deep Residual Learning", abstracts=[A1], published_year=2016,
                  doi="10.1109/CVPR.2016.90", arxiv_id="1512.03385", author_names=["Kaiming He", "Jian Sun"],
                  url="https://example.org/resnet")
    entry = bibtexparser.parse_string(bibtex([paper])).entries[0]
    assert entry["doi"] == "10.1109/CVPR.2016.90" and entry["eprint"] == "1512.03385"
    assert entry["author"] == "Kaiming He and Jian Sun" and entry["url"] == "https://example.org/resnet"
    row = next(csv.DictReader(io.StringIO(papers_csv([(paper, [1])]))))
    assert (row["doi"], row["arxiv_id"], row["url"], row["year"]) == (
        "10.1109/CVPR.2016.90", "1512.03385", "https://example.org/resnet", "2016")


def test_a_full_date_wins_over_a_year_alone_and_gzip_is_read(tmp_path):
    import gzip

    write(tmp_path / "a.jsonl", json.dumps({"title": "Deep Residual Learning", "abstract": A1, "year": "2016"}) + "\n")
    with gzip.open(tmp_path / "b.jsonl.gz", "wt") as f:
        f.write(json.dumps({"title": "Deep residual learning", "abstract": A1, "date": "2015-12-10"}) + "\n")
    (paper,) = load_corpus(tmp_path).papers
    assert paper.published == date(2015, 12, 10) and paper.published_year is None and paper.year == 2015
    assert [s.file for s in paper.sources] == ["a.jsonl", "b.jsonl.gz"]
