"""`python -m ui`: the chat page on GRADIO_SERVER_NAME:GRADIO_SERVER_PORT (127.0.0.1:7860).

The server starts at once; on a first start the index is built in the background and the
page shows its progress.
"""

from __future__ import annotations

import argparse
import logging
import sys

from rag.errors import RagError
from rag.service import RagService
from rag.redact import install_log_redaction, redact
from rag.settings import load_settings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ui", description="Serve the chat page.")
    parser.add_argument("--host", help="interface to listen on (default: GRADIO_SERVER_NAME or 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port (default: GRADIO_SERVER_PORT or 7860)")
    parser.add_argument("--index", help="index folder (default: RAG_INDEX_DIR)")
    parser.add_argument("--corpus", help="the collection: a folder or one .jsonl/.json/.csv/.bib file "
                        "(default: RAG_CORPUS_DIR)")
    parser.add_argument("--chroma-url", help="a Chroma server holding the vectors, e.g. http://127.0.0.1:8000 "
                        "(default: RAG_CHROMA_URL; unset: the index folder's own Chroma)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    install_log_redaction()
    for noisy in ("httpx", "chromadb", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)

    from ui.app import build_demo, launch
    from ui.build import IndexBuild

    overrides = {k: v for k, v in {
        "gradio_server_name": args.host, "gradio_server_port": args.port,
        "index_dir": args.index, "corpus_dir": args.corpus, "chroma_url": args.chroma_url,
    }.items() if v is not None}
    try:
        settings = load_settings(**overrides)
        service = RagService(settings)
        build = IndexBuild(service).start()
        demo = build_demo(service, build)
    except RagError as exc:
        print(f"error: {redact(exc)}", file=sys.stderr)
        return exc.exit_code
    print(f"Chat page: http://{settings.gradio_server_name}:{settings.gradio_server_port}", file=sys.stderr)
    launch(demo, service)
    return 0


if __name__ == "__main__":
    sys.exit(main())
