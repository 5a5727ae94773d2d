"""Build (or open) the index in the background so the page is up at once and shows the
progress of a first build instead of a blank page."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator

from rag.errors import RagError
from rag.redact import redact
from rag.service import RagService

log = logging.getLogger(__name__)


class IndexBuild:
    """State of the start-up build: `building`, `ready` or `failed` (with a message)."""

    def __init__(self, service: RagService):
        self.service = service
        self.state = "building"
        self.stage = "starting"
        self.done = 0
        self.total = 0
        self.error: str | None = None
        self.built = False  # True when this start had to build (first start)
        self._ready = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> IndexBuild:
        self._thread = threading.Thread(target=self._run, name="index-build", daemon=True)
        self._thread.start()
        return self

    def run_now(self) -> IndexBuild:
        """Build in the calling thread (tests, or when the index already exists)."""
        self._run()
        return self

    def _progress(self, stage: str, done: int, total: int) -> None:
        self.stage, self.done, self.total = stage, done, total
        if total and (done == total or done % 200 == 0):
            log.info("index: %s %d/%d", stage, done, total)

    def _run(self) -> None:
        try:
            self.built = self.service.ensure_index(progress=self._progress)
            self.stage = "opening"
            _ = self.service.retriever  # open the index (BM25, the vector map) once, now
            self.state = "ready"
        except RagError as exc:
            self.state, self.error = "failed", redact(exc)
        except Exception as exc:  # noqa: BLE001 - shown on the page, details in the log
            log.exception("index build failed")
            self.state, self.error = "failed", redact(f"Building the index failed ({type(exc).__name__}: {exc}).")
        finally:
            self._ready.set()

    @property
    def ready(self) -> bool:
        return self.state == "ready"

    def message(self) -> str:
        """One line for the status banner."""
        if self.state == "ready":
            return "Index ready." if not self.built else "Index built and ready."
        if self.state == "failed":
            return f"The index could not be opened: {self.error}"
        if self.stage == "embedding" and self.total:
            pct = 100 * self.done // self.total
            return (f"First start: building the search index — embedding {self.done}/{self.total} "
                    f"chunks ({pct}%). Questions asked now are answered when it is ready.")
        return "Building the search index…" if self.stage != "opening" else "Opening the search index…"

    def wait(self, poll: float = 0.5) -> Iterator[str]:
        """Yield progress messages until the build has finished (or failed)."""
        while not self._ready.wait(poll):
            yield self.message()

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the build to end; False if `timeout` passed first."""
        return self._ready.wait(timeout)
