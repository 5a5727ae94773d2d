"""Who may touch which index generation: one writer at a time, readers that keep theirs.

- **One writer**: an ingest holds `index_dir/.ingest.lock` (filelock) from reading the live
  generation to switching CURRENT; a second ingest waits for it, saying so, up to
  `ingest_lock_wait` seconds.
- **Readers keep their generation**: an opened index holds a shared `flock` on its
  generation's `.readers` file for as long as it is open (the lock dies with the process), and
  an ingest removes an old generation only when it can take that lock exclusively.
- **Read-only indexes** (a read-only mount, another user's files) are opened from a private
  copy, because Chroma writes to its SQLite file even to read.
- **Checked before use**: a new generation is switched to only after a sample of its vectors
  is read back and found by a query (`verify_collection`).
"""

from __future__ import annotations

import atexit
import fcntl
import logging
import shutil
import struct
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from filelock import FileLock, Timeout

from rag.errors import RagError
from rag.redact import redact

log = logging.getLogger(__name__)
READERS = ".readers"
LOCK = ".ingest.lock"
_SAMPLE = 256  # vectors read back when a generation is checked


class IndexBusyError(RagError):
    """Another ingest kept the index locked for longer than we were willing to wait."""


class IndexNotWritableError(RagError):
    """The index folder cannot be written (ingest needs to)."""


def not_writable(index_dir: Path, exc: OSError) -> IndexNotWritableError:
    return IndexNotWritableError(f"cannot write the index folder {index_dir} ({exc.strerror or exc}); "
                                 "ingest needs write access: fix the permissions or pass --index DIR")


@contextmanager
def writer_lock(index_dir: Path, wait: float) -> Iterator[None]:
    """Hold the index's ingest lock; wait (with a log line) while another ingest holds it."""
    try:
        index_dir.mkdir(parents=True, exist_ok=True)
        lock = FileLock(index_dir / LOCK)
        try:
            lock.acquire(timeout=0)
        except Timeout:
            log.warning("another ingest is writing %s; waiting up to %.0f s for it to finish", index_dir, wait)
            try:
                lock.acquire(timeout=wait)
            except Timeout:
                raise IndexBusyError(f"another ingest is still writing {index_dir} after {wait:.0f} s; "
                                     "try again when it has finished (RAG_INGEST_LOCK_WAIT sets the wait)") from None
    except OSError as exc:
        raise not_writable(index_dir, exc) from None
    try:
        yield
    finally:
        lock.release()


def writable(folder: Path) -> bool:
    """Whether files can be created in `folder` (permission bits alone lie for root and read-only mounts)."""
    try:
        with tempfile.TemporaryFile(dir=folder):
            return True
    except OSError:
        return False


class ReaderLease:
    """A shared lock on a generation that an ingest respects (see `remove_stale`)."""

    def __init__(self, gen: Path):
        self._file: IO[str] | None = None
        try:
            self._file = open(gen / READERS, "a+")  # noqa: SIM115 - held for the index's lifetime
            fcntl.flock(self._file, fcntl.LOCK_SH)
        except OSError:  # a read-only generation: no ingest can remove it either
            self.release()

    def release(self) -> None:
        if self._file is not None:
            self._file.close()  # closing drops the lock
            self._file = None

    def __del__(self) -> None:
        self.release()


@contextmanager
def _claimed(gen: Path) -> Iterator[bool]:
    """True while `gen` is held exclusively (no reader can take a lease meanwhile); False when
    some process holds a reader lease on it."""
    try:
        f = open(gen / READERS, "a+")  # noqa: SIM115 - closed below
    except OSError:  # no .readers file can be made: no reader holds it either
        yield True
        return
    with f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        yield True  # closing the file drops the lock


def in_use(gen: Path) -> bool:
    """Whether some process holds a reader lease on `gen`."""
    with _claimed(gen) as free:
        return not free


