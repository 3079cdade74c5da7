"""Interactive API docs at /docs: Swagger UI rendering /openapi.json, with every asset served
by the sandbox itself from the installed flask-swagger-ui package (no CDN: works offline)."""

from __future__ import annotations

import base64
import hashlib
from importlib.util import find_spec
from pathlib import Path

from flask import Blueprint, Response, send_from_directory, url_for

from .. import __version__

bp = Blueprint("docs", __name__)


def _assets_dir() -> Path:
    """flask-swagger-ui's dist/ folder, located without importing the package."""
    spec = find_spec("flask_swagger_ui")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("flask-swagger-ui (a dependency: it ships Swagger UI) is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "dist"


ASSETS = _assets_dir()

# Document-relative URLs only: from /docs they resolve to /docs/assets/... and /openapi.json on
# whatever host, port (or path prefix) the page was reached through. The sandbox is listed
# first among the servers, so "Try it out" talks to the sandbox that served the page.
_SCRIPT = """
fetch("openapi.json").then(function (r) { return r.json(); }).then(function (spec) {
  var here = {url: window.location.origin, description: "this sandbox"};
  spec.servers = [here].concat((spec.servers || []).filter(function (s) { return s.url !== here.url; }));
  spec.info.description = "**[The inspector](_sandbox/inspector)**: this sandbox's sessions, requests, world, " +
    "forced responses and webhook deliveries, live (for the clients the control API serves).\\n\\n" +
    (spec.info.description || "");
  window.ui = SwaggerUIBundle({spec: spec, dom_id: "#swagger-ui", validatorUrl: null, deepLinking: true});
}).catch(function (e) {
  document.getElementById("swagger-ui").textContent = "Could not load openapi.json: " + e;
});
"""
_TITLE = f"huskyvoice-sandbox {__version__} - API docs"
_PAGE = f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{_TITLE}</title>
<link rel="stylesheet" href="docs/assets/swagger-ui.css">
<link rel="icon" type="image/png" href="docs/assets/favicon-32x32.png" sizes="32x32">
</head>
<body>
<div id="swagger-ui"></div>
<script src="docs/assets/swagger-ui-bundle.js"></script>
<script>{_SCRIPT}</script>
</body>
</html>
"""
_SCRIPT_HASH = base64.b64encode(hashlib.sha256(_SCRIPT.encode()).digest()).decode()
# The browser itself keeps the page local: scripts, styles, requests and images from this
# origin only (Swagger UI's own styles and icons are inline and data: URIs).
CSP = ("default-src 'self'; "
       f"script-src 'self' 'sha256-{_SCRIPT_HASH}'; "
       "style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
       "object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")


@bp.get("/docs")
def page() -> Response:
    return Response(_PAGE, mimetype="text/html", headers={"Content-Security-Policy": CSP})


@bp.get("/docs/")
def page_slash() -> Response:
    return Response(status=308, headers={"Location": url_for("docs.page")})


@bp.get("/docs/assets/<path:filename>")
def asset(filename: str) -> Response:
    # send_from_directory refuses '..', absolute paths and missing files with a 404, which the
    # app answers in the JSON envelope.
    return send_from_directory(ASSETS, filename)
