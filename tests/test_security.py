"""Security properties of the sandbox, each proven through its real interfaces.

1. The control API (`/_sandbox/`) refuses every client that is not on loopback and sends no admin
   token: with the remote address faked at the WSGI level (IPv4, IPv6, IPv4-mapped, unparseable,
   forwarding headers), every route and method answers 403 in the error envelope, changes
   nothing and reveals nothing, while the same request from 127.0.0.1, ::1 or ::ffff:127.0.0.1
   is served and does change the state. Over real sockets too: `huskyvoice-sandbox serve` bound to
   a non-loopback address of this machine refuses its peers; with `--admin-token`, a wrong or
   missing token is refused and the right one served, from that address and from loopback.
2. Keys are compared in constant time: `Store.authenticate` never compares, hashes or indexes the
   raw key as a string (it looks up the key's SHA-256 digest), and the admin token goes through
   `hmac.compare_digest`, right or wrong, and is never compared as a string either. No timing.
3. One organization's key never reads or changes another's appointment: whatever the body, the
   answer is byte for byte the 404 of a missing id (the same body would have got 200, 409 or 422
   from the owner), and the appointment is unchanged. (tests/test_auth.py covers the demo write
   key against Lakeview's appointment with a GET or a cancelling PATCH; this covers the rest.)
4. Error answers never echo a key: for unknown, malformed, near-miss, wrong-scope, rate-limited
   and valid-but-failing keys, no 12-character piece of the key is in the body or any header.
5. The request journal never keeps a key, nor any piece of one longer than a third of it.
6. Unknown keys leave no rate-limit state, however many are sent; a known key's state never holds
   more than its limit: rejected requests leave no trace (seen through 429s and Retry-After).
   A journal entry is bounded in size whatever the request (path, query and Content-Type clipped).

Test-client requests go through the `make_client`/`make_app` fixtures, which check every
response against openapi.yaml; live requests go through `checked_http`, which does the same.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import ipaddress
import json
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import pytest
import yaml
from huskyvoice_sandbox.resources import default_world_path
from huskyvoice_sandbox.session.journal import MAX_BODY_CHARS
from huskyvoice_sandbox.session.ratelimit import SlidingWindowLimiter
from huskyvoice_sandbox.web import (
    access as sandbox_access,  # where the control features check the admin token
)
from huskyvoice_sandbox.web.http import ADMIN_HEADER, EXTENSION

from helpers import (
    DOC_ID,
    DOC_KEY,
    NO_SCOPE_KEY,
    READ_KEY,
    WRITE_KEY,
    LiveServer,
    appointment_in,
    error_of,
)
from helpers import OTHER_ORG_KEY as LAKEVIEW_KEY

LAKEVIEW_ID = "appt_9z8y7x6w5v"  # org_lakeview's; DOC_ID is org_demo's
MISSING_ID = "appt_zzzzzzzzzz"  # the same length as both, so bodies compare byte for byte
LAKEVIEW_LIMIT = 5  # requests a minute, for LAKEVIEW_KEY
DEFAULT_KEYS = (DOC_KEY, WRITE_KEY, READ_KEY, NO_SCOPE_KEY, LAKEVIEW_KEY)

ADMIN_TOKEN = "adm1n-T0ken-for-security-tests"
# Where the demo appointment goes: away from its seed, so that a reset would visibly undo it.
MOVE_AWAY = {"appointment_date": "2026-06-15T14:30:00.000Z", "assigned_doctor": "Dr. Kept",
             "notes": "must survive every refused control request"}
SEED_CLOCK = "2026-05-26T11:00:00.000Z"


def url(appointment_id: str = DOC_ID) -> str:
    return f"/v1/appointments/{appointment_id}"


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def data(response: Any) -> Any:
    body = response.get_json()
    assert response.status_code == 200 and body["success"] is True, body
    return body["data"]


def default_world_doc() -> dict[str, Any]:
    return yaml.safe_load(default_world_path().read_text(encoding="utf-8"))


# == 1. the control API refuses non-loopback clients ==========================================

@dataclass(frozen=True)
class ControlRoute:
    """One control request, sendable by the Flask test client and by requests alike."""

    method: str
    path: str
    body: bytes | None = None
    content_type: str | None = None
    mutates: bool = False  # served, it visibly changes the state
    rule: str | None = None  # the URL rule, when the path fills in a variable

    def __str__(self) -> str:
        return f"{self.method} {self.path}"

    def flask(self) -> dict[str, Any]:
        return {"method": self.method, "data": self.body, "content_type": self.content_type}

    def requests(self) -> dict[str, Any]:
        headers = {"Content-Type": self.content_type} if self.content_type else {}
        return {"data": self.body, "headers": headers}


REPLACEMENT_WORLD = json.dumps({**default_world_doc(), "description": "put by a refused client",
                                "clock": "2027-01-01T00:00:00.000Z"}).encode()
AGENT_BOOKING = (b'{"appointment_type": "General Checkup", "appointment_date": "2026-06-22T09:30:00.000Z",'
                 b' "patient_name": "Eve", "parent_phone": "+919800000098", "branch_id": "branch_uuid_here"}')
CONTROL_ROUTES = [
    ControlRoute("GET", "/_sandbox/openapi.yaml"),
    ControlRoute("GET", "/_sandbox/health"),
    ControlRoute("POST", "/_sandbox/reset", mutates=True),
    ControlRoute("GET", "/_sandbox/world"),
    ControlRoute("GET", "/_sandbox/keys"),
    ControlRoute("PUT", "/_sandbox/world", REPLACEMENT_WORLD, "application/json", mutates=True),
    ControlRoute("GET", "/_sandbox/requests"),
    ControlRoute("DELETE", "/_sandbox/requests", mutates=True),
    ControlRoute("GET", "/_sandbox/clock"),
    ControlRoute("PUT", "/_sandbox/clock", b'{"advance_seconds": 3600}', "application/json",
                 mutates=True),
    ControlRoute("GET", "/_sandbox/sessions"),
    ControlRoute("DELETE", "/_sandbox/sessions/s1", mutates=True, rule="/_sandbox/sessions/<name>"),
    ControlRoute("GET", "/_sandbox/snapshots"),
    ControlRoute("POST", "/_sandbox/snapshots", b'{"name": "s2"}', "application/json", mutates=True),
    ControlRoute("POST", "/_sandbox/snapshots/s1/restore", mutates=True,
                 rule="/_sandbox/snapshots/<name>/restore"),
    ControlRoute("DELETE", "/_sandbox/snapshots/s1", mutates=True, rule="/_sandbox/snapshots/<name>"),
    ControlRoute("GET", "/_sandbox/forced-responses"),
    ControlRoute("POST", "/_sandbox/forced-responses", b'{"status": 500}', "application/json",
                 mutates=True),
    ControlRoute("DELETE", "/_sandbox/forced-responses", mutates=True),
    ControlRoute("DELETE", "/_sandbox/forced-responses/force_1", mutates=True,
                 rule="/_sandbox/forced-responses/<rule_id>"),
    ControlRoute("POST", "/_sandbox/appointments",
                 b'{"organization": "org_demo", "appointments": [{"appointment_id": "appt_intruder1",'
                 b' "appointment_type": "f47ac10b-58cc-4372-a567-0e02b2c3d479", "branch_id": "branch_uuid_here",'
                 b' "date": "2026-06-22", "session": "Morning", "batch": "MA", "patient_name": "Eve",'
                 b' "parent_phone": "+919800000099"}]}', "application/json", mutates=True),
    ControlRoute("GET", "/_sandbox/inspector"),
    ControlRoute("GET", "/_sandbox/inspector/assets/inspector.js", rule="/_sandbox/inspector/assets/<filename>"),
    ControlRoute("GET", "/_sandbox/inspector/calendar"),
    ControlRoute("GET", "/_sandbox/webhooks"),
    ControlRoute("POST", "/_sandbox/webhooks", b'{"url": "http://127.0.0.1:9/hooks", "secret": "whsec_intruder"}',
                 "application/json", mutates=True),
    ControlRoute("DELETE", "/_sandbox/webhooks/wh_1", mutates=True, rule="/_sandbox/webhooks/<endpoint_id>"),
    ControlRoute("GET", "/_sandbox/webhooks/deliveries"),
    ControlRoute("DELETE", "/_sandbox/webhooks/deliveries", mutates=True),
    ControlRoute("POST", "/_sandbox/agent/appointments", AGENT_BOOKING, "application/json", mutates=True),
    ControlRoute("POST", "/_sandbox/dashboard/appointments", AGENT_BOOKING, "application/json", mutates=True),
    ControlRoute("PATCH", "/_sandbox/dashboard/appointments/appt_a1b2c3d4e5", b'{"notes": "intruder"}',
                 "application/json", mutates=True, rule="/_sandbox/dashboard/appointments/<appointment_id>"),
    ControlRoute("POST", "/_sandbox/dashboard/windows",
                 b'{"branch_id": "branch_uuid_here", "day": "saturday", "session": "Morning", "start_time": "09:00",'
                 b' "end_time": "11:00", "max_slots": 2, "ai_slots": 1, "batch_name": "SA"}', "application/json",
                 mutates=True),
    ControlRoute("PATCH", "/_sandbox/dashboard/windows/a1b2c3d4-e5f6-7890-abcd-ef1234567890", b'{"ai_slots": 1}',
                 "application/json", mutates=True, rule="/_sandbox/dashboard/windows/<slot_id>"),
]
NON_LOOPBACK_ADDRESSES = [
    "10.1.2.3", "192.0.2.2", "2001:db8::1", "fe80::1", "::ffff:10.1.2.3",  # real peers
    "0.0.0.0", "::", "", "localhost", "127.0.0.1.example",  # not a loopback address at all
]
LOOPBACK_ADDRESSES = ["127.0.0.1", "::1", "::ffff:127.0.0.1"]


def limiter_of(app: Any) -> SlidingWindowLimiter:
    return app.extensions[EXTENSION].state.limiter


def move_away_from_the_seed(client: Any) -> None:
    """State that a reset, a world swap, a clock move, a journal clear, a snapshot restored or
    deleted, a session deleted and a forced response deleted would each undo (session s1,
    snapshot s1, of the seed, and forced response force_1, for an appointment never asked for)."""
    assert client.get("/_sandbox/health", headers={"X-Sandbox-Session": "s1"}).status_code == 200
    assert client.post("/_sandbox/snapshots", json={"name": "s1"}).status_code == 201
    assert client.post("/_sandbox/forced-responses",
                       json={"appointment_id": "appt_never", "status": 500}).status_code == 201
    assert client.patch(url(), json=MOVE_AWAY, headers=bearer(WRITE_KEY)).status_code == 200
    assert client.get(url(LAKEVIEW_ID), headers=bearer(LAKEVIEW_KEY)).status_code == 200
    assert client.put("/_sandbox/clock", json={"advance_seconds": 90}).status_code == 200
    # An endpoint wh_1 (nothing listens there; no retries) and one delivery to it.
    assert client.post("/_sandbox/webhooks", json={"url": "http://127.0.0.1:9/hooks", "secret": "whsec_seed_1",
                                                   "retry_delays": []}).status_code == 201
    assert client.patch("/_sandbox/dashboard/appointments/appt_a1b2c3d4e5", json={"notes": "seed"}).status_code == 200


def snapshot(client: Any) -> dict[str, Any]:
    """Everything a control request could change, read from loopback."""
    return {
        "world": data(client.get("/_sandbox/world")),  # appointments and the frozen clock
        "clock": data(client.get("/_sandbox/clock")),
        "journal": data(client.get("/_sandbox/requests")),
        "rate-limited keys": len(limiter_of(client.application)),
        "sessions": [s["name"] for s in data(client.get("/_sandbox/sessions"))["sessions"]],
        "snapshots": data(client.get("/_sandbox/snapshots")),
        "forced responses": data(client.get("/_sandbox/forced-responses")),
        "deliveries": len(data(client.get("/_sandbox/webhooks/deliveries"))),  # their status moves on its own
    }


def assert_refused(status: int, text: str) -> None:
    """A 403 FORBIDDEN envelope carrying nothing of the world (no ids, no keys, no data)."""
    assert status == 403, text
    body = json.loads(text)
    assert set(body) == {"success", "error"} and body["success"] is False, body
    assert set(body["error"]) == {"code", "message"} and body["error"]["code"] == "FORBIDDEN"
    assert "appt_" not in text and "sk_" not in text and "YOUR_API_KEY" not in text


def test_the_routes_here_are_every_control_route_and_method(app) -> None:
    served = {(method, rule.rule) for rule in app.url_map.iter_rules()
              if rule.rule.startswith("/_sandbox/")
              for method in rule.methods - {"HEAD", "OPTIONS"}}
    assert served == {(route.method, route.rule or route.path) for route in CONTROL_ROUTES}


SPOOFED = {"X-Forwarded-For": "127.0.0.1", "X-Real-IP": "127.0.0.1", "Forwarded": "for=127.0.0.1",
           "X-Forwarded-Host": "localhost", "Host": "localhost"}
Case = tuple[ControlRoute, str, dict[str, str]]  # the route, REMOTE_ADDR, the headers added


def failures_of(make_client: Callable[..., Any], cases: list[Case], *, served: bool) -> list[str]:
    """Send each case from the same state (a new app, moved away from the seed), and say what
    went wrong with each, naming it: refused (`served` False) with a 403 that reveals nothing
    and the state unchanged, or served (True) with a 2xx that changes the state exactly when
    the route mutates.

    One app takes case after case for as long as the state stays as it was, which the snapshot
    after each case shows; a case that changed it (a served mutation, or a refusal that failed)
    is followed by a new app. So every case starts where it would with an app of its own, and
    the hundreds of cases cost hundreds of requests rather than hundreds of apps."""
    failures: list[str] = []
    client: Any = None
    before: dict[str, Any] = {}
    for route, address, headers in cases:
        if client is None:
            client = make_client()
            move_away_from_the_seed(client)
            before = snapshot(client)
        case = f"{route} from REMOTE_ADDR={address!r}" + (" with forwarding headers" if headers else "")
        try:
            response = client.open(route.path, environ_base={"REMOTE_ADDR": address}, headers=headers,
                                   **route.flask())
            text = response.get_data(as_text=True)
            if served:
                assert response.status_code in (200, 201), text
            else:
                assert_refused(response.status_code, text)
        except AssertionError as failed:  # the contract-checking client's ContractViolation too
            failures.append(f"{case}: {str(failed)[:500]}")
        changed = snapshot(client) != before
        if changed != (served and route.mutates):
            failures.append(f"{case}: the state {'changed' if changed else 'did not change'}")
        if changed:
            client = None
    return failures


def test_non_loopback_client_is_refused_and_changes_nothing(make_client) -> None:
    """Every control route and method from every non-loopback address (one test of them all:
    see failures_of)."""
    cases = [(route, address, {}) for address in NON_LOOPBACK_ADDRESSES for route in CONTROL_ROUTES]
    assert len(cases) == len(NON_LOOPBACK_ADDRESSES) * len(CONTROL_ROUTES)
    failures = failures_of(make_client, cases, served=False)
    assert not failures, f"{len(failures)} of {len(cases)} cases failed:\n" + "\n".join(failures)


def test_the_same_request_from_loopback_is_served_and_takes_effect(make_client) -> None:
    """What makes the refusals above meaningful: each mutating request does change the state."""
    cases = [(route, address, {}) for address in LOOPBACK_ADDRESSES for route in CONTROL_ROUTES]
    failures = failures_of(make_client, cases, served=True)
    assert not failures, f"{len(failures)} of {len(cases)} cases failed:\n" + "\n".join(failures)


def test_forwarding_headers_do_not_make_a_remote_client_local(make_client) -> None:
    cases = [(route, "203.0.113.9", SPOOFED) for route in CONTROL_ROUTES if route.mutates]
    failures = failures_of(make_client, cases, served=False)
    assert not failures, f"{len(failures)} of {len(cases)} cases failed:\n" + "\n".join(failures)


# -- the same over real sockets: a server bound to a non-loopback address of this machine -----

def _address_candidates() -> Iterator[str]:
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        yield from subprocess.run(["hostname", "-I"], capture_output=True, text=True,
                                  timeout=5).stdout.split()
    with contextlib.suppress(OSError):
        yield from socket.gethostbyname_ex(socket.gethostname())[2]
    with contextlib.suppress(OSError), socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.connect(("192.0.2.1", 9))  # UDP: no packet is sent; picks the outgoing address
        yield probe.getsockname()[0]


def _bindable(address: str) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind((address, 0))
        except OSError:
            return False
    return True


def non_loopback_ipv4() -> str | None:
    """An IPv4 address of this machine, not loopback, that a server can bind; None if none."""
    for candidate in _address_candidates():
        with contextlib.suppress(ValueError):
            ip = ipaddress.ip_address(candidate)
            if ip.version == 4 and not (ip.is_loopback or ip.is_unspecified) and _bindable(candidate):
                return candidate
    return None


@pytest.fixture(scope="module")
def lan_address() -> str:
    address = non_loopback_ipv4()
    if address is None:
        pytest.skip("this machine has no non-loopback IPv4 address to bind a server to")
    return address


class BoundServer(LiveServer):
    """`LiveServer` started with `--host host`, waited for on that address (LiveServer waits on
    127.0.0.1, which a server bound elsewhere does not answer). Stopping twice is harmless."""

    def __init__(self, host: str, *args: str) -> None:
        self.host = host
        self._output: tuple[str, str] | None = None
        super().__init__("--host", host, *args)
        self.url = self.url_via(self._reachable_at())

    def _reachable_at(self) -> str:
        return "127.0.0.1" if self.host == "0.0.0.0" else self.host

    def url_via(self, address: str) -> str:
        return f"http://{address}:{self.port}"

    def _wait_ready(self, timeout: float = 20.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                out, err = self.stop()
                raise RuntimeError(f"server exited {self.process.returncode}:\n{out}\n{err}")
            try:
                with socket.create_connection((self._reachable_at(), self.port), timeout=0.2):
                    return ""
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"server did not start on {self.host}:{self.port}")

    def stop(self) -> tuple[str, str]:
        if self._output is None:
            self._output = super().stop()
        return self._output


@pytest.fixture
def bound_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., BoundServer]]:
    monkeypatch.delenv("HUSKYVOICE_SANDBOX_ADMIN_TOKEN", raising=False)  # serve reads it
    servers: list[BoundServer] = []

    def start(host: str, *args: str) -> BoundServer:
        server = BoundServer(host, *args)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


def demo_appointment(http: Callable[..., Any], base: str) -> dict[str, Any]:
    response = http("GET", f"{base}{url()}", headers=bearer(WRITE_KEY))
    assert response.status_code == 200
    return response.json()["data"]


def move_away_over_http(http: Callable[..., Any], base: str) -> None:
    response = http("PATCH", f"{base}{url()}", json=MOVE_AWAY, headers=bearer(WRITE_KEY))
    assert response.status_code == 200 and response.json()["data"]["session"] == "Afternoon"


@pytest.mark.live
def test_a_server_on_a_lan_address_refuses_its_peers_every_control_request(
        bound_server, lan_address: str, checked_http) -> None:
    server = bound_server(lan_address)
    move_away_over_http(checked_http, server.url)  # the API itself serves anyone
    for route in CONTROL_ROUTES:
        response = checked_http(route.method, server.url + route.path, **route.requests())
        assert_refused(response.status_code, response.text)
    # Neither the reset nor the world swap happened, and the clock did not move (a PATCH stamps
    # updated_at with it).
    moved = demo_appointment(checked_http, server.url)
    assert (moved["session"], moved["assigned_doctor"]) == ("Afternoon", "Dr. Kept")
    response = checked_http("PATCH", f"{server.url}{url()}", json={"notes": "again"},
                            headers=bearer(WRITE_KEY))
    assert response.json()["data"]["updated_at"] == SEED_CLOCK
    # The server saw the requests come from the LAN address, not from loopback.
    _, log = server.stop()
    for route in CONTROL_ROUTES:
        assert f'{lan_address} "{route}" 403 FORBIDDEN' in log, log


@pytest.mark.live
def test_a_wildcard_server_tells_loopback_and_lan_peers_apart(
        bound_server, lan_address: str, checked_http) -> None:
    server = bound_server("0.0.0.0")
    local = checked_http("GET", server.url_via("127.0.0.1") + "/_sandbox/health")
    assert local.status_code == 200
    remote = checked_http("GET", server.url_via(lan_address) + "/_sandbox/health")
    assert_refused(remote.status_code, remote.text)


WRONG_TOKENS = [None, "", "wrong", ADMIN_TOKEN[:-1], ADMIN_TOKEN + "x", ADMIN_TOKEN.upper()]


@pytest.mark.live
@pytest.mark.parametrize("bind", ["lan", "wildcard"])
def test_with_an_admin_token_every_peer_needs_the_right_token(
        bound_server, lan_address: str, checked_http, bind: str) -> None:
    """Bound to the LAN address, its peers; bound to 0.0.0.0, LAN and loopback peers alike."""
    host = lan_address if bind == "lan" else "0.0.0.0"
    server = bound_server(host, "--admin-token", ADMIN_TOKEN)
    peers = [lan_address] + (["127.0.0.1"] if bind == "wildcard" else [])
    for peer in peers:
        base = server.url_via(peer)
        move_away_over_http(checked_http, base)
        for sent in WRONG_TOKENS:
            headers = {} if sent is None else {ADMIN_HEADER: sent}
            for path, method in (("/_sandbox/health", "GET"), ("/_sandbox/reset", "POST")):
                response = checked_http(method, base + path, headers=headers)
                assert_refused(response.status_code, response.text)
        assert demo_appointment(checked_http, base)["session"] == "Afternoon"  # not reset
        right = {ADMIN_HEADER: ADMIN_TOKEN}
        assert checked_http("GET", base + "/_sandbox/health", headers=right).status_code == 200
        assert checked_http("POST", base + "/_sandbox/reset", headers=right).status_code == 200
        assert demo_appointment(checked_http, base)["session"] == "Morning"  # reset


# == 2. keys are compared in constant time =====================================================

class Tripwire(str):
    """A string that records (and fails) any use of it as a string to compare, hash or index.

    As the right operand of `==` against a plain str, Python tries a subclass's reflected
    `__eq__` first, so `stored == key` trips as surely as `key == stored` does.
    """

    calls: list[str]

    def __new__(cls, value: str) -> Tripwire:
        tripwire = super().__new__(cls, value)
        tripwire.calls = []
        return tripwire


def _trip(name: str) -> Callable[..., Any]:
    def method(self: Tripwire, *args: Any) -> Any:
        self.calls.append(name)
        raise AssertionError(f"a secret was used as a plain string: {name}")

    return method


for _name in ("__eq__", "__ne__", "__lt__", "__le__", "__gt__", "__ge__", "__hash__",
              "__contains__", "__getitem__", "__iter__", "startswith", "endswith", "find"):
    setattr(Tripwire, _name, _trip(_name))


@pytest.mark.parametrize("naive", [
    lambda key: {WRITE_KEY: 1}.get(key),
    lambda key: key == WRITE_KEY,
    lambda key: key == WRITE_KEY,
    lambda key: any(a == b for a, b in zip(key, WRITE_KEY, strict=False)),
], ids=["dict lookup", "stored == key", "key == stored", "character by character"])
def test_the_tripwire_catches_a_key_compared_as_a_string(naive: Callable[[str], Any]) -> None:
    probe = Tripwire(WRITE_KEY)
    with pytest.raises(AssertionError, match="plain string"):
        naive(probe)
    assert probe.calls


def known_keys(world: Any) -> dict[str, str]:
    """Every key of a loaded world, to its organization's id."""
    return {k.key: org.id for org in world.organizations for k in org.api_keys}


