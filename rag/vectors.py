"""Where a generation's vectors live, and the one place that opens their Chroma collection.

- **Local** (the default): `gen-<stamp>/chroma/`, a Chroma PersistentClient folder inside the
  generation, collection `papers`.
- **Server** (`RAG_CHROMA_URL`): a running `chroma run` server holds one collection per
  generation, `papers-gen-<stamp>`, so that a new generation never changes the live one's
  vectors. The generation's manifest records it as
  ``"vectors": {"server": "<url without credentials>", "collection": "papers-gen-<stamp>"}``;
  the rest of the generation (BM25, papers, claims, manifest, reader leases) stays in the
  index folder, which the app processes share.
"""

from __future__ import annotations

import base64
import json
import logging
import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from rag.errors import RagError
from rag.redact import public_url, register_secret

log = logging.getLogger(__name__)
COLLECTION = "papers"
_PAGE = 1000  # rows per get() when a collection is read whole (copied, or mapped once)
_CLIENTS: dict[str, Any] = {}
_CLIENTS_LOCK = threading.Lock()


class ChromaServerError(RagError):
    """The Chroma server at RAG_CHROMA_URL cannot be reached."""


class VectorsElsewhereError(RagError):
    """The index keeps its vectors elsewhere than the settings say (server vs. local folder)."""


def _port(url: str) -> int:
    parts = urlsplit(url)
    return parts.port or (443 if parts.scheme == "https" else 80)


def _reason(exc: BaseException) -> str:
    """The innermost cause, in a few words: 'connection refused', 'timed out', ..."""
    seen = exc
    while (inner := seen.__cause__ or seen.__context__) is not None and inner is not seen:
        seen = inner
    text = str(seen) or type(seen).__name__
    text = text.split("] ", 1)[1] if text.startswith("[Errno") and "] " in text else text
    return text[:1].lower() + text[1:]


def unreachable(url: str, exc: BaseException) -> ChromaServerError:
    return ChromaServerError(
        f"cannot reach the Chroma server at {public_url(url)} ({_reason(exc)}); start it with "
        f"`chroma run --path DIR --port {_port(url)}` or unset RAG_CHROMA_URL"
    )


@contextmanager
def talking_to(url: str | None) -> Iterator[None]:
    """Turn a lost connection to the server at `url` into one actionable error."""
    import httpx

    try:
        yield
    except httpx.TransportError as exc:
        if url is None:
            raise
        raise unreachable(url, exc) from None


def server_client(url: str) -> Any:
    """One HttpClient per server URL and process (it is thread-safe); userinfo in the URL is sent
    as HTTP basic auth (for a proxy in front of the server)."""
    with _CLIENTS_LOCK:
        client = _CLIENTS.get(url)
        if client is not None:
            return client
        import chromadb
        from chromadb.config import Settings as ChromaSettings

        parts = urlsplit(url)
        headers = None
        if parts.username is not None:
            token = base64.b64encode(f"{unquote(parts.username)}:{unquote(parts.password or '')}".encode()).decode()
            register_secret(token)
            headers = {"Authorization": f"Basic {token}"}
        try:
            client = chromadb.HttpClient(host=parts.hostname or "", port=_port(url), ssl=parts.scheme == "https",
                                         headers=headers, settings=ChromaSettings(anonymized_telemetry=False))
        except Exception as exc:  # noqa: BLE001 - ValueError("Could not connect ..."), httpx errors, a non-Chroma server
            raise unreachable(url, exc) from None
        _CLIENTS[url] = client
        return client


def check_reachable(url: str) -> None:
    """Raise ChromaServerError unless the server at `url` answers its heartbeat."""
    try:
        server_client(url).heartbeat()
    except RagError:
        raise
    except Exception as exc:  # noqa: BLE001
        raise unreachable(url, exc) from None


def collection_name(gen_name: str) -> str:
    """The server collection of generation `gen_name` (gen-<stamp>: letters, digits and '-', so
    within Chroma's rules: 3-512 characters of [a-zA-Z0-9._-], alphanumeric at both ends)."""
    return f"{COLLECTION}-{gen_name}"


