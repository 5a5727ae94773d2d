"""Build, update and open the index: a Chroma collection (through llama-index's
ChromaVectorStore) for dense chunk vectors, and a BM25 index over whole papers.

Layout of `index_dir`::

    CURRENT              name of the live generation (replaced atomically)
    gen-<stamp>/chroma/  Chroma PersistentClient (or, with RAG_CHROMA_URL, the collection
                         papers-gen-<stamp> on that server; see rag.vectors)
    gen-<stamp>/bm25/    bm25s over whole papers, with each paper's token ids (rag.bm25)
    gen-<stamp>/claims.sqlite  result claims (rag.claimstore), re-extracted only where a change reaches
    gen-<stamp>/facts.jsonl, analysis.json  per-paper facts and the lexicon (rag.facts)
    gen-<stamp>/papers.sqlite  the papers, read when asked for (rag.paperstore; papers.json before it)
    gen-<stamp>/manifest.json

An ingest copies the live generation's vectors (the folder, or on a server the unchanged
papers' vectors into a new collection), applies the changes to the copy, checks it and only
then points CURRENT at it, so an interrupted ingest leaves the previous index usable; who may
write, read and remove a generation is `rag.generations`.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from rag import bm25 as lexical
from rag import paperstore
from rag.chunkstore import ChunkTable, carry_forward
from rag.claims import CLAIMS_VERSION, Extractor
from rag.claimstore import ClaimStore, unaffected, write_generation_claims
from rag.embed import Embedder, get_embedder
from rag.errors import EmbedderMismatchError, IndexCorruptError, IndexMissingError, RagError
from rag.facts import Analysis, carry_facts, rules_digest
from rag.generations import (ReaderLease, hnsw_files_intact, not_writable, private_copy, remove_stale,
                             verify_collection, writable, writer_lock)
from rag.paperstore import PaperStore
from rag.settings import Settings
from rag.text import split_sentences
from rag.types import Chunk, Paper
from rag.redact import public_url
from rag.vectors import Vectors, check_reachable, copy_vectors, located, stale_vectors, talking_to
from rag.workers import RuleWorkers, default_workers

log = logging.getLogger(__name__)
CLAIMS_FILE = "claims.sqlite"
CHUNKER_VERSION = "3"  # 3: one chunk per sentence
Progress = Callable[[str, int, int], None]  # (stage, done, total)
_DELETE_BATCH = 1000  # papers per Chroma get (its SQLite allows 32,766 bound variables)
_ID_BATCH = 10_000  # chunk ids per Chroma delete


# ----------------------------------------------------------------------------- chunking
def chunk_paper(paper: Paper) -> list[Chunk]:
    """The title as one chunk, then one chunk per abstract sentence (the one sentence
    splitter), so every sentence has its own vector and the sentence <-> chunk map is
    stored, not re-derived per query."""
    chunks = [Chunk(chunk_id=f"{paper.paper_id}#t", paper_id=paper.paper_id, text=paper.title, kind="title")]
    seen: set[str] = set()
    for v, abstract in enumerate(paper.abstracts):
        for i, sentence in enumerate(split_sentences(abstract)):
            if sentence in seen:  # a second abstract version repeats most sentences
                continue
            seen.add(sentence)
            chunks.append(Chunk(chunk_id=f"{paper.paper_id}#a{v}s{i}", paper_id=paper.paper_id,
                                text=sentence, position=len(chunks)))
    return chunks


def collection_digest(papers: list[Paper]) -> str:
    """Every paper with every field (metadata too), in order: equal digests mean nothing to do."""
    h = hashlib.sha256(f"{CHUNKER_VERSION}:{CLAIMS_VERSION}:{rules_digest()}".encode())
    for paper in papers:
        h.update(paper.model_dump_json().encode())
    return h.hexdigest()


def paper_hash(paper: Paper, settings: Settings) -> str:
    key = json.dumps([paper.title, paper.abstracts, CHUNKER_VERSION])
    return hashlib.sha256(key.encode()).hexdigest()[:16]


# ----------------------------------------------------------------------------- storage
def _release_chroma() -> None:
    """Forget cached Chroma clients so a generation directory can be removed or reopened."""
    from chromadb.api.client import SharedSystemClient

    SharedSystemClient.clear_system_cache()


def _chunk_nodes(chunks: list[Chunk], vectors: Any) -> list[Any]:
    from llama_index.core.schema import NodeRelationship, RelatedNodeInfo, TextNode

    nodes = []
    for chunk, vec in zip(chunks, vectors):
        node = TextNode(
            id_=chunk.chunk_id, text=chunk.text, embedding=vec.tolist(),
            metadata={"paper_id": chunk.paper_id, "kind": chunk.kind, "position": chunk.position},
        )
        node.relationships[NodeRelationship.SOURCE] = RelatedNodeInfo(node_id=chunk.paper_id)
        nodes.append(node)
    return nodes


@dataclass
class IngestStats:
    added: int = 0
    updated: int = 0
    removed: int = 0
    unchanged: int = 0
    chunks_embedded: int = 0
    tokenised: int = 0  # papers BM25 tokenised (the others' tokens are carried forward)
    chunks: int = 0
    claims: int = 0
    seconds: float = 0.0
    generation: str = ""
    warnings: list[str] = field(default_factory=list)


def _live_generation(index_dir: Path) -> Path | None:
    current = index_dir / "CURRENT"
    if not current.exists():
        return None
    gen = index_dir / current.read_text().strip()
    if not gen.is_dir():
        raise IndexCorruptError(str(index_dir), f"CURRENT names a missing generation {gen.name}")
    return gen


def read_manifest(gen: Path) -> dict[str, Any]:
    try:
        return json.loads((gen / "manifest.json").read_text())
    except (OSError, ValueError) as exc:
        raise IndexCorruptError(str(gen.parent), f"manifest.json: {exc}") from exc


def ingest(
    papers: list[Paper],
    settings: Settings,
    *,
    embedder: Embedder | None = None,
    rebuild: bool = False,
    progress: Progress | None = None,
) -> IngestStats:
    """Bring the index in line with `papers`, embedding only new or changed ones. One ingest at
    a time per index folder; a live generation that is unreadable or fails its check is rebuilt
    from the papers (with a warning) instead of being carried forward."""
    ids: set[str] = set()
    for p in papers:  # two papers under one id would share chunk ids, and Chroma keeps the first of each
        if p.paper_id in ids:
            raise RagError(f"two papers have the id {p.paper_id!r}; give them different titles or ids")
        ids.add(p.paper_id)
    if settings.chroma_url:
        check_reachable(settings.chroma_url)  # before loading a model or waiting for the lock
    embedder = embedder or get_embedder(settings)
    with writer_lock(settings.index_dir, settings.ingest_lock_wait):
        warnings: list[str] = []
        try:
            if not rebuild:
                try:
                    return _build(papers, settings, embedder, incremental=True, progress=progress)
                except _Damaged as exc:
                    if settings.chroma_url:
                        check_reachable(settings.chroma_url)  # a server that went away is not a damaged index
                    warnings.append(f"the existing index was damaged ({exc}); rebuilt it from the corpus")
                    log.warning("%s", warnings[-1])
            stats = _build(papers, settings, embedder, incremental=False, progress=progress)
        except _Damaged as exc:
            raise IndexCorruptError(str(settings.index_dir), f"the new generation failed its check: {exc}") from None
        except OSError as exc:
            raise not_writable(settings.index_dir, exc) from None
        stats.warnings = warnings
        return stats


class _Damaged(Exception):
    """A generation that cannot be read or fails `verify_collection`."""


def _build(papers: list[Paper], settings: Settings, embedder: Embedder, *, incremental: bool,
           progress: Progress | None) -> IngestStats:
    t0 = time.perf_counter()
    index_dir = settings.index_dir
    live: Vectors | None = None
    old_hashes: dict[str, str] = {}
    if incremental:
        try:
            live_gen = _live_generation(index_dir)
            manifest = read_manifest(live_gen) if live_gen is not None else {}
        except IndexCorruptError as exc:
            raise _Damaged(exc.detail) from None
        if live_gen is not None:
            if manifest.get("embedder") != embedder.id:
                raise EmbedderMismatchError(str(index_dir), manifest.get("embedder", "?"), embedder.id)
            old_hashes = manifest.get("papers", {})
            # vectors on a server need its URL; a local index is carried forward, onto a server when one is set
            on_server = bool((manifest.get("vectors") or {}).get("collection"))
            live = located(live_gen, manifest, settings.chroma_url, index_dir) if on_server else Vectors(live_gen)
            if _unchanged(live, manifest, papers, settings):  # no new generation, nothing copied or rebuilt
                remove_stale(index_dir, keep=live_gen.name,  # only what readers have since let go of
                             before_remove=lambda old: stale_vectors(old, settings.chroma_url).drop())
                return IngestStats(unchanged=len(papers), chunks=manifest.get("chunks", 0), generation=live_gen.name,
                                   seconds=time.perf_counter() - t0)

    stamp = time.strftime("%Y%m%dT%H%M%S") + f"-{os.getpid()}-{time.perf_counter_ns() % 10**6}"
    gen = index_dir / f"gen-{stamp}"
    target = Vectors.for_new(gen, settings.chroma_url)
    _release_chroma()
    try:
        gen.mkdir(parents=True, exist_ok=True)
        if live is not None and target.server is None:  # local: copy the folder, then change the copy
            shutil.copytree(live.local_dir, target.local_dir)
        stats = _fill(target, live, papers, settings, embedder, old_hashes, progress)
        problem = ((hnsw_files_intact(target.local_dir) if target.server is None else None)
                   or verify_collection(target.collection(), stats.chunks))
        if problem:
            raise _Damaged(problem)
    except BaseException:
        _release_chroma()
        target.discard()
        raise
    _release_chroma()

    tmp = index_dir / "CURRENT.tmp"
    tmp.write_text(gen.name)
    os.replace(tmp, index_dir / "CURRENT")  # the atomic switch
    remove_stale(index_dir, keep=gen.name, before_remove=lambda old: stale_vectors(old, settings.chroma_url).drop())
    stats.seconds = time.perf_counter() - t0
    return stats


def _unchanged(live: Vectors, manifest: dict[str, Any], papers: list[Paper], settings: Settings) -> bool:
    """The live generation already holds exactly `papers`, where the settings want its vectors,
    and its vector files are whole (else the full build below finds and repairs the damage)."""
    if manifest.get("digest") != collection_digest(papers) or ChunkTable.read_if_whole(live.gen) is None:
        return False
    if live.server is None:
        return not settings.chroma_url and hnsw_files_intact(live.local_dir) is None
    return (manifest.get("vectors") or {}).get("server") == public_url(settings.chroma_url)


def _fill(target: Vectors, live: Vectors | None, papers: list[Paper], settings: Settings, embedder: Embedder,
          old_hashes: dict[str, str], progress: Progress | None) -> IngestStats:
    """Apply the changes to the new generation: a local copy of the live folder (or an empty
    one), or a new server collection that gets the live vectors of the unchanged papers."""
    gen = target.gen
    from llama_index.core import VectorStoreIndex
    from llama_index.vector_stores.chroma import ChromaVectorStore

    from rag.llama_embedding import LlamaEmbedding

    new_hashes = {p.paper_id: paper_hash(p, settings) for p in papers}
    changed = [p for p in papers if old_hashes.get(p.paper_id) != new_hashes[p.paper_id]]
    removed = [pid for pid in old_hashes if pid not in new_hashes]
    stats = IngestStats(
        added=sum(1 for p in changed if p.paper_id not in old_hashes),
        updated=sum(1 for p in changed if p.paper_id in old_hashes),
        removed=len(removed),
        unchanged=len(papers) - len(changed),
        generation=gen.name,
    )

    stale = removed + [p.paper_id for p in changed if p.paper_id in old_hashes]
    try:
        collection = target.collection(create=True)
        if target.server is None:  # a copy of the live folder: the stale papers' chunks deleted from it
            _delete_stale(collection, live, stale)
        elif live is not None:  # copied by pages, not re-embedded
            copy_vectors(live.collection(), collection, leave_out={*stale, *(p.paper_id for p in changed)})
    except RagError:
        raise
    except Exception as exc:  # noqa: BLE001 - a live collection Chroma cannot open or read, a copy it cannot change
        if isinstance(exc, OSError):
            raise
        raise _Damaged(f"{type(exc).__name__}: {exc}") from None
    store = ChromaVectorStore(chroma_collection=collection)

    per_paper = [(p.paper_id, chunk_paper(p)) for p in changed]
    chunks = [c for _, cs in per_paper for c in cs]
    vectors: Any = None
    if chunks:
        done = 0

        def tick(n: int) -> None:
            nonlocal done
            done += n
            if progress:
                progress("embedding", done, len(chunks))

        vectors = np.empty((len(chunks), embedder.dim), dtype=np.float32)
        index = VectorStoreIndex.from_vector_store(store, embed_model=LlamaEmbedding(embedder))
        step = settings.ingest_batch  # nodes for one batch at a time, not for every chunk at once
        for i in range(0, len(chunks), step):
            part = chunks[i : i + step]
            vectors[i : i + len(part)] = embedder.embed([c.text for c in part], progress=tick)
            index.insert_nodes(_chunk_nodes(part, vectors[i : i + len(part)]))  # vectors given: not re-embedded
    stats.chunks_embedded = len(chunks)
    fresh: dict[str, tuple[list[str], np.ndarray]] = {}
    row = 0
    for pid, cs in per_paper:  # the rows of `vectors` are the changed papers' chunks, in order
        fresh[pid] = ([c.text for c in cs], vectors[row : row + len(cs)])
        row += len(cs)
    stats.chunks = carry_forward(gen, live.gen if live is not None else None, [p.paper_id for p in papers], fresh,
                                 collection, embedder.dim)

    stats.tokenised = lexical.build(gen, live.gen if live is not None else None, papers, {p.paper_id for p in changed})
    paperstore.write(gen, papers)
    with RuleWorkers(settings.ingest_workers or default_workers(), settings.ingest_parallel_min) as pool:
        stats.claims = _analyse(gen, live.gen if live is not None else None, papers, {p.paper_id for p in changed},
                                pool)
    manifest = {
        "embedder": embedder.id, "dim": embedder.dim, "papers": new_hashes, "chunks": stats.chunks,
        "chunker": CHUNKER_VERSION, "claims": CLAIMS_VERSION, "built": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "digest": collection_digest(papers),
    }
    if target.server is not None:
        manifest["vectors"] = target.record()
    (gen / "manifest.json").write_text(json.dumps(manifest))
    return stats


def _delete_stale(collection: Any, live: Vectors | None, stale: list[str]) -> None:
    """Remove the stale papers' chunks from the copied collection, by id. Their ids are what
    `chunk_paper` made of the live generation's papers (no query over the collection's metadata:
    12 s for 1,000 papers at 100,000). When the collection's count then differs from what the
    live chunk table says those papers had (an index chunked otherwise), the rest are found by a
    where filter, a batch of papers at a time."""
    if not stale:
        return
    ids: list[str] = []
    had: int | None = None  # how many chunks the stale papers had
    table = ChunkTable.read_if_whole(live.gen) if live is not None else None
    if live is not None and table is not None and read_manifest(live.gen).get("chunker") == CHUNKER_VERSION:
        store = PaperStore.open(live.gen)
        try:
            ids = [c.chunk_id for pid in stale if pid in store for c in chunk_paper(store[pid])]
        finally:
            store.close()
        had = sum(table.counts.get(pid, 0) for pid in stale)
    before = collection.count()
    for j in range(0, len(ids), _ID_BATCH):
        collection.delete(ids=ids[j : j + _ID_BATCH])
    if had is not None and collection.count() == before - had:
        return
    for i in range(0, len(stale), _DELETE_BATCH):  # by id, found by paper: 3x faster than deleting by the filter
        left = collection.get(where={"paper_id": {"$in": stale[i : i + _DELETE_BATCH]}}, include=[])["ids"]
        for j in range(0, len(left), _ID_BATCH):
            collection.delete(ids=left[j : j + _ID_BATCH])


def _analyse(gen: Path, old_gen: Path | None, papers: list[Paper], changed: set[str], pool: RuleWorkers) -> int:
    """Write the generation's facts, lexicon and claims (rag.facts, rag.claimstore), computing
    only what the change can affect (with `pool`'s processes for a large part); returns the
    number of claims."""
    old = Analysis.read(old_gen) if old_gen is not None else None
    items = [(p.paper_id, p.title, p.abstract) for p in papers]
    analysis = Analysis.of(carry_facts(items, changed, old, pool.map), old, changed)
    analysis.write(gen)
    names = analysis.lexicon.names
    keep: set[str] = set()
    old_claims = old_gen / CLAIMS_FILE if old_gen is not None else None
    if old is not None and old_claims is not None and old_claims.exists():
        store = ClaimStore(old_claims)
        try:
            same_extractor = store.version == CLAIMS_VERSION
        finally:
            store.close()
        if same_extractor:
            keep = {pid for pid in unaffected(papers, old.vocab, analysis.vocab)
                    if pid not in changed and old.lexicon.names.get(pid) == names.get(pid)}
    return write_generation_claims(gen / CLAIMS_FILE, papers, Extractor(analysis.vocab), names, old_claims, keep,
                                   pool.map)


# ----------------------------------------------------------------------------- reading
@dataclass
class PaperIndex:
    """An opened index: papers by id, the Chroma collection, the bm25s index (rag.bm25). It
    holds a reader lease on its generation, so an ingest elsewhere does not remove it while it
    is open."""

    papers: PaperStore  # read when asked for (rag.paperstore)
    bm25: Any  # bm25s.BM25, memory-mapped; row i is paper i
    embedder: Embedder
    manifest: dict[str, Any]
    path: Path
    claims: ClaimStore
    analysis: Analysis  # per-paper facts, lexicon, claim vocabulary (rag.facts)
    vectors: Vectors  # where the generation's Chroma collection is
    lease: ReaderLease | None = None
    chunks: ChunkTable | None = None  # every vector, memory-mapped (None: an index built before it)
    _collection: Any = field(default=None, repr=False)
    _opening: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def collection(self) -> Any:
        """The Chroma collection, opened on first use. Answering reads the vectors from
        vectors.npy (checked against Chroma when the generation was written), so a local
        search never opens Chroma, nor pays for importing chromadb (1.7 s of a cold start)."""
        with self._opening:
            if self._collection is None:
                with talking_to(self.vectors.server):
                    self._collection = self.vectors.collection()
            return self._collection


def index_exists(settings: Settings) -> bool:
    return (settings.index_dir / "CURRENT").exists()


def read_papers(settings: Settings) -> list[Paper] | None:
    """The live generation's papers without opening the rest, or None when it cannot be read."""
    try:
        gen = _live_generation(settings.index_dir)
        if gen is None:
            return None
        store = PaperStore.open(gen)
        try:
            return store.all()
        finally:
            store.close()
    except (RagError, OSError, ValueError, sqlite3.Error):
        return None


def open_index(settings: Settings, *, embedder: Embedder | None = None) -> PaperIndex:
    """Open the live generation; clear errors when it is missing, corrupt or mismatched. An
    ingest that switches generations meanwhile is followed (the generation read is re-read)."""
    embedder = embedder or get_embedder(settings)
    for attempt in range(3):
        gen = _live_generation(settings.index_dir)
        if gen is None:
            raise IndexMissingError(str(settings.index_dir))
        try:
            return _open_generation(gen, settings, embedder)
        except IndexCorruptError:
            if attempt == 2 or _live_generation(settings.index_dir) == gen:
                raise
    raise AssertionError("unreachable")


def _open_generation(gen: Path, settings: Settings, embedder: Embedder) -> PaperIndex:
    lease = ReaderLease(gen)
    manifest = read_manifest(gen)
    vectors = located(gen, manifest, settings.chroma_url, settings.index_dir)
    where = gen
    if vectors.server is None:
        if not writable(gen / "chroma"):  # Chroma writes to its SQLite file even to read
            where = private_copy(gen)
            vectors = Vectors(where)
        if problem := hnsw_files_intact(vectors.local_dir):
            raise IndexCorruptError(str(settings.index_dir), problem)
    if manifest.get("embedder") != embedder.id:
        raise EmbedderMismatchError(str(settings.index_dir), manifest.get("embedder", "?"), embedder.id)
    try:
        papers = PaperStore.open(where)
        bm25 = lexical.load(where, len(papers))
        claims = ClaimStore.open(where / CLAIMS_FILE, papers.rows())
        table = ChunkTable.read(where)
        analysis = Analysis.read(where, papers.ids)
        if analysis is None:  # an older index, one written by other rules, or a damaged one: computed now
            log.warning("the index holds no usable facts for these rules: computing them for %d papers at every "
                        "start until `python -m rag ingest` stores them", len(papers))
            analysis = Analysis.compute([(p.paper_id, p.title, p.abstract) for p in papers.rows()])
    except RagError:
        raise
    except Exception as exc:  # noqa: BLE001 - any failure here means an unreadable index
        raise IndexCorruptError(str(settings.index_dir), f"{type(exc).__name__}: {exc}") from exc
    index = PaperIndex(papers=papers, bm25=bm25, embedder=embedder, manifest=manifest,
                       path=gen, claims=claims, lease=lease, chunks=table, analysis=analysis, vectors=vectors)
    count = table.vectors.shape[0] if table is not None else None
    if vectors.server is not None or table is None:  # a server is asked now; an index without vectors.npy reads Chroma
        count = _chroma_count(index, settings)
        if table is not None and table.vectors.shape[0] != count:
            raise IndexCorruptError(str(settings.index_dir), f"the Chroma collection holds {count} vectors, "
                                                            f"vectors.npy {table.vectors.shape[0]}")
    if count == 0 and papers:
        raise IndexCorruptError(str(settings.index_dir), "the Chroma collection is empty")
    if "chunks" in manifest and count != manifest["chunks"]:
        what = "the Chroma collection" if table is None or vectors.server is not None else "vectors.npy"
        raise IndexCorruptError(str(settings.index_dir), f"{what} holds {count} vectors, the manifest {manifest['chunks']}")
    return index


def _chroma_count(index: PaperIndex, settings: Settings) -> int:
    from chromadb.errors import NotFoundError

    vectors = index.vectors
    try:
        with talking_to(vectors.server):
            return index.collection.count()
    except RagError:
        raise
    except NotFoundError:
        raise IndexCorruptError(str(settings.index_dir), f"the Chroma server at {public_url(vectors.server)} has no "
                                f"collection {vectors.name}; the index was built on "
                                f"{index.manifest['vectors'].get('server')}") from None
    except Exception as exc:  # noqa: BLE001 - any failure here means an unreadable index
        raise IndexCorruptError(str(settings.index_dir), f"{type(exc).__name__}: {exc}") from exc