@pytest.mark.parametrize("key", [*DEFAULT_KEYS, WRITE_KEY[:-1], WRITE_KEY + "x", WRITE_KEY.upper(),
                                 "sk_test_unknown", "", "k" * 200])
def test_api_keys_are_looked_up_by_their_sha256_digest_never_compared(default_world,
                                                                      key: str) -> None:
    probe = Tripwire(key)
    credential = default_world.new_store().authenticate(probe)
    assert probe.calls == []
    owner = known_keys(default_world).get(key)
    if owner is None:
        assert credential is None
    else:
        assert credential is not None and credential.organization.id == owner
        assert credential.digest == hashlib.sha256(key.encode("utf-8")).digest()


@pytest.mark.parametrize("sent", [ADMIN_TOKEN, *WRONG_TOKENS, "x" * len(ADMIN_TOKEN)])
def test_the_admin_token_goes_through_compare_digest_right_or_wrong(
        make_client, monkeypatch: pytest.MonkeyPatch, sent: str | None) -> None:
    compared: list[tuple[bytes, bytes]] = []

    def recording_compare_digest(a: bytes, b: bytes) -> bool:
        compared.append((a, b))
        return hmac.compare_digest(a, b)

    monkeypatch.setattr(sandbox_access, "hmac", SimpleNamespace(compare_digest=recording_compare_digest))
    token = Tripwire(ADMIN_TOKEN)
    client = make_client(admin_token=token)
    headers = {} if sent is None else {ADMIN_HEADER: sent}
    response = client.get("/_sandbox/health", headers=headers)
    assert response.status_code == (200 if sent == ADMIN_TOKEN else 403)
    assert compared == [((sent or "").encode(), ADMIN_TOKEN.encode())]
    assert token.calls == []