def remove_stale(index_dir: Path, keep: str, before_remove: Callable[[Path], None] | None = None) -> list[str]:
    """Remove every generation but `keep` that no reader holds; returns the names kept for readers.
    `before_remove(gen)` deletes what lives outside the folder (a server collection); when it
    raises, the folder stays for a later ingest to retry. Called under the writer lock, so no
    other ingest is building one of them; a generation is held exclusively while it is removed,
    so no reader opens it half-removed."""
    kept = []
    for gen in sorted(index_dir.glob("gen-*")):
        if gen.name == keep:
            continue
        with _claimed(gen) as free:
            if not free:
                kept.append(gen.name)
                continue
            if before_remove is not None:
                try:
                    before_remove(gen)
                except Exception as exc:  # noqa: BLE001 - e.g. the Chroma server is down: try again next time
                    log.warning("kept the old generation %s for now: %s", gen.name, redact(exc))
                    continue
            shutil.rmtree(gen, ignore_errors=True)
    if kept:
        log.info("kept %d older generation(s) still open by a reader: %s", len(kept), ", ".join(kept))
    return kept


def private_copy(gen: Path) -> Path:
    """A copy of a read-only generation in a temporary folder, removed when the process exits."""
    tmp = Path(tempfile.mkdtemp(prefix="rag-readonly-"))
    atexit.register(shutil.rmtree, tmp, True)
    copy = tmp / gen.name
    try:
        shutil.copytree(gen, copy, ignore=shutil.ignore_patterns(READERS))
    except OSError as exc:
        raise RagError(f"the index at {gen.parent} is read-only and could not be copied to {tmp} "
                       f"({exc.strerror or exc}); make it writable or free space in the temporary folder") from None
    for path in [copy, *copy.rglob("*")]:
        path.chmod(path.stat().st_mode | 0o200)
    log.warning("the index at %s is read-only; reading a private copy in %s", gen.parent, tmp)
    return copy


def hnsw_files_intact(chroma_dir: Path) -> str | None:
    """None when every HNSW segment's vector file is as long as its header says; else what is
    wrong. Read from disk, so no in-process cache of the segment can hide a damaged file."""
    for header in chroma_dir.glob("*/header.bin"):
        raw = header.read_bytes()
        if len(raw) < 36:
            return f"{header.parent.name}: the HNSW header is truncated"
        version = struct.unpack_from("<i", raw)[0]
        _, max_elements, count, per_element = struct.unpack_from("<4Q", raw, 4)
        if version != 1 or not 0 < per_element < 1 << 20 or count > max_elements:
            continue  # a layout this check does not know: leave it to the read-back below
        data = header.parent / "data_level0.bin"
        size = data.stat().st_size if data.exists() else 0
        if size < count * per_element:
            return f"{header.parent.name}: data_level0.bin holds {size} bytes, {count * per_element} expected"
    return None


def verify_collection(collection: Any, expected: int) -> str | None:
    """None when the collection holds `expected` vectors and a spread sample of them can be read
    and found again by a query; else what is wrong."""
    try:
        count = collection.count()
        if count != expected:
            return f"the Chroma collection holds {count} vectors, {expected} expected"
        if not count:
            return None
        ids = sorted(collection.get(include=[])["ids"])
        step = max(1, len(ids) // _SAMPLE)
        sample = list(dict.fromkeys([*ids[::step][:_SAMPLE], ids[-1]]))  # the last one too, once
        got = collection.get(ids=sample, include=["embeddings"])
        vectors = got["embeddings"]
        if len(got["ids"]) != len(sample) or vectors is None or len(vectors) != len(got["ids"]):
            return "some vectors could not be read back"
        probes = [0, len(vectors) // 2, len(vectors) - 1]
        found = collection.query(query_embeddings=[vectors[i] for i in probes], n_results=1, include=["distances"])
        if not all(d and d[0] < 1e-3 for d in found["distances"]):  # itself (or an identical twin) comes first
            return "a query for a stored vector did not find it"
    except Exception as exc:  # noqa: BLE001 - whatever Chroma raises, the generation is unusable
        return f"{type(exc).__name__}: {exc}"
    return None

