"""/docs: Swagger UI served with every asset from the sandbox itself (no CDN), checked through
the test client and rendered by headless Chromium against the served sandbox."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import huskyvoice_sandbox
import pytest
from huskyvoice_sandbox.web.docs import ASSETS
from PIL import Image, ImageChops

from helpers import error_of

PAGE_URL = "http://localhost/docs"  # what relative references on the page resolve against
PATCH_PATH = "/v1/appointments/{appointment_id}"
PATCH_COLOUR = (0x50, 0xE3, 0xC2)  # Swagger UI's colour for PATCH operations (#50e3c2)
WIDTH, HEIGHT = 1280, 2000
CONTENT_TYPES = {".css": ("text/css",), ".js": ("text/javascript", "application/javascript"),
                 ".png": ("image/png",)}


class _References(HTMLParser):
    """Every src and href on a page."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.urls += [value for name, value in attrs if name in ("src", "href") and value]


def references(html: str) -> list[str]:
    """The page's asset references and the spec URL its script fetches, as same-origin paths."""
    parser = _References()
    parser.feed(html)
    urls = parser.urls + re.findall(r'fetch\("([^"]+)"\)', html)
    resolved = [urlsplit(urljoin(PAGE_URL, url)) for url in urls]
    assert all(url.netloc == "localhost" for url in resolved), urls
    return [url.path for url in resolved]


# -- through the test client ----------------------------------------------------------------

def test_docs_page_references_only_same_origin_assets(client):
    response = client.get("/docs")
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    html = response.get_data(as_text=True)
    assert "http://" not in html and "https://" not in html
    assert f"<title>huskyvoice-sandbox {huskyvoice_sandbox.__version__} " in html
    assert "validatorUrl: null" in html
    policy = response.headers["Content-Security-Policy"]
    assert "default-src 'self'" in policy and "http" not in policy

    paths = references(html)
    assert "/openapi.json" in paths
    assets = [path for path in paths if path != "/openapi.json"]
    assert {"/docs/assets/swagger-ui.css", "/docs/assets/swagger-ui-bundle.js"} <= set(assets)
    for path in assets:
        with client.get(path) as asset:  # a file response: closed after reading
            assert asset.status_code == 200, path
            assert asset.mimetype in CONTENT_TYPES[Path(path).suffix], (path, asset.mimetype)
            assert asset.get_data() == (ASSETS / Path(path).name).read_bytes()
    spec = client.get("/openapi.json")
    assert spec.status_code == 200 and PATCH_PATH in spec.get_json()["paths"]


def test_docs_with_a_slash_redirects_to_the_page(client):
    response = client.get("/docs/")
    assert response.status_code == 308
    assert response.headers["Location"] == "/docs"
    assert response.get_data() == b""
    assert client.get("/docs/", follow_redirects=True).mimetype == "text/html"


def test_docs_are_public_unlike_the_control_api(client):
    outsider = {"REMOTE_ADDR": "203.0.113.9"}
    assert client.get("/docs", environ_base=outsider).status_code == 200
    with client.get("/docs/assets/swagger-ui.css", environ_base=outsider) as asset:
        assert asset.status_code == 200
    error_of(client.get("/_sandbox/health", environ_base=outsider), 403, "FORBIDDEN")


@pytest.mark.parametrize("path", [
    "/docs/assets/nope.js",
    "/docs/assets/",
    "/docs/nope",
    "/docs/assets/../app.py",
    # these exist next to the assets or on the machine: only the traversal guard stops them
    "/docs/assets/../__init__.py",
    "/docs/assets/%2e%2e/__init__.py",
    "/docs/assets/..%2f__init__.py",
    "/docs/assets/%2E%2E%2F__init__.py",
    "/docs/assets/%2e%2e%2f%2e%2e%2fflask_swagger_ui%2f__init__.py",
    "/docs/assets/..%5c__init__.py",
    "/docs/assets//etc/passwd",
    "/docs/assets/%2fetc%2fpasswd",
])
def test_unknown_assets_and_traversal_are_a_json_404(client, path):
    error_of(client.get(path), 404, "NOT_FOUND")


def test_the_traversal_targets_exist():
    """The 404s above are the guard's doing, not missing files."""
    assert (ASSETS.parent / "__init__.py").is_file()
    assert (ASSETS.parent.parent / "flask_swagger_ui" / "__init__.py").is_file()


def test_other_methods_on_docs_are_a_json_405(client):
    error = error_of(client.post("/docs"), 405, "METHOD_NOT_ALLOWED")
    assert "GET" in error["message"]


# -- rendered by headless Chromium against the served sandbox --------------------------------

def run_chromium(url: str, out: Path) -> tuple[str, str]:
    """Screenshot `url` into out/docs.png and return (rendered DOM, Chromium's log)."""
    command = [
        "chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
        "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-proxy-server",
        # Names other than the loopback address do not resolve: nothing can leave the machine.
        "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
        "--enable-logging=stderr", "--v=0",  # the page's console messages, CSP violations too
        f"--user-data-dir={out / 'profile'}", f"--window-size={WIDTH},{HEIGHT}",
        "--virtual-time-budget=10000", f"--screenshot={out / 'docs.png'}", "--dump-dom", url,
    ]
    env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, env=env, start_new_session=True)
    try:
        return process.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)  # Chromium and the helpers it started
        process.communicate()
        raise


@pytest.mark.live
@pytest.mark.skipif(shutil.which("chromium") is None,
                    reason="needs Debian's chromium on PATH (.ci/run installs it)")
def test_chromium_renders_the_patch_operation_offline(live_server, tmp_path):
    server = live_server()
    dom, log = run_chromium(f"{server.url}/docs", tmp_path)
    _, access_log = server.stop()

    # The rendered page: Swagger UI drew the PATCH operation of the contract.
    assert re.search(r'class="opblock opblock-patch[^"]*"', dom), dom[:2000]
    assert f'data-path="{PATCH_PATH}"' in dom
    assert ">PATCH<" in dom
    console = [line for line in log.splitlines() if ":CONSOLE" in line]
    assert not [line for line in console if "Content Security Policy" in line
                or "Uncaught" in line or "Failed to load" in line], console

    # Everything the page needed came from the sandbox, and all of it was there.
    served = re.findall(r'"GET (\S+)" (\d{3})', access_log)
    for path in ("/docs", "/docs/assets/swagger-ui.css", "/docs/assets/swagger-ui-bundle.js",
                 "/openapi.json"):
        assert (path, "200") in served, access_log
    assert all(status == "200" for _, status in served), access_log

    # The screenshot: a PNG of the requested size with the PATCH block painted in its colour,
    # across the width of the page (the block's border), not just a stray pixel or two.
    shot = tmp_path / "docs.png"
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with Image.open(shot) as image:
        assert image.format == "PNG" and image.size == (WIDTH, HEIGHT)
        rgb = image.convert("RGB")
    # A mask, white where a pixel is exactly PATCH_COLOUR: each band matched, then ANDed.
    red, green, blue = (band.point(lambda v, c=c: 255 if v == c else 0)
                        for band, c in zip(rgb.split(), PATCH_COLOUR, strict=True))
    mask = ImageChops.multiply(ImageChops.multiply(red, green), blue)
    assert mask.histogram()[255] >= 1500, mask.histogram()[255]
    left, top, right, bottom = mask.getbbox() or (0, 0, 0, 0)
    assert right - left >= WIDTH // 2, (left, top, right, bottom)
