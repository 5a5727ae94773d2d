"""The CLI as users run it: real subprocesses, JSON contracts, one-line errors."""

from __future__ import annotations

import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys

import pytest

from rag.settings import PROJECT_ROOT


def run(service, *args, check=True):
    env = {**os.environ, "RAG_LLM": "extractive", "OPENAI_API_KEY": "", "OPENAI_BASE_URL": ""}
    env.pop("OPENAI_API_KEY")
    env.pop("OPENAI_BASE_URL")
    proc = subprocess.run([sys.executable, "-m", "rag", *args, "--index", str(service.settings.index_dir)],
                          capture_output=True, text=True, cwd=PROJECT_ROOT, env=env, timeout=300)
    if check:
        assert proc.returncode == 0, proc.stderr
    return proc


def test_search_json_contract(service):
    out = json.loads(run(service, "search", "data-free quantization", "--top-k", "10", "--json").stdout)
    assert out["query"] == "data-free quantization"
    assert len(out["hits"]) == 10
    assert set(out["hits"][0]) == {"paper_id", "title", "score", "snippet", "why", "year", "url", "doi", "arxiv_id", "code_urls"}
    assert set(out["hits"][0]["why"]) >= {"terms", "sentence", "similarity"}
    assert len({h["paper_id"] for h in out["hits"]}) == 10
    assert out["hits"][0]["score"] >= out["hits"][-1]["score"]


def test_ask_json_contract(service):
    out = json.loads(run(service, "ask", "which methods beat ResNet-50 without extra data?", "--json").stdout)
    assert {"question", "answer", "abstained", "backend", "citations", "hits"} <= set(out)
    assert out["backend"] == "extractive" and out["abstained"] is False
    assert set(out["citations"][0]) == {"n", "paper_id", "title", "quote"}
    assert "[1]" in out["answer"]


def test_ask_human_output(service):
    out = run(service, "ask", "What does DeepCache get on SDXL?").stdout
    assert "The collection does not answer this question." in out and "extractive" in out


def test_batch_loads_once_and_prints_one_object_per_line(service, tmp_path):
    batch = tmp_path / "q.jsonl"
    batch.write_text('{"question": "data-free quantization"}\n\nWhat does DeepCache get on SDXL?\n')
    lines = run(service, "ask", "--batch", str(batch), "--json").stdout.strip().splitlines()
    assert [json.loads(x)["abstained"] for x in lines] == [False, True]
    lines = run(service, "search", "--batch", str(batch), "--json").stdout.strip().splitlines()
    assert [json.loads(x)["query"] for x in lines] == ["data-free quantization", "What does DeepCache get on SDXL?"]


def test_errors_are_one_actionable_line(service, tmp_path):
    proc = run(service, "ask", "   ", check=False)
    assert proc.returncode != 0 and proc.stderr.strip().count("\n") == 0 and "empty" in proc.stderr
    proc = subprocess.run([sys.executable, "-m", "rag", "search", "x", "--index", str(tmp_path / "i"),
                           "--corpus", str(tmp_path / "missing")], capture_output=True, text=True, cwd=PROJECT_ROOT)
    assert proc.returncode != 0 and "does not exist" in proc.stderr and "Traceback" not in proc.stderr
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "p.txt").write_text("Title\nshort\n")
    proc = subprocess.run([sys.executable, "-m", "rag", "ingest", "--index", str(tmp_path / "i2"), "--corpus", str(bad)],
                          capture_output=True, text=True, cwd=PROJECT_ROOT)
    assert proc.returncode != 0 and "p.txt:2" in proc.stderr and "Traceback" not in proc.stderr
    for bad in ("0", "-3"):
        proc = run(service, "search", "densenet", "--top-k", bad, check=False)
        assert proc.returncode == 2 and "must be between 1 and 100" in proc.stderr and "Traceback" not in proc.stderr


def test_search_finds_a_paper_by_its_own_name(service):
    out = json.loads(run(service, "search", "ConCerNet", "--json").stdout)
    assert out["hits"][0]["paper_id"].startswith("concernet")
    assert out["hits"][0]["why"]["name"] == "ConCerNet"


