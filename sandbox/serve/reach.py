"""Does a sandbox or a deployment answer, and is it the HuskyVoice API? The first check of
`contract`, `drift` and `mirror`, and `health`; with the standard library only: the kit's own
modules must not be imported before pytest imports them, and a container's health check should
start fast.

"Not the API", for all three commands alike: a sandbox is recognised by its health report
(`GET /_sandbox/health`, which touches none of its sessions). Otherwise, what every deployment must
answer: an unauthenticated GET of a documented path (`/v1/appointments`) is the documented 401.
An address that answers it with a 404, 405 or 410 (a wrong path prefix, a static file server) has
no such path; one that answers anything else with a body that is not JSON (a page of HTML, a
proxy's 502) is not the API either. Anything else is the API, well or badly made: a 401 in HTML,
or a 200 without a key, is for the checks to report.
"""

from __future__ import annotations

import http.client
import json
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from .. import __version__


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


PROBE_PATH = "/v1/appointments"  # documented, and answers 401 to a request without a key
HEALTH_PATH = "/_sandbox/health"  # a sandbox's own
NOT_THERE = (404, 405, 410)  # the path is not served at this address


def not_the_api(base_url: str, timeout: float = 10.0, admin_token: str | None = None) -> str | None:
    """Why `base_url` is not the API (or does not answer), in one sentence that begins with the
    URL; None when it is."""
    url = base_url.rstrip("/") + PROBE_PATH
    try:
        status, _, body = _get(base_url.rstrip("/") + HEALTH_PATH, timeout,
                               {"X-Sandbox-Admin-Token": admin_token} if admin_token else {})
        if status == 200 and _is_sandbox_health(body):
            return None
        status, content_type, body = _get(url, timeout, {})
    except http.client.HTTPException as exc:  # something answered, but not in HTTP
        return f"{base_url} does not answer in HTTP ({type(exc).__name__}: {str(exc).strip()[:60]!r})"
    except (OSError, ValueError) as exc:  # refused, a timeout, a URL urllib cannot use
        return f"{base_url} does not answer ({_reason(exc)}); is the address right, and is it running?"
    if status == 401:
        return None  # the documented answer (its shape is for the checks to judge)
    said = f"{status} {content_type.split(';')[0].strip() or 'without a Content-Type'}"
    asked = f"GET {urllib.parse.urlsplit(url).path} without a key answered {said}"
    if status in NOT_THERE:
        return (f"{base_url} is not the HuskyVoice API: {asked}, not the documented 401; "
                f"is the base URL right (the API's paths start with /v1/)?")
    if not _is_json(body):
        return (f"{base_url} does not answer as the HuskyVoice API: {asked}, not the documented 401 "
                f"JSON error; is the base URL right, and is the API up?")
    return None


def _get(url: str, timeout: float, headers: dict[str, str]) -> tuple[int, str, bytes]:
    """Status, Content-Type and body of a GET; raises OSError (URLError) when nothing answers."""
    request = urllib.request.Request(url, headers={"Accept": "application/json",
                                                   "User-Agent": f"huskyvoice-sandbox/{__version__}", **headers})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - the user's URL
            return response.status, response.headers.get("Content-Type", ""), response.read()
    except urllib.error.HTTPError as exc:
        try:
            body = exc.read()
        except OSError:
            body = b""
        return exc.code, exc.headers.get("Content-Type", "") if exc.headers else "", body


def _reason(exc: BaseException) -> str:
    reason = getattr(exc, "reason", exc)
    return getattr(reason, "strerror", None) or str(reason) or type(exc).__name__


def _is_sandbox_health(body: bytes) -> bool:
    try:
        document = json.loads(body)
    except ValueError:
        return False
    return isinstance(document, dict) and document.get("success") is True


def _is_json(body: bytes) -> bool:
    try:
        json.loads(body)
    except ValueError:
        return False
    return True
