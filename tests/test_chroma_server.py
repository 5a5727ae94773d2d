"""RAG_CHROMA_URL: the vectors on a real `chroma run` server, one collection per generation."""

from __future__ import annotations

import gc
import json
import os
import shutil
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from rag.errors import RagError
from rag.index import chunk_paper, ingest, open_index
from rag.corpus import load_corpus
from rag.service import RagService
from rag.settings import PROJECT_ROOT
from rag.vectors import ChromaServerError, VectorsElsewhereError, server_client
from tests.conftest import SEEDS, make_settings
from tests.fakes import HashEmbedder, free_port

CHROMA = shutil.which("chroma", path=str(Path(sys.executable).parent)) or shutil.which("chroma")
TINY = [  # three papers: the CLI's real MiniLM embeds them in a moment
    ("Sparse Attention for Long Document Summarization",
     "We propose SparseSum, a sparse attention transformer that summarizes documents of 16k tokens. "
     "SparseSum reaches 45.1 ROUGE-1 on arXiv summarization while using four times less memory."),
    ("Quantized Convolutional Networks on Microcontrollers",
     "We quantize convolutional networks to 4-bit weights for microcontrollers. "
     "Our method keeps 70.2% top-1 accuracy on ImageNet and runs at 12 frames per second."),
    ("Graph Sparsifiers for Message Passing",
     "We introduce spectral graph sparsifiers for message passing networks. "
     "They give 3.1x speed-ups on citation graphs with no loss of accuracy."),
]


@pytest.fixture(scope="module")
def chroma_server(tmp_path_factory):
    """A real `chroma run` on 127.0.0.1, up until the module's tests are done."""
    if CHROMA is None:
        pytest.skip("the `chroma` CLI (it ships with chromadb) is not installed")
    data = tmp_path_factory.mktemp("chroma-server")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with open(data / "server.log", "wb") as log:
        proc = subprocess.Popen([CHROMA, "run", "--path", str(data / "db"), "--host", "127.0.0.1", "--port", str(port)],
                                stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"{url}/api/v2/heartbeat", timeout=1).read()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"`chroma run` did not start: {(data / 'server.log').read_text()[-2000:]}")
                time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


def _collections(url: str) -> set[str]:
    return {c.name for c in server_client(url).list_collections()}


def _one_page(tmp_path: Path) -> Path:
    pages = tmp_path / "pages"
    pages.mkdir()
    shutil.copy(SEEDS / "002_b672903fa418843c.txt", pages / "002.txt")
    return pages


def _live(settings) -> Path:
    return settings.index_dir / (settings.index_dir / "CURRENT").read_text()


def test_ingest_search_ask_from_the_server(tmp_path, small_corpus, chroma_server):
    before = _collections(chroma_server)
    s = make_settings(tmp_path, corpus_dir=small_corpus, chroma_url=chroma_server)
    svc = RagService(s, embedder=HashEmbedder())
    _, stats = svc.ingest()
    gen = _live(s)
    manifest = json.loads((gen / "manifest.json").read_text())
    assert manifest["vectors"] == {"server": chroma_server, "collection": f"papers-{gen.name}"}
    assert not (gen / "chroma").exists()  # no local vectors: they are on the server
    assert _collections(chroma_server) - before == {f"papers-{gen.name}"}
    assert server_client(chroma_server).get_collection(f"papers-{gen.name}").count() == stats.chunks

    hits = svc.search("camera localization uncertainty", top_k=3)
    assert hits[0].paper_id == "uncertainty-aware-dnn-for-multi-modal-camera-localization"
    answer = svc.ask("robust mixture of experts training")
    assert not answer.abstained and answer.citations
    assert answer.citations[0].paper_id == "robust-mixture-of-expert-training-for-convolutional-neural-networks"

    # the same papers in a local index rank the same: the server changes where vectors live, nothing else
    local = RagService(make_settings(tmp_path / "local", corpus_dir=small_corpus), embedder=HashEmbedder())
    local.ingest()
    for q in ("camera localization uncertainty", "mixture of experts", "face anti-spoofing"):
        assert [h.paper_id for h in local.search(q)] == [h.paper_id for h in svc.search(q)]