def test_follow_ups_from_the_cli(service, tmp_path):
    alone = json.loads(run(service, "ask", "which of those use distillation?", "--json").stdout)
    followed = json.loads(run(service, "ask", "which of those use distillation?", "--history",
                              "Which papers do data-free quantization?", "--json").stdout)
    first = json.loads(run(service, "ask", "Which papers do data-free quantization?", "--json").stdout)
    scope = {c["paper_id"] for c in first["citations"]}
    assert followed["citations"] and {c["paper_id"] for c in followed["citations"]} <= scope
    assert {c["paper_id"] for c in alone["citations"]} != {c["paper_id"] for c in followed["citations"]}
    batch = tmp_path / "conv.jsonl"
    batch.write_text(json.dumps({"question": "which of those use distillation?",
                                 "history": ["Which papers do data-free quantization?"]}) + "\n")
    line = json.loads(run(service, "ask", "--batch", str(batch), "--json").stdout)
    assert [c["paper_id"] for c in line["citations"]] == [c["paper_id"] for c in followed["citations"]]
    batch.write_text('{"question": "x", "history": "not a list"}\n')
    proc = run(service, "ask", "--batch", str(batch), "--json", check=False)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert json.loads(proc.stdout) == {"line": 1, "error": 'expected a JSON object with a "question" field and an '
                                                            'optional "history" list of strings'}


def test_the_terminal_is_not_a_target(small_corpus, tmp_path):
    """A corpus with ESC/OSC sequences (clear screen, recolour, retitle, OSC 52 clipboard) prints none."""
    page = next(small_corpus.glob("*.txt"))
    text = page.read_text()
    title = "Uncertainty-Aware DNN for Multi-Modal Camera Localization"
    assert title in text
    evil = "\x1b[2J\x1b]0;pwned\x07\x1b]52;c;SGVsbG8=\x07\x1b[31m"
    page.write_text(text.replace(title, f"{evil}{title}\x9b", 1).replace("Camera localization, i.e.",
                                                                        f"Camera {evil}localization, i.e.", 1))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "RAG_"))} | {"RAG_LLM": "extractive"}
    common = ["--index", str(tmp_path / "i"), "--corpus", str(small_corpus)]
    outs = [subprocess.run([sys.executable, "-m", "rag", *cmd, *common], capture_output=True, text=True,
                           cwd=PROJECT_ROOT, env=env, timeout=300)
            for cmd in (["ingest"], ["search", "camera localization uncertainty"],
                        ["ask", "How does the uncertainty-aware DNN localize cameras?"])]
    for proc in outs:
        assert proc.returncode == 0, proc.stderr
        assert "\x1b" not in proc.stdout and "\x07" not in proc.stdout and "\x9b" not in proc.stdout
    assert title in outs[1].stdout  # the text itself survives
    stored = "".join(p.read_text(errors="replace") for p in (tmp_path / "i").rglob("*.json"))
    for db in (tmp_path / "i").rglob("papers.sqlite"):  # the papers themselves (rag.paperstore)
        stored += "".join(t + d for t, d in sqlite3.connect(db).execute("SELECT title, data FROM papers"))
    assert title in stored and "\x1b" not in stored  # kept out of the index too


