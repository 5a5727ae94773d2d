"""The chat page under load: N concurrent gradio_client sessions (each asks 2 questions
from the eval set, the second as part of the same conversation), against the baseline of
the same questions answered in-process one at a time, in the same run. Prints a table.

    .venv/bin/python bench/bench_ui_load.py [--sessions 20] [--concurrency 1 4 8]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from eval.runner import DATASET, load_jsonl  # noqa: E402
from rag.service import RagService  # noqa: E402
from rag.settings import Settings  # noqa: E402
from tests.pages import ask_via_client, free_port, percentiles, run_sessions, serve  # noqa: E402


def gradio_floor(n: int = 20) -> dict[str, float]:
    """Round trip of a trivial two-yield Gradio endpoint through gradio_client: the floor."""
    import gradio as gr
    from gradio_client import Client

    def echo(x: str):  # noqa: ANN202
        yield x
        yield x + "!"

    with gr.Blocks(analytics_enabled=False) as demo:
        box, out = gr.Textbox(), gr.Textbox()
        box.submit(echo, box, out, api_name="echo")
    port = free_port()
    demo.queue().launch(server_port=port, prevent_thread_lock=True, quiet=True)
    try:
        client = Client(f"http://127.0.0.1:{port}/", verbose=False)
        times = []
        for _ in range(n):
            t0 = time.perf_counter()
            client.predict("a", api_name="/echo")
            times.append(time.perf_counter() - t0)
    finally:
        demo.close()
    return percentiles(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sessions", type=int, default=20)
    ap.add_argument("--concurrency", type=int, nargs="+", default=[1, 4, 8])
    args = ap.parse_args()
    qs = [it["question"] for it in load_jsonl(DATASET)]
    per_session = [[qs[i % len(qs)], qs[(i + args.sessions) % len(qs)]] for i in range(args.sessions)]

    svc = RagService(Settings(llm="extractive"))
    svc.ensure_index()
    svc.ask(qs[0])  # warm
    t0 = time.perf_counter()
    times = []
    for first, second in per_session:
        for q in (first, second):
            t = time.perf_counter()
            svc.ask(q)
            times.append(time.perf_counter() - t)
    base_wall = time.perf_counter() - t0
    base = percentiles(times)
    n = len(times)
    print(f"{args.sessions} sessions x 2 questions = {n} answers, 2-core machine\n")
    print("| setup | p50 ms | p90 ms | p95 ms | max ms | answers/s | errors |")
    print("|---|---|---|---|---|---|---|")
    print(f"| baseline: in-process `service.ask`, one at a time | {base['p50_ms']:.0f} | {base['p90_ms']:.0f} | "
          f"{base['p95_ms']:.0f} | {base['max_ms']:.0f} | {n / base_wall:.1f} | 0 |")
    floor = gradio_floor()
    with serve(svc) as url:
        ask_via_client(url, qs[:2])  # warm
        one = percentiles([r.seconds for r in ask_via_client(url, qs[:20])])
    print(f"| trivial Gradio endpoint via gradio_client (the floor), one at a time | {floor['p50_ms']:.0f} | "
          f"{floor['p90_ms']:.0f} | {floor['p95_ms']:.0f} | {floor['max_ms']:.0f} | – | 0 |")
    print(f"| page, one session, one question at a time | {one['p50_ms']:.0f} | {one['p90_ms']:.0f} | "
          f"{one['p95_ms']:.0f} | {one['max_ms']:.0f} | – | 0 |")
    for conc in args.concurrency:
        svc.settings.ui_concurrency = conc
        with serve(svc) as url:
            run_sessions(url, per_session[:2])  # warm the server
            results, wall = run_sessions(url, per_session)
        flat = [r for s in results for r in s]
        st = percentiles([r.seconds for r in flat])
        errors = sum(1 for r in flat if r.error)
        print(f"| page, {args.sessions} concurrent sessions, RAG_UI_CONCURRENCY={conc} | {st['p50_ms']:.0f} | "
              f"{st['p90_ms']:.0f} | {st['p95_ms']:.0f} | {st['max_ms']:.0f} | {len(flat) / wall:.1f} "
              f"({len(flat) / wall / (n / base_wall):.2f}x baseline) | {errors} |")


if __name__ == "__main__":
    main()
