"""A real reverse proxy (nginx, from the system's packages) in front of a served sandbox, for the
tests that need a deployment without a control API: `/_sandbox/` answers 404 there, everything
else is passed through, and nginx's access log is the record of what reached the deployment.

.ci/run installs nginx (Debian's nginx-light); a test that needs it fails without it rather
than pretending.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

CONFIG = """
daemon off;
worker_processes 1;
pid {root}/nginx.pid;
error_log {root}/error.log warn;
events {{ worker_connections 256; }}
http {{
    log_format journal '$request_method $request_uri $status';
    access_log {root}/access.log journal;
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
