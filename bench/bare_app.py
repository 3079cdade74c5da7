"""The benchmark's baseline: a bare Flask app that answers each path the benchmark requests with
the spec's documented example and does nothing else (no auth, no validation, no state, no
journal). It is the cost floor: what Flask and the server cost before any of the sandbox's work.

`build_app()` makes the app (the in-process measurement calls it directly); served, it runs on
the server `huskyvoice-sandbox serve` runs by default, through the same code (uWSGI's router
and worker: `huskyvoice_sandbox.serve.routed`; waitress where uWSGI has no build), so the
sandbox and this app run under identical settings.

    python bench/bare_app.py --port 8099
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

import yaml
from flask import Flask, Response
from huskyvoice_sandbox.resources import spec_path
from huskyvoice_sandbox.serve import routed
from huskyvoice_sandbox.serve.defaults import DEFAULT_THREADS
from huskyvoice_sandbox.serve.server import make_server

APPOINTMENT_ROUTE = "/v1/appointments/<appointment_id>"
APPOINTMENTS_ROUTE = "/v1/appointments"
AVAILABILITY_ROUTE = "/v1/appointment-slots/availability"


def compact(value: Any) -> bytes:
    """Serialised as the sandbox serialises its answers (compact, keys in order)."""
    return json.dumps(value, separators=(",", ":")).encode("utf-8")


def documented_bodies() -> dict[str, bytes]:
    """The documented bodies, read from openapi.yaml once at start-up."""
    spec = yaml.safe_load(spec_path().read_text(encoding="utf-8"))
    components = spec["components"]

    def response_example(name: str) -> bytes:
        examples = components["responses"][name]["content"]["application/json"]["examples"]
        return compact(next(iter(examples.values()))["value"])

    return {
        "appointment": compact(components["examples"]["DocumentedAppointment"]["value"]),
        "created": response_example("AppointmentCreated"),
        "page": response_example("AppointmentPage"),
        "availability": response_example("Availability"),
    }


def create_bare_app(bodies: dict[str, bytes]) -> Flask:
    app = Flask("huskyvoice_bare")

    def answer(body: bytes, status: int = 200) -> Response:
        return Response(body, status=status, mimetype="application/json")

    def appointment(appointment_id: str) -> Response:
        return answer(bodies["appointment"])

    def create() -> Response:
        return answer(bodies["created"], 201)

    def search() -> Response:
        return answer(bodies["page"])

    def availability() -> Response:
        return answer(bodies["availability"])

    app.add_url_rule(APPOINTMENT_ROUTE, "appointment", appointment, methods=["GET", "PATCH"])
    # One view per method, so no view reads the request (Flask's `request` proxy costs too).
    app.add_url_rule(APPOINTMENTS_ROUTE, "create", create, methods=["POST"])
    app.add_url_rule(APPOINTMENTS_ROUTE, "search", search, methods=["GET"])
    app.add_url_rule(AVAILABILITY_ROUTE, "availability", availability, methods=["GET"])
    return app


def build_app() -> Flask:
    """The bare app, ready to call as a WSGI app or to serve."""
    return create_bare_app(documented_bodies())


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    if routed.available():
        runner = routed.Routed(build_app(), args.host, args.port, DEFAULT_THREADS)
        print(f"bare app on http://{args.host}:{runner.port} (uwsgi)", flush=True)
        runner.start(sys.stderr)
        try:
            runner.wait_for_signal()
        finally:
            runner.close()
        return
    server = make_server(build_app(), args.host, args.port)
    print(f"bare app on http://{args.host}:{server.effective_port} (waitress)", flush=True)
    try:
        server.run()
    except KeyboardInterrupt:
        pass
    finally:
        server.close()


if __name__ == "__main__":
    main()