@dataclass(frozen=True)
class Vectors:
    """The vectors of one generation: in `gen/chroma` when `server` is None, else the collection
    `name` on the Chroma server at `server` (the configured URL, credentials included)."""

    gen: Path
    server: str | None = None
    name: str = COLLECTION

    @classmethod
    def for_new(cls, gen: Path, server: str | None) -> Vectors:
        return cls(gen, server, collection_name(gen.name)) if server else cls(gen)

    @property
    def local_dir(self) -> Path:
        return self.gen / "chroma"

    def record(self) -> dict[str, str]:
        """What the manifest says about them (nothing for a local folder, as before servers)."""
        return {"server": public_url(self.server), "collection": self.name} if self.server else {}

    def collection(self, *, create: bool = False) -> Any:
        """The Chroma collection (created when `create`; on a server a missing one is an error)."""
        import chromadb
        from chromadb.config import Settings as ChromaSettings

        config: Any = {"hnsw": {"space": "cosine"}}
        if self.server is None:
            client = chromadb.PersistentClient(path=str(self.local_dir),
                                               settings=ChromaSettings(anonymized_telemetry=False))
            return client.get_or_create_collection(self.name, embedding_function=None, configuration=config)
        client = server_client(self.server)
        with talking_to(self.server):
            if create:
                return client.create_collection(self.name, embedding_function=None, configuration=config)
            return client.get_collection(self.name, embedding_function=None)

    def discard(self) -> None:
        """Remove an unfinished generation; when its server collection cannot be deleted now, its
        folder stays, so that the next ingest's `remove_stale` deletes both."""
        try:
            self.drop()
        except Exception as exc:  # noqa: BLE001 - the server went away meanwhile
            log.warning("could not delete the unfinished collection %s (%s); the next ingest will", self.name, exc)
            return
        shutil.rmtree(self.gen, ignore_errors=True)

    def drop(self) -> None:
        """Delete the server collection (a local folder goes with its generation); a missing one is fine."""
        if self.server is None:
            return
        from chromadb.errors import NotFoundError

        with talking_to(self.server):
            try:
                server_client(self.server).delete_collection(self.name)
            except NotFoundError:
                pass


def located(gen: Path, manifest: dict[str, Any], server: str | None, index_dir: Path) -> Vectors:
    """The vectors a generation's manifest names, or one line saying which setting to change."""
    record = manifest.get("vectors") or {}
    if record.get("collection"):
        if not server:
            where = record.get("server") or "a Chroma server"
            raise VectorsElsewhereError(
                f"The index at {index_dir} keeps its vectors on the Chroma server at {where} (collection "
                f"{record['collection']}); set RAG_CHROMA_URL={where} (or pass --chroma-url), or run "
                "`python -m rag ingest --rebuild` to keep them in the index folder instead."
            )
        return Vectors(gen, server, str(record["collection"]))
    if server:
        raise VectorsElsewhereError(
            f"The index at {index_dir} keeps its vectors in its own folder, not on the Chroma server at "
            f"{public_url(server)}; run `python -m rag ingest` to put them on the server, or unset RAG_CHROMA_URL."
        )
    return Vectors(gen)


def stale_vectors(gen: Path, server: str | None) -> Vectors:
    """The vectors of a generation about to be removed (an unfinished one has no manifest yet,
    and its collection, if any, is on the configured server)."""
    try:
        record = json.loads((gen / "manifest.json").read_text()).get("vectors") or {}
    except (OSError, ValueError, AttributeError):
        record = {}
    if record.get("collection") or (server and not (gen / "chroma").exists()):
        if not server:
            raise VectorsElsewhereError(f"its collection {record['collection']} is on the Chroma server at "
                                        f"{record.get('server')}; set RAG_CHROMA_URL and ingest again to delete it")
        return Vectors(gen, server, str(record.get("collection") or collection_name(gen.name)))
    return Vectors(gen)


def pages(collection: Any) -> Iterator[dict[str, Any]]:
    """Every row of a collection (ids, embeddings, metadatas, documents), a page per `get`:
    SQLite refuses a query with too many variables, and a server a body too large."""
    for offset in range(0, collection.count(), _PAGE):
        yield collection.get(include=["embeddings", "metadatas", "documents"], limit=_PAGE, offset=offset)


def copy_vectors(source: Any, target: Any, *, leave_out: set[str]) -> int:
    """Copy every vector (with its metadata and text) from collection `source` to `target`, by
    pages and without re-embedding, but those of the papers in `leave_out`. Returns how many."""
    copied = 0
    for got in pages(source):
        keep = [i for i, meta in enumerate(got["metadatas"]) if (meta or {}).get("paper_id") not in leave_out]
        if keep:
            target.add(ids=[got["ids"][i] for i in keep], embeddings=[got["embeddings"][i] for i in keep],
                       metadatas=[got["metadatas"][i] for i in keep], documents=[got["documents"][i] for i in keep])
            copied += len(keep)
    return copied