def test_incremental_reingest_copies_vectors_and_drops_the_old_collection(tmp_path, small_corpus, chroma_server):
    before = _collections(chroma_server)
    s = make_settings(tmp_path, corpus_dir=small_corpus, chroma_url=chroma_server)
    first = ingest(load_corpus(small_corpus).papers, s, embedder=HashEmbedder())
    reader = open_index(s, embedder=HashEmbedder())
    old = f"papers-{reader.path.name}"

    page = small_corpus / "004_e042a9c637ce68d9.txt"
    page.write_text(page.read_text().replace("Sparsely-gated Mixture of Expert (MoE)", "Sparsely gated MoE layers"))
    emb = HashEmbedder()
    second = ingest(load_corpus(small_corpus).papers, s, embedder=emb)
    changed = next(p for p in load_corpus(small_corpus).papers
                   if p.paper_id == "robust-mixture-of-expert-training-for-convolutional-neural-networks")
    assert (second.updated, second.added, second.removed) == (1, 0, 0)
    assert second.chunks_embedded == emb.embedded == len(chunk_paper(changed))  # the rest copied, not embedded
    new = f"papers-{_live(s).name}"
    assert _collections(chroma_server) - before == {old, new}  # the reader still holds the old one
    assert reader.collection.count() == first.chunks  # ... and can still read it

    idx = open_index(s, embedder=HashEmbedder())
    assert idx.collection.count() == second.chunks
    got = idx.collection.get(where={"paper_id": changed.paper_id}, include=["documents"])
    assert any("Sparsely gated MoE layers" in d for d in got["documents"])
    assert not any("Sparsely-gated Mixture of Expert (MoE)" in d for d in got["documents"])

    del reader
    gc.collect()
    third = ingest(load_corpus(small_corpus).papers, s, embedder=HashEmbedder())
    assert third.chunks_embedded == 0 and third.unchanged == first.added
    live = f"papers-{_live(s).name}"
    # the old generation (no reader left) went with its collection; the one `idx` reads stays for it
    assert _collections(chroma_server) - before == {new, live}
    del idx
    gc.collect()
    ingest(load_corpus(small_corpus).papers, s, embedder=HashEmbedder())
    assert _collections(chroma_server) - before == {f"papers-{_live(s).name}"}  # one live collection
    assert len(list(s.index_dir.glob("gen-*"))) == 1


def test_interrupted_ingest_leaves_the_previous_collection_usable(tmp_path, small_corpus, chroma_server):
    before = _collections(chroma_server)
    s = make_settings(tmp_path, corpus_dir=small_corpus, chroma_url=chroma_server)
    ingest(load_corpus(small_corpus).papers, s, embedder=HashEmbedder())
    live = _live(s)
    (small_corpus / "more.txt").write_text("".join(
        f"Extra Paper Number {i}\n\nThis abstract describes extra paper number {i} and its many results on benchmarks.\n\n"
        for i in range(20)))
    with pytest.raises(KeyboardInterrupt):
        ingest(load_corpus(small_corpus).papers, s, embedder=HashEmbedder(fail_after=5))
    assert _live(s) == live and _collections(chroma_server) - before == {f"papers-{live.name}"}  # the unfinished one dropped
    assert list(s.index_dir.glob("gen-*")) == [live]
    assert RagService(s, embedder=HashEmbedder()).search("camera localization uncertainty")
    assert ingest(load_corpus(small_corpus).papers, s, embedder=HashEmbedder()).added == 20


def test_answers_keep_coming_while_another_process_ingests(tmp_path, chroma_server):
    """Readers open the index afresh and answer in a loop while a separate process runs several
    ingests through the same server (each switching generations and dropping old collections)."""
    pages = _one_page(tmp_path)
    s = make_settings(tmp_path, corpus_dir=pages, chroma_url=chroma_server)
    RagService(s, embedder=HashEmbedder()).ingest()
    writer = subprocess.Popen([sys.executable, "-c", _WRITER, str(pages), str(s.index_dir), chroma_server],
                              cwd=PROJECT_ROOT, env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)},
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    done = threading.Event()
    answered: list[str] = []
    failures: list[str] = []

    def answer_in_a_loop() -> None:
        while not done.is_set() or len(answered) < 4:
            try:
                svc = RagService(s, embedder=HashEmbedder())  # a fresh process's view: opens the live generation
                assert svc.search("uncertainty estimation with deep ensembles", top_k=3)
                a = svc.ask("camera localization uncertainty")
                assert not a.abstained and a.citations, a.text
                answered.append(svc.retriever.index.path.name)
            except (AssertionError, RagError, Exception) as exc:  # noqa: BLE001 - every failure is reported
                failures.append(f"{type(exc).__name__}: {exc}")
                return

    readers = [threading.Thread(target=answer_in_a_loop) for _ in range(2)]
    for r in readers:
        r.start()
    try:
        out, err = writer.communicate(timeout=240)
    finally:
        done.set()
        for r in readers:
            r.join(120)
    assert writer.returncode == 0, err[-3000:]
    assert not failures, failures[:3]
    generations = json.loads(out.strip().splitlines()[-1])
    assert len(generations) == 4 and len(answered) >= 4
    assert len(set(answered)) >= 2, "the readers never saw a new generation"  # they followed the switches


_WRITER = """
import json, sys
from pathlib import Path
from rag.corpus import load_corpus
from rag.index import ingest
from tests.conftest import make_settings
from tests.fakes import HashEmbedder
pages, index, url = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
s = make_settings(index.parent, corpus_dir=pages, index_dir=index, chroma_url=url)
extra = pages / "extra.txt"
made = []
for i in range(4):
    if i % 2 == 0:
        extra.write_text(f"Ensembles Under Shift Number {i}\\n\\nWe study deep ensembles under distribution shift "
                         f"and report calibration on benchmark {i}.\\n")
    else:
        extra.unlink()
    made.append(ingest(load_corpus(pages).papers, s, embedder=HashEmbedder()).generation)
print(json.dumps(made))
"""