# == 3. one organization cannot reach another's appointments ===================================

@dataclass(frozen=True)
class CrossOrgWrite:
    key: str  # a key of the other organization
    target: str  # an appointment it does not own
    body: dict[str, Any]
    owner_key: str
    owner_gets: int  # what the same body gets from the owner: proves it would do something


CROSS_ORG_READS = {"lakeview key, demo appointment": (LAKEVIEW_KEY, DOC_ID),
                   "docs key, lakeview appointment": (DOC_KEY, LAKEVIEW_ID),
                   "read-only key, lakeview appointment": (READ_KEY, LAKEVIEW_ID)}
CROSS_ORG_WRITES = {
    "lakeview moves demo's into a free window": CrossOrgWrite(
        LAKEVIEW_KEY, DOC_ID, {"appointment_date": "2026-06-15T14:30:00.000Z"}, WRITE_KEY, 200),
    "lakeview moves demo's into a full window": CrossOrgWrite(
        LAKEVIEW_KEY, DOC_ID, {"appointment_date": "2026-06-16T10:00:00.000Z"}, WRITE_KEY, 409),
    "lakeview moves demo's onto a duplicate": CrossOrgWrite(
        LAKEVIEW_KEY, DOC_ID, {"appointment_date": "2026-06-22T09:30:00.000Z"}, WRITE_KEY, 409),
    "lakeview moves demo's into an inactive window": CrossOrgWrite(
        LAKEVIEW_KEY, DOC_ID, {"appointment_date": "2026-06-15T17:30:00.000Z"}, WRITE_KEY, 409),
    "lakeview cancels demo's": CrossOrgWrite(
        LAKEVIEW_KEY, DOC_ID, {"status": "cancelled"}, WRITE_KEY, 200),
    "lakeview edits demo's doctor and notes": CrossOrgWrite(
        LAKEVIEW_KEY, DOC_ID, {"assigned_doctor": "Dr. Mallory", "notes": "x", "extra": 1},
        WRITE_KEY, 200),
    "demo moves lakeview's into a free window": CrossOrgWrite(  # 14:30 in India
        WRITE_KEY, LAKEVIEW_ID, {"appointment_date": "2026-06-15T09:00:00.000Z"}, LAKEVIEW_KEY, 200),
    "docs key moves lakeview's outside availability": CrossOrgWrite(  # 06:30 in India
        DOC_KEY, LAKEVIEW_ID, {"appointment_date": "2026-06-15T01:00:00.000Z"}, LAKEVIEW_KEY, 422),
    "docs key completes lakeview's": CrossOrgWrite(
        DOC_KEY, LAKEVIEW_ID, {"status": "completed", "token": "T-1"}, LAKEVIEW_KEY, 200),
}


