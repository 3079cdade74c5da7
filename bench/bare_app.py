"""The benchmark's baseline: a bare Flask app that answers the appointment path with the
documented 200 body and does nothing else (no auth, no validation, no state, no journal).

It is served through `huskyvoice_sandbox.serve.server.make_server`, the function `huskyvoice-sandbox serve`
uses, so the sandbox and this app run under identical waitress settings: the difference in
throughput between them is the sandbox's own work.

    python bench/bare_app.py --port 8099
"""

from __future__ import annotations

import argparse
import json

import yaml
from flask import Flask, Response
from huskyvoice_sandbox.resources import spec_path
from huskyvoice_sandbox.serve.server import make_server

EXAMPLE = "DocumentedAppointment"
ROUTE = "/v1/appointments/<appointment_id>"


def documented_body() -> bytes:
    """The documented 200 body (components.examples.DocumentedAppointment in openapi.yaml),
    serialised once at start-up as the sandbox serialises its answers (compact, in order)."""
    spec = yaml.safe_load(spec_path().read_text(encoding="utf-8"))
    value = spec["components"]["examples"][EXAMPLE]["value"]
    return json.dumps(value, separators=(",", ":")).encode("utf-8")


def create_bare_app(body: bytes) -> Flask:
    app = Flask("huskyvoice_bare")

    def appointment(appointment_id: str) -> Response:
        return Response(body, status=200, mimetype="application/json")

    app.add_url_rule(ROUTE, "appointment", appointment, methods=["GET", "PATCH"])
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    server = make_server(create_bare_app(documented_body()), args.host, args.port)
    print(f"bare app on http://{args.host}:{server.effective_port}", flush=True)
    try:
        server.run()
    except KeyboardInterrupt:
        pass
    finally:
        server.close()


if __name__ == "__main__":
    main()
