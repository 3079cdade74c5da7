"""A real reverse proxy (nginx, from the system's packages) in front of a served sandbox, for the
tests that need a deployment without a control API: `/_sandbox/` answers 404 there, everything
else is passed through, and nginx's access log is the record of what reached the deployment
(`journal`; `requests` has each request's body too).

.ci/run installs nginx (Debian's nginx-light); a test that needs it fails without it rather
than pretending.

The same record for the contract kit's sandbox in process, which no proxy can stand in front
of: this module is also a pytest plugin. `huskyvoice-sandbox contract -p proxy` (with tests/ on
PYTHONPATH) and HUSKYVOICE_KIT_RECORD=FILE writes a JSON line per request that sandbox answers.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

CONFIG = """
daemon off;
worker_processes 1;
pid {root}/nginx.pid;
error_log {root}/error.log warn;
events {{ worker_connections 256; }}
http {{
    log_format journal '$request_method $request_uri $status';
    log_format bodies escape=json
        '{{"method": "$request_method", "uri": "$request_uri", "status": $status, "body": "$request_body"}}';
    access_log {root}/access.log journal;
    access_log {root}/requests.log bodies;
    client_body_buffer_size 1m;  # bodies kept in memory, so that the log has them
    client_body_temp_path {root}/body;
    proxy_temp_path {root}/proxy;
    fastcgi_temp_path {root}/fastcgi;
    uwsgi_temp_path {root}/uwsgi;
    scgi_temp_path {root}/scgi;
    client_max_body_size 1m;
    server {{
        listen 127.0.0.1:{port};
        location /_sandbox/ {{
            default_type application/json;
            return 404 '{{"success": false, "error": {{"code": "NOT_FOUND", "message": "No such endpoint."}}}}';
        }}
        location / {{
            proxy_pass {upstream};
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_pass_header Date;  # the deployment's clock (a sandbox's may be frozen), not nginx's
        }}
    }}
}}
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class NginxProxy:
    """nginx on a free port in front of `upstream` (http://127.0.0.1:PORT), hiding /_sandbox/."""

    def __init__(self, upstream: str, root: Path) -> None:
        binary = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
        if binary is None:
            raise RuntimeError("nginx is not installed (.ci/run installs Debian's nginx-light)")
        self.root = root
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        root.mkdir(parents=True, exist_ok=True)
        (root / "nginx.conf").write_text(CONFIG.format(root=root, port=self.port, upstream=upstream))
        self.process = subprocess.Popen([binary, "-p", str(root), "-c", str(root / "nginx.conf")],
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self._wait()

    def _wait(self, timeout: float = 10) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"nginx exited: {self.process.communicate()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("nginx did not start")

    def journal(self) -> list[tuple[str, str, int]]:
        """Every request that reached the proxy: (method, path with query, status)."""
        entries = []
        for line in (self.root / "access.log").read_text().splitlines():
            method, uri, status = line.rsplit(" ", 2)
            entries.append((method, uri, int(status)))
        return entries

    def requests(self) -> list[dict[str, Any]]:
        """Every request that reached the proxy, in the order they were answered: method, uri,
        status and body (parsed when it is JSON; "" when there was none)."""
        entries = []
        for line in (self.root / "requests.log").read_text(encoding="utf-8").splitlines():
            entry = json.loads(line)
            with contextlib.suppress(ValueError):  # a body that is not JSON stays text
                entry["body"] = json.loads(entry["body"]) if entry["body"] else ""
            entries.append(entry)
        return entries

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.communicate()

    def __enter__(self) -> NginxProxy:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()


def pytest_configure(config: Any) -> None:
    """As a plugin of the contract kit's run: record what its sandbox in process answers."""
    import os

    path = os.environ.get("HUSKYVOICE_KIT_RECORD")
    if path:
        config.pluginmanager.register(_Recorder(Path(path)), "huskyvoice-kit-recorder")


class _Recorder:
    def __init__(self, path: Path) -> None:
        self.path = path

    @pytest.hookimpl(trylast=True)  # after the kit's conftest has built its target
    def pytest_configure(self, config: Any) -> None:
        from huskyvoice_contract_kit.run import STATE

        app = STATE["target"].app
        if app is None:
            return
        inner, out = app.wsgi_app, self.path.open("w", encoding="utf-8")

        def recorded(environ: dict[str, Any], start_response: Any) -> Any:
            import io

            body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
            environ["wsgi.input"] = io.BytesIO(body)
            uri = environ.get("PATH_INFO", "") + ("?" + environ["QUERY_STRING"] if environ.get("QUERY_STRING") else "")

            def answered(status: str, headers: Any, exc_info: Any = None) -> Any:
                out.write(json.dumps({"method": environ["REQUEST_METHOD"], "uri": uri, "status": int(status[:3]),
                                      "body": body.decode("utf-8", "replace")}) + "\n")
                out.flush()
                return start_response(status, headers, exc_info)

            return inner(environ, answered)

        app.wsgi_app = recorded