def assert_same_as_missing(other: Any, missing: Any, other_id: str) -> None:
    """The answer for another organization's id is the answer for a missing id, id aside."""
    error_of(other, 404, "NOT_FOUND")
    error_of(missing, 404, "NOT_FOUND")
    assert other.get_data(as_text=True).replace(other_id, MISSING_ID) == \
        missing.get_data(as_text=True)
    assert sorted(other.headers.items()) == sorted(missing.headers.items())


@pytest.mark.parametrize("key, target", CROSS_ORG_READS.values(), ids=CROSS_ORG_READS.keys())
def test_get_of_another_organizations_appointment_is_a_missing_ids_404(
        client, dump, key: str, target: str) -> None:
    before = dump(client)
    other = client.get(url(target), headers=bearer(key))
    missing = client.get(url(MISSING_ID), headers=bearer(key))
    assert_same_as_missing(other, missing, target)
    assert dump(client) == before


@pytest.mark.parametrize("case", CROSS_ORG_WRITES.values(), ids=CROSS_ORG_WRITES.keys())
def test_patch_of_another_organizations_appointment_is_a_missing_ids_404_and_changes_nothing(
        client, dump, case: CrossOrgWrite) -> None:
    before = dump(client)
    other = client.patch(url(case.target), json=case.body, headers=bearer(case.key))
    missing = client.patch(url(MISSING_ID), json=case.body, headers=bearer(case.key))
    assert_same_as_missing(other, missing, case.target)
    after = dump(client)
    assert appointment_in(after, case.target) == appointment_in(before, case.target)
    assert after == before
    owner = client.patch(url(case.target), json=case.body, headers=bearer(case.owner_key))
    assert owner.status_code == case.owner_gets, owner.get_json()