def test_the_cli_reprints_the_checked_answer_when_it_differs_from_the_stream(service, openai_server):
    openai_server.state.reply = "DenseNet connects every layer to every other layer [1][42]."
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "RAG_"))}
    env |= {"OPENAI_BASE_URL": openai_server.base_url, "OPENAI_API_KEY": "test-key", "RAG_LLM": "openai"}
    proc = subprocess.run([sys.executable, "-m", "rag", "ask", "How does DenseNet connect layers?", "--index",
                           str(service.settings.index_dir)], capture_output=True, text=True, cwd=PROJECT_ROOT,
                          env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr
    streamed, _, checked = proc.stdout.partition("Answer, checked:")
    assert "[42]" in streamed and checked and "[42]" not in checked.split("Notice:")[0]
    assert "DenseNet connects every layer to every other layer [1]." in checked


def _read_only(folder, *command):
    """`command` with `folder` mounted read-only (a private mount namespace), or None where the
    machine does not allow one."""
    probe = subprocess.run(["unshare", "-m", "sh", "-c", f"mount --bind {folder} {folder} && "
                            f"mount -o remount,ro,bind {folder} {folder} && ! touch {folder}/probe"],
                           capture_output=True, text=True)
    if probe.returncode != 0:
        return None
    script = (f'mount --bind "$1" "$1" && mount -o remount,ro,bind "$1" "$1" && shift && exec "$@"')
    return ["unshare", "-m", "sh", "-c", script, "sh", str(folder), *command]


def test_a_read_only_index_is_queried_and_ingest_says_why_not(service, tmp_path):
    index = tmp_path / "ro"
    shutil.copytree(service.settings.index_dir, index, ignore=shutil.ignore_patterns(".readers", "*.lock"))
    search = _read_only(index, sys.executable, "-m", "rag", "search", "densenet", "--json", "--index", str(index))
    if search is None:
        pytest.skip("no private read-only mount on this machine (needs unshare -m)")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "RAG_"))} | {"RAG_LLM": "extractive"}
    proc = subprocess.run(search, capture_output=True, text=True, cwd=PROJECT_ROOT, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["hits"][0]["title"].startswith("Densely Connected")
    assert "read-only" in proc.stderr and "Traceback" not in proc.stderr
    ingest = _read_only(index, sys.executable, "-m", "rag", "ingest", "--index", str(index))
    proc = subprocess.run(ingest, capture_output=True, text=True, cwd=PROJECT_ROOT, env=env, timeout=300)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines()[-1].startswith("error: cannot write the index folder")


def test_a_batch_answers_every_good_line_and_reports_each_bad_one(service, tmp_path):
    batch = tmp_path / "q.txt"
    batch.write_bytes(b"data-free quantization\n"
                      b"caf\xe9 latin-1 line\n"
                      b'{"question": "   "}\n'
                      + b"why " * 700 + b"\n"
                      b'{"question": \n'
                      b"\n"
                      b"How does DenseNet connect layers?\n")
    proc = run(service, "ask", "--batch", str(batch), "--json", check=False)
    out = [json.loads(x) for x in proc.stdout.strip().splitlines()]
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert [o.get("line") for o in out] == [None, 2, 3, 4, 5, None]
    assert out[0]["question"] == "data-free quantization" and out[-1]["question"] == "How does DenseNet connect layers?"
    assert "UTF-8" in out[1]["error"] and "empty" in out[2]["error"] and "limit is" in out[3]["error"]
    assert "JSON object" in out[4]["error"]
    assert "4 line(s)" in proc.stderr
    proc = run(service, "search", "--batch", str(batch), check=False)  # plain mode: errors on stderr
    assert proc.returncode == 1 and proc.stdout.count(" 1. ") == 2
    assert f"{batch}:3: The question is empty" in proc.stderr and f"{batch}:4:" in proc.stderr
    for missing in (tmp_path / "nope.txt", tmp_path):
        proc = run(service, "ask", "--batch", str(missing), check=False)
        assert proc.returncode == 1 and proc.stderr.startswith("error: cannot read the batch file")
        assert proc.stderr.count("\n") == 1


def test_filters_are_stated_and_say_what_they_left_out(service):
    out = json.loads(run(service, "ask", "How does DenseNet connect layers?", "--year-from", "2024", "--json").stdout)
    assert out["abstained"] and out["filters"] == "from 2024"
    assert "left out" in out["notice"] and "because they have no date" in out["notice"]
    assert "Densely Connected Convolutional Networks" in out["notice"]  # what answers without the filters
    out = json.loads(run(service, "ask", "Which papers do data-free quantization?", "--has-code", "--json").stdout)
    assert out["filters"] == "with code" and not out["abstained"]
    assert all(service.paper(c["paper_id"]).code_urls for c in out["citations"])
    hits = json.loads(run(service, "search", "data-free quantization", "--has-code", "--json").stdout)["hits"]
    assert hits and all(service.paper(h["paper_id"]).code_urls for h in hits)
    human = run(service, "ask", "How does DenseNet connect layers?", "--year-from", "2024").stdout
    assert "filters: from 2024" in human and "Notice: The filters (from 2024) left out" in human
    proc = run(service, "search", "x", "--year-from", "2024", "--year-to", "2020", check=False)
    assert proc.returncode == 1 and "is after --year-to" in proc.stderr


def _in_a_terminal(service, *args, columns=60, env=None):
    """The CLI under a pseudo-terminal `columns` wide: what a user sees."""
    import pty

    environment = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "RAG_", "NO_COLOR"))}
    environment |= {"RAG_LLM": "extractive", "COLUMNS": str(columns), "LINES": "40", **(env or {})}
    out = bytearray()

    def read(fd):
        data = os.read(fd, 4096)
        out.extend(data)
        return data

    pid, fd = pty.fork()
    if pid == 0:  # the child: becomes the CLI
        os.chdir(PROJECT_ROOT)
        os.execve(sys.executable, [sys.executable, "-m", "rag", *args, "--index", str(service.settings.index_dir)],
                  environment)
    try:
        while True:
            try:
                if not read(fd):
                    break
            except OSError:
                break
    finally:
        os.waitpid(pid, 0)
    return out.decode("utf-8", "replace").replace("\r\n", "\n")


