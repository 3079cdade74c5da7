"""The sandbox as granian (a WSGI server written in Rust) imports it, for the benchmark's
alternative-server row: `granian --interface wsgi granian_app:app`, with the world's path in
HUSKYVOICE_BENCH_WORLD. Not what `huskyvoice-sandbox serve` uses: granian cannot drop a
connection without answering (a forced `drop` becomes a 500) and answers the requests it
refuses itself in its own format, not the API's envelope (docs/performance.md)."""

from __future__ import annotations

import gc
import os

from huskyvoice_sandbox import create_app

app = create_app(os.environ["HUSKYVOICE_BENCH_WORLD"])
gc.freeze()  # as `serve` does
