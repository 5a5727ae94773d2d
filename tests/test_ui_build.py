"""The page's start-up build: progress while building, a clear message when the index is
broken, and the `python -m ui` entry point's error handling (no browser needed)."""

from __future__ import annotations

from rag.service import RagService
from tests.conftest import make_settings
from tests.fakes import HashEmbedder
from ui.__main__ import main
from ui.build import IndexBuild


def test_first_build_reports_progress_then_ready(tmp_path, small_corpus):
    svc = RagService(make_settings(tmp_path, corpus_dir=small_corpus), embedder=HashEmbedder(delay=0.005))
    build = IndexBuild(svc).start()
    seen = list(build.wait(poll=0.05))
    assert build.join(timeout=60) and build.ready and build.built
    assert any("embedding" in m and "%" in m for m in seen)
    assert build.total > 0 and build.done == build.total
    assert build.message() == "Index built and ready."
    # a second start opens the existing index without building
    again = IndexBuild(RagService(svc.settings, embedder=HashEmbedder())).run_now()
    assert again.ready and not again.built


def test_corrupt_index_is_reported_with_what_to_do(tmp_path, small_corpus):
    settings = make_settings(tmp_path, corpus_dir=small_corpus)
    IndexBuild(RagService(settings, embedder=HashEmbedder())).run_now()
    gen = settings.index_dir / (settings.index_dir / "CURRENT").read_text()
    (gen / "manifest.json").write_text("{not json")
    build = IndexBuild(RagService(settings, embedder=HashEmbedder())).run_now()
    assert build.state == "failed"
    assert "--rebuild" in build.message() and build.message().startswith("The index could not be opened")


def test_entry_point_reports_a_broken_corpus_in_one_line(tmp_path, capsys):
    pages = tmp_path / "pages"
    pages.mkdir()
    (pages / "bad.txt").write_bytes(b"\xff\xfe not utf-8 \x00")
    code = main(["--corpus", str(pages), "--index", str(tmp_path / "idx"), "--port", "0"])
    err = capsys.readouterr().err
    assert code != 0 and err.startswith("error: ") and "bad.txt" in err and "Traceback" not in err


def test_the_page_starts_from_the_index_it_has_when_the_corpus_breaks(tmp_path, small_corpus):
    from ui.app import build_demo

    settings = make_settings(tmp_path, corpus_dir=small_corpus)
    built = IndexBuild(RagService(settings, embedder=HashEmbedder())).run_now()
    indexed = built.service.paper_count()
    for page in small_corpus.glob("*.txt"):  # every page now unreadable
        page.write_bytes(b"Title\n\xff\xfe not utf-8\n")
    service = RagService(settings, embedder=HashEmbedder())
    demo = build_demo(service, IndexBuild(service).run_now())  # no error: the index answers
    assert demo is not None and service.paper_count() == indexed
    assert service.ask("camera localization uncertainty").citations
