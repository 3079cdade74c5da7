"""Deliberately broken variants of the sandbox, for proving the contract kit catches them.

Each is a WSGI middleware around the real sandbox. Serve one with:
    python tests/broken_targets.py NAME PORT
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import Any

from huskyvoice_sandbox import create_app

WRITE_KEY = "sk_test_demo_write"
Rewrite = Callable[[dict[str, Any], int, dict[str, str], bytes], tuple[int, dict[str, str], bytes]]


def _json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except ValueError:
        return None


def slot_full_as_400(environ, status, headers, body):
    data = _json(body)
    if status == 409 and data and data["error"]["code"] == "SLOT_FULL":
        return 400, headers, body
    return status, headers, body


def no_success_in_errors(environ, status, headers, body):
    data = _json(body)
    if status >= 400 and isinstance(data, dict):
        data.pop("success", None)
        return status, headers, json.dumps(data).encode()
    return status, headers, body


def accepts_empty_body(environ, status, headers, body):
    data = _json(body)
    if status == 400 and data and any("at least one" in d["message"]
                                      for d in data["error"].get("details", [])):
        return 200, headers, json.dumps({"success": True, "data": {}}).encode()
    return status, headers, body


def date_as_datetime(environ, status, headers, body):
    data = _json(body)
    if status == 200 and isinstance(data, dict) and isinstance(data.get("data"), dict) \
            and "date" in data["data"]:
        data["data"]["date"] += "T00:00:00Z"
        return status, headers, json.dumps(data).encode()
    return status, headers, body


def answers_html(environ, status, headers, body):
    if status >= 400:
        headers = {**headers, "Content-Type": "text/html; charset=utf-8"}
        return status, headers, b"<html><body><h1>Error</h1></body></html>"
    return status, headers, body


REWRITES: dict[str, Rewrite] = {
    "slot-full-as-400": slot_full_as_400,
    "no-success-in-errors": no_success_in_errors,
    "accepts-empty-body": accepts_empty_body,
    "date-as-datetime": date_as_datetime,
    "answers-html": answers_html,
}


def ignores_bearer_key(app: Any) -> Any:
    """Any Authorization header at all is taken as the write key."""
    def wrapped(environ, start_response):
        if environ.get("PATH_INFO", "").startswith("/v1/") and environ.get("HTTP_AUTHORIZATION"):
            environ["HTTP_AUTHORIZATION"] = f"Bearer {WRITE_KEY}"
        return app(environ, start_response)
    return wrapped


def rewriting(app: Any, rewrite: Rewrite) -> Any:
    def wrapped(environ, start_response):
        captured: dict[str, Any] = {}

        def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None):
            captured["status"], captured["headers"] = int(status.split()[0]), dict(headers)
            return lambda data: None

        body = b"".join(app(environ, capture))
        if not environ.get("PATH_INFO", "").startswith("/v1/"):
            status, headers = captured["status"], captured["headers"]
        else:
            status, headers, body = rewrite(environ, captured["status"], captured["headers"], body)
        headers = {k: v for k, v in headers.items() if k.lower() != "content-length"}
        headers["Content-Length"] = str(len(body))
        start_response(f"{status} X", list(headers.items()))
        return [body]
    return wrapped


def forgets_patches(app: Any) -> Any:
    """Answers a PATCH as if it were saved, then forgets it: the next GET reads the old state."""
    from huskyvoice_sandbox.web.http import EXTENSION

    def wrapped(environ, start_response):
        body = app(environ, start_response)
        if environ["REQUEST_METHOD"] == "PATCH" and environ.get("PATH_INFO", "").startswith("/v1/"):
            # The session the PATCH was made in (the kit checks a served sandbox in its own).
            app.extensions[EXTENSION].sessions.get(environ.get("HTTP_X_SANDBOX_SESSION")).reset()
        return body
    return wrapped


def leaks_across_organizations(app: Any) -> Any:
    """Looks an appointment up by its id alone, whoever asks: an id the caller's organization
    does not have is answered with another organization's appointment (a real one, so the
    answer is schema-valid) instead of a 404."""
    from huskyvoice_sandbox.web.http import EXTENSION

    def wrapped(environ, start_response):
        path = environ.get("PATH_INFO", "")
        parts = path.strip("/").split("/")
        if environ["REQUEST_METHOD"] != "GET" or len(parts) != 3 or parts[:2] != ["v1", "appointments"]:
            return app(environ, start_response)
        captured: dict[str, Any] = {}

        def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None):
            captured["status"], captured["headers"] = status, headers
            return lambda data: None

        body = b"".join(app(environ, capture))
        if captured["status"].startswith("404"):
            world = app.extensions[EXTENSION].sessions.get(environ.get("HTTP_X_SANDBOX_SESSION")).world
            asked = environ.get("HTTP_AUTHORIZATION", "")
            for org in world.organizations:
                keys = [k.key for k in org.api_keys if "appointments:read" in k.scopes]
                if keys and asked.removeprefix("Bearer ") not in keys:
                    retry: dict[str, Any] = {}

                    def again(status: str, headers: list[tuple[str, str]], exc_info: Any = None, into=retry):
                        into["status"], into["headers"] = status, headers
                        return lambda data: None

                    other = b"".join(app({**environ, "HTTP_AUTHORIZATION": f"Bearer {keys[0]}"}, again))
                    if retry["status"].startswith("200"):
                        captured, body = retry, other
                        break
        start_response(captured["status"], captured["headers"])
        return [body]
    return wrapped


def broken_app(name: str) -> Any:
    app = create_app()
    if name == "ignores-bearer-key":
        return ignores_bearer_key(app)
    if name == "forgets-patches":
        return forgets_patches(app)
    if name == "leaks-across-organizations":
        return leaks_across_organizations(app)
    return rewriting(app, REWRITES[name])


NAMES = sorted([*REWRITES, "ignores-bearer-key", "forgets-patches", "leaks-across-organizations"])

if __name__ == "__main__":
    from waitress import serve

    serve(broken_app(sys.argv[1]), host="127.0.0.1", port=int(sys.argv[2]))
