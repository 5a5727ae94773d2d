"""BM25 over whole papers (title + abstract) with bm25s: built at ingest from token ids kept
per paper, so an ingest tokenises only new and changed papers, and loaded memory-mapped.

    bm25/              bm25s.BM25.save: params, vocab and the CSC score matrix (row i = paper i
                       of papers.sqlite); no corpus copy: the rows are the papers, in order
    bm25/tokens.i32    every paper's token ids (into that vocab), concatenated: raw int32
    bm25/offsets.i64   where each paper's ids start, n + 1 entries: raw int64
    bm25/rows.json     the paper ids of the rows (what the next ingest carries tokens by)

Tokens are bm25s's own tokeniser (English stopwords, the library's one stemmer), as
llama-index's BM25Retriever indexed before. The scores are bm25s's default (Lucene) BM25;
term frequency, document frequency and the mean length are collection-wide, so a change to
one paper moves every score: the matrix is recomputed with numpy from the kept token ids
(0.1-0.3 s at 10,000 papers, where tokenising them again took 1.7 s and bm25s's per-paper
Python loop 0.9 s). `tests/test_bm25.py` checks the scores equal `bm25s.BM25().index`'s.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rag.chunkstore import NPY_LOAD_LOCK
from rag.text import stemmer
from rag.types import Paper

FOLDER = "bm25"
TOKENS = "tokens.i32"
OFFSETS = "offsets.i64"
ROWS = "rows.json"
METHOD, K1, B = "lucene", 1.5, 0.75  # bm25s's defaults, which the index always used


def paper_text(paper: Paper) -> str:
    return f"{paper.title}\n{paper.abstract}"


def tokenize(texts: Sequence[str]) -> list[list[str]]:
    """bm25s's tokeniser with English stopwords and the library's stemmer."""
    import bm25s

    if not texts:
        return []
    return bm25s.tokenize(list(texts), stopwords="en", stemmer=stemmer(), return_ids=False, show_progress=False)


@dataclass
class PaperTokens:
    """Every paper's token ids, concatenated in row order, and the vocabulary they index."""

    rows: list[str]  # paper ids
    vocab: list[str]
    ids: np.ndarray  # int32
    offsets: np.ndarray  # int64, len(rows) + 1

    @classmethod
    def read(cls, gen: Path) -> PaperTokens | None:
        """The kept tokens, or None when a generation has none (built before them) or they do
        not add up (then everything is tokenised again)."""
        folder = gen / FOLDER
        try:
            rows = json.loads((folder / ROWS).read_text())
            vocab_ids: dict[str, int] = json.loads((folder / "vocab.index.json").read_text())
            ids = np.fromfile(folder / TOKENS, dtype="<i4")
            offsets = np.fromfile(folder / OFFSETS, dtype="<i8")
        except (OSError, ValueError):
            return None
        vocab = [""] * len(vocab_ids)
        for token, i in vocab_ids.items():
            if not 0 <= i < len(vocab):
                return None
            vocab[i] = token
        whole = (isinstance(rows, list) and len(offsets) == len(rows) + 1 and offsets[0] == 0
                 and offsets[-1] == len(ids) and bool(np.all(np.diff(offsets) >= 0))
                 and (len(ids) == 0 or 0 <= int(ids.min()) and int(ids.max()) < len(vocab)))
        return cls(rows, vocab, ids, offsets) if whole else None