# == 4. and 5. keys never come back: not in error answers, not in the journal ==================

SECRET_WRITE = "sk_live_Wq7Zp3Lx9Rt2Vn8Kd4Hs"
SECRET_READ = "sk_live_Rd5Mj8Tq2Xc7Pb3Gz9Lf"
SECRET_NO_SCOPE = "sk_live_Ns4Kw9Vb6Yh1Qe7Tm3Ca"
SECRET_LIMITED = "sk_live_Lm2Fx8Dg5Jr3Wc9Pk6Sb"  # Lakeview's: 5 a minute
SECRET_UNKNOWN = "sk_live_Uk3Bn7Hq1Zt5Xm9Rv2Ej"
SECRET_LONG = "sk_live_" + (hashlib.sha512(b"the 200-character key").hexdigest() * 2)[:192]
assert len(SECRET_LONG) == 200


@pytest.fixture
def secrets_client(make_client) -> Any:
    """The default world with distinctive keys of every kind added."""
    world = default_world_doc()
    demo, lakeview = world["organizations"]
    demo["api_keys"] += [
        {"key": SECRET_WRITE, "scopes": ["appointments:read", "appointments:write"]},
        {"key": SECRET_READ, "scopes": ["appointments:read"]},
        {"key": SECRET_NO_SCOPE, "scopes": ["calls:read"]},
    ]
    lakeview["api_keys"].append(
        {"key": SECRET_LIMITED, "scopes": ["appointments:read", "appointments:write"]})
    return make_client(world)