def test_search_in_a_terminal_wraps_colours_and_says_why(service):
    import re

    shown = _in_a_terminal(service, "search", "densenet connect layers", "--top-k", "3")
    plain = re.sub(r"\x1b\[[0-9;]*m", "", shown)
    assert "\x1b[1mDensely Connected Convolutional Networks\x1b[0m" in shown  # the title in bold
    assert "why: names DenseNet" in plain and "closest sentence" in plain and "score" not in plain
    lines = [x for x in plain.splitlines() if x.strip() and not x.startswith("Finding")]
    assert lines and max(len(x) for x in lines) <= 60  # wrapped to the terminal
    assert "densely-connected-convolutional-networks" not in plain  # no slug repeating the title
    no_colour = _in_a_terminal(service, "search", "densenet connect layers", "--top-k", "1", env={"NO_COLOR": "1"})
    assert "\x1b[1m" not in no_colour and "Densely Connected" in no_colour


def test_papers_lists_the_collection_with_counts(service):
    out = json.loads(run(service, "papers", "--json").stdout)
    assert out["total"] == len(out["papers"]) == sum(out["by_year"].values()) == len(service.papers())
    assert out["topics"] and all(t["papers"] >= 2 for t in out["topics"])
    assert set(out["papers"][0]) == {"paper_id", "title", "year", "authors", "code", "gist", "topics", "link"}
    some = json.loads(run(service, "papers", "--topic", "pruning", "--has-code", "--json").stdout)["papers"]
    assert some and all("prun" in p["title"].lower() and p["code"] for p in some)
    human = run(service, "papers", "--search", "densenet").stdout
    assert "Densely" in human and "Topics" in human  # (rich wraps the title cell)
    assert re.search(r"^\d+ of \d+ papers; \d+ link code", human, re.M)


def test_ingest_a_collection_file_then_search_and_ask_it(tmp_path):
    """`--corpus` naming a folder of a BibTeX file and an arXiv snapshot: formats and counts in the
    summary, --categories filters the snapshot, and search/ask find its papers with their links."""
    from tests.test_formats import BIB, arxiv_line

    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "refs.bib").write_text(BIB)
    quantum = ("We train a variational quantum circuit to classify galaxy images and compare it with a "
               "classical convolutional network of the same size.")
    (folder / "snapshot.jsonl").write_text("\n".join([
        arxiv_line(7, "cs.LG quant-ph", title="Quantum Circuits Classify Galaxies", abstract=quantum),
        arxiv_line(8, "math.CO", title="Counting Lattice Paths", abstract=quantum.replace("galaxy", "lattice"))]) + "\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "RAG_"))} | {"RAG_LLM": "extractive"}
    common = ["--index", str(tmp_path / "i"), "--corpus", str(folder)]

    def cli(*args):
        proc = subprocess.run([sys.executable, "-m", "rag", *args, *common], capture_output=True, text=True,
                              cwd=PROJECT_ROOT, env=env, timeout=300)
        assert proc.returncode == 0, proc.stderr
        return proc

    proc = cli("ingest", "--categories", "cs.LG,cs.CV")
    assert proc.stdout.startswith("read 2 records from refs.bib (BibTeX), 1 record from snapshot.jsonl (arXiv "
                                  "metadata snapshot), 1 more outside the chosen categories; 2 records skipped")
    assert "-> 3 unique papers" in proc.stdout
    assert "refs.bib:12: @article{noabstract, ...} has no abstract" in proc.stderr
    assert "refs.bib: --categories filters the arXiv metadata snapshot only" in proc.stderr
    hit = json.loads(cli("search", "quantum circuit galaxy images", "--json").stdout)["hits"][0]
    assert hit["title"] == "Quantum Circuits Classify Galaxies"
    assert hit["arxiv_id"] == "2101.00007" and hit["url"] == "https://arxiv.org/abs/2101.00007" and hit["year"] == 2021
    answer = json.loads(cli("ask", "Which paper uses a deep residual learning framework?", "--json").stdout)
    cited = [h for h in answer["hits"] if h["paper_id"] == answer["citations"][0]["paper_id"]][0]
    assert cited["doi"] == "10.1109/CVPR.2016.90" and cited["title"].startswith("Deep Residual Learning")
    titles = {p["title"] for p in json.loads(cli("papers", "--json").stdout)["papers"]}
    assert "Counting Lattice Paths" not in titles  # left out by --categories