def build(gen: Path, old_gen: Path | None, papers: Sequence[Paper], changed: set[str]) -> int:
    """Write the generation's BM25 index; returns how many papers were tokenised (the new and
    changed ones, or all of them when the old generation kept no tokens)."""
    old = PaperTokens.read(old_gen) if old_gen is not None else None
    old_row = {pid: i for i, pid in enumerate(old.rows)} if old is not None else {}
    todo = [p for p in papers if p.paper_id in changed or p.paper_id not in old_row]
    fresh = dict(zip((p.paper_id for p in todo), tokenize([paper_text(p) for p in todo])))

    # the vocabulary: every token some paper of this collection has, sorted (deterministic)
    kept = [old_row[p.paper_id] for p in papers if p.paper_id not in fresh]
    seen: set[str] = {t for ts in fresh.values() for t in ts}
    if old is not None and kept:
        segments = np.concatenate([old.ids[old.offsets[r]:old.offsets[r + 1]] for r in kept])
        seen.update(old.vocab[i] for i in np.unique(segments).tolist())
    vocab = sorted(seen)
    new_id = {t: i for i, t in enumerate(vocab)}
    remap = np.array([new_id.get(t, -1) for t in old.vocab], dtype=np.int32) if old is not None else None

    parts: list[np.ndarray] = []
    for p in papers:
        if p.paper_id in fresh:
            parts.append(np.array([new_id[t] for t in fresh[p.paper_id]], dtype=np.int32))
        else:
            r = old_row[p.paper_id]
            parts.append(remap[old.ids[old.offsets[r]:old.offsets[r + 1]]])  # type: ignore[index,union-attr]
    ids = np.concatenate(parts) if parts else np.zeros(0, dtype=np.int32)
    offsets = np.zeros(len(papers) + 1, dtype=np.int64)
    np.cumsum([len(a) for a in parts], out=offsets[1:])

    folder = gen / FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    _index(ids, offsets, vocab).save(str(folder))
    ids.astype("<i4").tofile(folder / TOKENS)
    offsets.astype("<i8").tofile(folder / OFFSETS)
    (folder / ROWS).write_text(json.dumps([p.paper_id for p in papers]))
    return len(todo)


def _index(ids: np.ndarray, offsets: np.ndarray, vocab: list[str]) -> Any:
    """A bm25s.BM25 over the papers' token ids: the scores `bm25s.BM25().index` computes
    (Lucene idf and term-frequency parts, the same float operations), vectorised."""
    import bm25s

    n, v = len(offsets) - 1, len(vocab)
    lengths = np.diff(offsets)
    doc = np.repeat(np.arange(n, dtype=np.int64), lengths)
    # one entry per (term, paper), sorted by term then paper: the CSC order
    cells, tf = np.unique(ids.astype(np.int64) * max(n, 1) + doc, return_counts=True)
    term, row = cells // max(n, 1), cells % max(n, 1)
    df = np.bincount(term, minlength=v)
    idf = np.array([math.log(1 + (n - d + 0.5) / (d + 0.5)) if d else 0.0 for d in df.tolist()], dtype=np.float32)
    l_avg = lengths.mean() if n else np.float64(0.0)
    tf32 = tf.astype(np.float32)
    tfc = tf32 / (K1 * ((1 - B) + B * lengths[row] / l_avg) + tf32)
    indptr = np.zeros(v + 1, dtype=np.int64)
    np.cumsum(df, out=indptr[1:])

    bm = bm25s.BM25(method=METHOD, k1=K1, b=B)
    bm.scores = {"data": (idf[term] * tfc).astype(np.float32), "indices": row.astype(np.int32),
                 "indptr": indptr, "num_docs": n}
    bm.vocab_dict = {t: i for i, t in enumerate(vocab)}
    if "" not in bm.vocab_dict:  # bm25s adds the empty token after the matrix's columns
        bm.vocab_dict[""] = v
    bm.unique_token_ids_set = set(bm.vocab_dict.values())
    bm.nonoccurrence_array = None
    return bm


def load(gen: Path, n_papers: int) -> Any:
    """The generation's bm25s index, memory-mapped; ValueError when it does not cover the papers."""
    import bm25s

    with NPY_LOAD_LOCK:  # bm25s reads its arrays with np.load (see rag.chunkstore)
        bm = bm25s.BM25.load(str(gen / FOLDER), mmap=True, load_corpus=False)
    if bm.scores.get("num_docs") != n_papers:
        raise ValueError(f"the BM25 index has {bm.scores.get('num_docs')} rows for {n_papers} papers")
    return bm
