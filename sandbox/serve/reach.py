"""Does a sandbox or a deployment answer? For the contract kit's first check and for `health`,
with the standard library only: the kit's own modules must not be imported before pytest
imports them, and a container's health check should start fast."""

from __future__ import annotations

import http.client
import json
import urllib.error
import urllib.request
from typing import Any

from .. import __version__


def unreachable(base_url: str, timeout: float = 10.0) -> str | None:
    """Why `base_url` gives no HTTP answer, in a few words ("Connection refused"); None when it
    answers, whatever the status (a deployment may well answer / with a 404)."""
    try:
        urllib.request.urlopen(base_url.rstrip("/") + "/", timeout=timeout).close()  # noqa: S310 - the user's URL
    except urllib.error.HTTPError:
        return None
    except urllib.error.URLError as exc:
        reason = exc.reason
        return getattr(reason, "strerror", None) or str(reason)
    except (OSError, ValueError) as exc:  # a timeout, a URL urllib cannot use
        return getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    return None



def health_problem(base_url: str, admin_token: str | None, timeout: float = 3.0) -> tuple[dict[str, Any], str | None]:
    """A sandbox's health report (`GET /_sandbox/health`'s data) and None, or {} and why there
    is none, in a few words ("Connection refused", "403 FORBIDDEN")."""
    # This agent keeps the checks out of the access log (web/app.py).
    request = urllib.request.Request(f"{base_url.rstrip('/')}/_sandbox/health",
                                     headers={"User-Agent": f"huskyvoice-sandbox-health/{__version__}"})
    if admin_token:
        request.add_header("X-Sandbox-Admin-Token", admin_token)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - the user's URL
            document = json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return {}, f"{exc.code} {_error_code(exc)}".rstrip()
    except urllib.error.URLError as exc:
        return {}, getattr(exc.reason, "strerror", None) or str(exc.reason)
    except ValueError:
        return {}, "the answer is not JSON"
    except http.client.HTTPException as exc:  # something answered, but not in HTTP
        return {}, f"the answer is not HTTP ({type(exc).__name__}: {str(exc).strip()[:60]!r})"
    except OSError as exc:  # a timeout, a reset
        return {}, getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    data = document.get("data") if isinstance(document, dict) else None
    if not isinstance(data, dict) or data.get("status") != "ok":
        return {}, "the answer is not a health report"
    return data, None


def _error_code(error: urllib.error.HTTPError) -> str:
    """The envelope's error code, when the answer has one."""
    try:
        return str(json.loads(error.read())["error"]["code"])
    except (ValueError, KeyError, TypeError, OSError):
        return ""
