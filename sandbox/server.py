"""The production server: waitress, with the settings `serve` uses. The benchmark serves its
bare baseline app through the same function, so both run under identical settings."""

from __future__ import annotations

from typing import Any

DEFAULT_THREADS = 8


def make_server(app: Any, host: str, port: int, threads: int = DEFAULT_THREADS) -> Any:
    """A waitress server for `app`, bound but not yet running (call `.run()`).

    Raises OSError when the address cannot be bound.
    """
    from waitress import create_server

    return create_server(app, host=host, port=port, threads=threads, ident="huskyvoice-sandbox")
