"""huskyvoice-sandbox: a stateful sandbox for the HuskyVoice appointments API."""

from __future__ import annotations

__version__ = "0.1.0"

from .app import create_app  # noqa: E402  (after __version__, which the app reports)

__all__ = ["__version__", "create_app"]