def test_vectors_kept_elsewhere_say_which_setting_to_change(tmp_path, small_corpus, chroma_server):
    local = make_settings(tmp_path, corpus_dir=small_corpus)
    ingest(load_corpus(small_corpus).papers, local, embedder=HashEmbedder())
    served = local.model_copy(update={"chroma_url": chroma_server})
    with pytest.raises(VectorsElsewhereError, match="keeps its vectors in its own folder.*run `python -m rag ingest`"):
        open_index(served, embedder=HashEmbedder())
    emb = HashEmbedder()
    moved = ingest(load_corpus(small_corpus).papers, served, embedder=emb)  # onto the server, copied not embedded
    assert moved.chunks_embedded == emb.embedded == 0
    assert open_index(served, embedder=HashEmbedder()).collection.count() == moved.chunks
    with pytest.raises(VectorsElsewhereError, match=f"on the Chroma server at {chroma_server}.*set RAG_CHROMA_URL"):
        open_index(local, embedder=HashEmbedder())
    with pytest.raises(VectorsElsewhereError):
        ingest(load_corpus(small_corpus).papers, local, embedder=HashEmbedder())
    assert ingest(load_corpus(small_corpus).papers, local, embedder=HashEmbedder(), rebuild=True).added > 0
    assert open_index(local, embedder=HashEmbedder()).papers


def test_unreachable_server_is_one_line_without_credentials(tmp_path, small_corpus):
    url = f"http://reader:s3cret-pw@127.0.0.1:{free_port()}"
    with pytest.raises(ChromaServerError, match="connection refused"):
        ingest(load_corpus(small_corpus).papers, make_settings(tmp_path, corpus_dir=small_corpus, chroma_url=url),
               embedder=HashEmbedder())
    proc = _cli("search", "sparse attention", "--corpus", str(small_corpus), "--index", str(tmp_path / "i"),
                "--chroma-url", url, check=False)
    assert proc.returncode == 1 and proc.stderr.strip().count("\n") == 0, proc.stderr
    assert "Traceback" not in proc.stderr and "s3cret" not in proc.stderr and "reader:" not in proc.stderr
    assert f"cannot reach the Chroma server at http://[redacted]@127.0.0.1:{url.rsplit(':', 1)[1]} (connection refused)" \
        in proc.stderr
    assert "chroma run --path DIR --port" in proc.stderr and "unset RAG_CHROMA_URL" in proc.stderr


def _cli(*args: str, check: bool = True, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if k not in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "RAG_CHROMA_URL")}
    proc = subprocess.run([sys.executable, "-m", "rag", *args], capture_output=True, text=True, cwd=PROJECT_ROOT,
                          env={**base, "RAG_LLM": "extractive", **(env or {})}, timeout=300)
    if check:
        assert proc.returncode == 0, proc.stderr
    return proc


def test_cli_ingest_search_ask_through_the_server(tmp_path, chroma_server):
    pages = tmp_path / "pages"
    pages.mkdir()
    (pages / "tiny.txt").write_text("".join(f"{title}\n\n{abstract}\n\n" for title, abstract in TINY))
    where = ["--corpus", str(pages), "--index", str(tmp_path / "index")]
    out = json.loads(_cli("ingest", *where, "--chroma-url", chroma_server, "--json").stdout)
    assert out["added"] == 3 and out["chunks_embedded"] > 0
    env = {"RAG_CHROMA_URL": chroma_server}  # the variable does what the option does
    hits = json.loads(_cli("search", "memory-efficient summarization of long documents", *where, "--json",
                           env=env).stdout)["hits"]
    assert hits[0]["title"] == TINY[0][0]
    answer = json.loads(_cli("ask", "What top-1 accuracy do the quantized networks keep on ImageNet?", *where,
                             "--json", env=env).stdout)
    assert not answer["abstained"] and "70.2%" in answer["answer"]
    assert answer["citations"][0]["title"] == TINY[1][0]
    proc = _cli("search", "graph sparsifiers", *where, check=False)  # the URL forgotten: one line saying so
    assert proc.returncode == 1 and "set RAG_CHROMA_URL=" in proc.stderr and "Traceback" not in proc.stderr


def test_the_page_answers_from_the_server(tmp_path, small_corpus, chroma_server):
    from tests.pages import ask_via_client, serve

    svc = RagService(make_settings(tmp_path, corpus_dir=small_corpus, chroma_url=chroma_server),
                     embedder=HashEmbedder())
    svc.ingest()
    with serve(svc) as url:
        (result,) = ask_via_client(url, ["robust mixture of experts training"])
    assert result.error is None and not result.abstained
    assert result.cited[0] == "robust-mixture-of-expert-training-for-convolutional-neural-networks"