@dataclass(frozen=True)
class KeyedRequest:
    authorization: str
    secrets: tuple[str, ...]  # the keys whose pieces must not come back
    status: int
    code: str
    method: str = "PATCH"
    target: str = DOC_ID
    body: Any = None  # default: a valid notes-only PATCH
    sent_before: int = 0  # identical requests sent first (to use up a rate limit)

    def send(self, client: Any) -> Any:
        headers = {"Authorization": self.authorization}
        if self.method == "GET":
            return client.get(url(self.target), headers=headers)
        body = {"notes": "hello"} if self.body is None else self.body
        return client.patch(url(self.target), json=body, headers=headers)


def unauthorized(authorization: str, *secrets: str) -> KeyedRequest:
    return KeyedRequest(authorization, secrets, 401, "UNAUTHORIZED")


KEYED_REQUESTS = {
    "unknown key": unauthorized(f"Bearer {SECRET_UNKNOWN}", SECRET_UNKNOWN),
    "unknown key, lower-case scheme": unauthorized(f"bearer {SECRET_UNKNOWN}", SECRET_UNKNOWN),
    "unknown key, padded": unauthorized(f"Bearer    {SECRET_UNKNOWN}   ", SECRET_UNKNOWN),
    "unknown 200-character key": unauthorized(f"Bearer {SECRET_LONG}", SECRET_LONG),
    "key without a scheme": unauthorized(SECRET_WRITE, SECRET_WRITE),
    "basic scheme": unauthorized(f"Basic {SECRET_WRITE}", SECRET_WRITE),
    "token scheme": unauthorized(f"Token {SECRET_UNKNOWN}", SECRET_UNKNOWN),
    "two keys": unauthorized(f"Bearer {SECRET_WRITE} {SECRET_UNKNOWN}", SECRET_WRITE, SECRET_UNKNOWN),
    "key split by a space": unauthorized(f"Bearer {SECRET_WRITE[:14]} {SECRET_WRITE[14:]}",
                                         SECRET_WRITE),
    "known key with a suffix": unauthorized(f"Bearer {SECRET_WRITE}x", SECRET_WRITE),
    "known key less its last character": unauthorized(f"Bearer {SECRET_WRITE[:-1]}", SECRET_WRITE),
    "known key in upper case": unauthorized(f"Bearer {SECRET_WRITE.upper()}", SECRET_WRITE),
    "read-only key, PATCH": KeyedRequest(f"Bearer {SECRET_READ}", (SECRET_READ,), 403,
                                         "INSUFFICIENT_SCOPE"),
    "key without appointment scopes, GET": KeyedRequest(
        f"Bearer {SECRET_NO_SCOPE}", (SECRET_NO_SCOPE,), 403, "INSUFFICIENT_SCOPE", "GET"),
    "rate-limited key": KeyedRequest(f"Bearer {SECRET_LIMITED}", (SECRET_LIMITED,), 429,
                                     "RATE_LIMIT_EXCEEDED", "GET", LAKEVIEW_ID,
                                     sent_before=LAKEVIEW_LIMIT),
    "valid key, invalid body": KeyedRequest(f"Bearer {SECRET_WRITE}", (SECRET_WRITE,), 400,
                                            "VALIDATION_ERROR", body={"status": "rescheduled"}),
    "valid key, missing appointment": KeyedRequest(f"Bearer {SECRET_WRITE}", (SECRET_WRITE,), 404,
                                                   "NOT_FOUND", target=MISSING_ID),
    "valid key, full window": KeyedRequest(f"Bearer {SECRET_WRITE}", (SECRET_WRITE,), 409,
                                           "SLOT_FULL",
                                           body={"appointment_date": "2026-06-16T10:00:00.000Z"}),
    "valid key, outside availability": KeyedRequest(
        f"Bearer {SECRET_WRITE}", (SECRET_WRITE,), 422, "OUTSIDE_AVAILABILITY",
        body={"appointment_date": "2026-06-15T08:00:00.000Z"}),
}


