"""huskyvoice-sandbox: a stateful sandbox for the HuskyVoice appointments API."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:  # pragma: no cover
    from flask import Flask


def create_app(*args: Any, **kwargs: Any) -> "Flask":
    """Build the sandbox's Flask app; see :func:`sandbox.app.create_app`."""
    from .app import create_app as _create_app

    return _create_app(*args, **kwargs)


__all__ = ["__version__", "create_app"]
