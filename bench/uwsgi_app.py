"""The sandbox under uWSGI (PyPI's `pyuwsgi` wheel), for the benchmark's alternative-server
rows: `python -c "import uwsgi_app; uwsgi_app.main(PORT)"` with bench/ on PYTHONPATH and the
world's path in HUSKYVOICE_BENCH_WORLD (its folder, the run's own, also holds the socket).

uWSGI's asynchronous HTTP router holds the clients' connections (keep-alive) and hands each
request to one worker process of 8 threads over a private unix socket (a TCP socket would let
any local process forge the client's address). The app is built here, before uWSGI forks its
worker, so the world is loaded once. Not what `huskyvoice-sandbox serve` uses (issue 22): under
the router a forced `drop` on a kept-alive connection closes only when its idle time ends, and
the requests the router refuses itself are closed without an answer.
"""

from __future__ import annotations

import gc
import importlib
import os

from huskyvoice_sandbox import create_app

app = create_app(os.environ["HUSKYVOICE_BENCH_WORLD"])

THREADS = 8  # as `serve` has waitress threads


def argv(port: int, socket_dir: str) -> list[str]:
    return ["--master", "--processes", "1", "--threads", str(THREADS),
            "--http", f"127.0.0.1:{port}", "--http-keepalive=5",
            "--socket", os.path.join(socket_dir, f"uwsgi-{port}.sock"), "--chmod-socket=600",
            "--module", "uwsgi_app:app", "--need-app", "--disable-logging", "--die-on-term"]


def main(port: int) -> None:
    # Only here, and untyped: the rows are measured only when pyuwsgi is installed.
    pyuwsgi = importlib.import_module("pyuwsgi")
    gc.freeze()  # as `serve` does
    socket_dir = os.path.dirname(os.environ["HUSKYVOICE_BENCH_WORLD"])
    pyuwsgi.run(argv(port, socket_dir))  # never returns
