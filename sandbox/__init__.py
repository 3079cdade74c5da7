"""huskyvoice-sandbox: a stateful sandbox for the HuskyVoice appointments API."""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

__all__ = ["ConnectionDropped", "__version__", "create_app"]


def __getattr__(name: str) -> Any:
    # create_app is imported on first use: the pytest plugin (huskyvoice_sandbox.testing.
    # pytest_plugin) is loaded in every pytest run of every project that installs this package,
    # and must not pull Flask in.
    if name == "create_app":
        from .web.app import create_app

        return create_app
    if name == "ConnectionDropped":  # what a forced drop raises in process
        from .session.forcing import ConnectionDropped

        return ConnectionDropped
    raise AttributeError(f"module 'huskyvoice_sandbox' has no attribute {name!r}")