def pieces(secret: str, width: int) -> set[str]:
    """Every substring of `secret` that is `width` long (the whole secret if it is shorter)."""
    width = min(width, len(secret))
    return {secret[i:i + width] for i in range(len(secret) - width + 1)}


def leaked(text: str, secret: str, width: int, *, ignore_case: bool = False) -> list[str]:
    """The pieces of `secret` of `width` characters found in `text`."""
    if ignore_case:
        text, secret = text.lower(), secret.lower()
    return sorted(piece for piece in pieces(secret, width) if piece in text)


@pytest.mark.parametrize("case", KEYED_REQUESTS.values(), ids=KEYED_REQUESTS.keys())
def test_error_answers_never_echo_a_key_or_a_piece_of_one(secrets_client,
                                                         case: KeyedRequest) -> None:
    for _ in range(case.sent_before):
        assert case.send(secrets_client).status_code == 200
    response = case.send(secrets_client)
    error_of(response, case.status, case.code)
    exposed = response.get_data(as_text=True) + "\n" + "\n".join(
        f"{name}: {value}" for name, value in response.headers.items())
    for secret in case.secrets:
        assert leaked(exposed, secret, 12, ignore_case=True) == [], exposed


def test_the_journal_never_keeps_more_than_a_third_of_any_key(secrets_client) -> None:
    sent = 0
    for case in KEYED_REQUESTS.values():
        for _ in range(case.sent_before + 1):
            case.send(secrets_client)
            sent += 1
    for key in (*DEFAULT_KEYS, SECRET_WRITE):  # accepted keys too
        secrets_client.get(url(LAKEVIEW_ID if key == LAKEVIEW_KEY else DOC_ID), headers=bearer(key))
        sent += 1
    journal = secrets_client.get("/_sandbox/requests")
    entries = data(journal)
    assert len(entries) == sent
    accepted = [entry for entry in entries if entry["organization"]]
    assert accepted and all(entry["key"] for entry in accepted)  # recorded, masked
    text = journal.get_data(as_text=True)
    keys = {*DEFAULT_KEYS, SECRET_WRITE, SECRET_READ, SECRET_NO_SCOPE, SECRET_LIMITED,
            SECRET_UNKNOWN, SECRET_LONG}
    for key in keys:
        assert key not in text
        assert leaked(text, key, len(key) // 3 + 1) == [], key
        assert leaked(text, key, 12) == [], key


# == 6. rate-limit state is bounded ============================================================

def test_unknown_keys_leave_no_rate_limit_state_however_many(make_app) -> None:
    app = make_app()
    client = app.test_client()
    limiter = limiter_of(app)
    world = data(client.get("/_sandbox/world"))
    world_keys = [k["key"] for org in world["organizations"] for k in org["api_keys"]]

    def send_unknown(count: int, tag: str) -> None:
        for n in range(count):
            headers = bearer(f"sk_test_unknown_{tag}_{n:05d}")
            response = (client.get(url(LAKEVIEW_ID), headers=headers) if n % 2 else
                        client.patch(url(LAKEVIEW_ID), json={"notes": "x"}, headers=headers))
            assert response.status_code == 401

    send_unknown(5000, "a")
    assert len(limiter) == 0  # only authenticated keys are counted
    for key in world_keys:
        client.get(url(LAKEVIEW_ID), headers=bearer(key))
    tracked = len(limiter)
    assert 1 <= tracked <= len(world_keys)  # Lakeview's key has history now
    send_unknown(2000, "b")
    assert len(limiter) == tracked


def test_a_known_keys_rate_limit_state_never_holds_more_than_its_limit(client) -> None:
    """Rejected requests leave no trace: 1,000 of them at 30 s do not delay the key at 60 s."""
    headers = bearer(LAKEVIEW_KEY)

    def get() -> Any:
        return client.get(url(LAKEVIEW_ID), headers=headers)

    def advance(seconds: int) -> None:
        assert client.put("/_sandbox/clock", json={"advance_seconds": seconds}).status_code == 200

    assert [get().status_code for _ in range(LAKEVIEW_LIMIT)] == [200] * LAKEVIEW_LIMIT  # at 0 s
    advance(30)
    for _ in range(1000):
        response = get()
        error_of(response, 429, "RATE_LIMIT_EXCEEDED")
        # The 0 s requests leave at 60 s: 30 s from now, less the real time these requests take
        # (the limiter counts the sandbox's clock plus real time gone by since it was set).
        assert 1 <= int(response.headers["Retry-After"]) <= 30
    advance(30)  # at 60 s: only the five accepted requests were counted, and they aged out
    assert [get().status_code for _ in range(LAKEVIEW_LIMIT)] == [200] * LAKEVIEW_LIMIT
    response = get()
    error_of(response, 429, "RATE_LIMIT_EXCEEDED")
    assert response.headers["Retry-After"] == "60"


def test_a_journal_entry_is_bounded_whatever_the_request(client) -> None:
    huge = "x" * 100_000
    client.get(url(MISSING_ID + huge), headers=bearer(READ_KEY))
    client.get(url(), query_string={"q": huge}, headers=bearer(READ_KEY))
    client.patch(url(), data='{"notes": "hi"}', headers=bearer(WRITE_KEY),
                 content_type=f"application/json; x={huge}")
    entries = data(client.get("/_sandbox/requests"))
    assert len(entries) == 3
    assert [len(json.dumps(entry)) <= 4 * MAX_BODY_CHARS for entry in entries] == [True] * 3
