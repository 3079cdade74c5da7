"""`huskyvoice-sandbox replay`: a recording's requests sent, in order, to the sandbox serving the
mirror saved with it, and every answer compared with the one the deployment gave.

What the sandbox cannot know is related rather than compared:
- ids the deployment created during the recording: each is paired with the id the sandbox
  created for the same request, and later requests and answers are read through that pairing;
- the timestamps of appointments the recording wrote to (the two sides stamped them at
  different instants): whether each moved since that appointment's last answer is compared
  instead (`updated_at` moves on a change and only then, `created_at` never);
- the keys: each label of the recording becomes a key with the scopes its answers show (an
  operation answered with anything but 401 or 403 grants that operation's scopes), of the
  mirrored organization, or of another one (with the services its answers listed) when it was
  answered 404 for an appointment another label read, or listed other services than the
  mirror's; a key the deployment answered 401 stays unknown to the sandbox.
Time follows the deployment: before each request the sandbox's clock is set to the moment its
answer's `Date` header gave, moved on by at least the time the recording saw pass since the
last request (the header has whole seconds), never back.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ..domain.clock import parse_utc
from ..spec.contract import Contract
from .compare import ID_FIELDS, differences, summary
from .recording import Exchange, Recording
from .reply import Reply
from .wire import Mirrored

UNKNOWN_KEY = "sk_replay_unknown_{label}"
KEY = "sk_replay_{label}"


@dataclass(frozen=True)
class Row:
    """One exchange of the recording, replayed."""

    exchange: Exchange
    operation: str | None
    sent: Sent  # the request as the sandbox got it
    answer: Reply  # the sandbox's
    differences: tuple[str, ...] = ()

    @property
    def recorded(self) -> str:
        """The deployment's answer, in short."""
        return summary(self.exchange.answer)

    @property
    def sandbox(self) -> str:
        return summary(self.answer)


@dataclass(frozen=True)
class Sent:
    path: str
    body: bytes | None
    headers: dict[str, str]


@dataclass
class Outcome:
    recording: Recording
    rows: list[Row] = field(default_factory=list)
    keys: dict[str, list[str] | None] = field(default_factory=dict)  # label -> scopes (None: unknown key)
    others: set[str] = field(default_factory=set)  # the labels of another organization's keys
    other_services: list[dict[str, str]] = field(default_factory=list)  # as they listed them
    created: dict[str, str] = field(default_factory=dict)  # the deployment's id -> the sandbox's
    rate_limit: int | None = None

    @property
    def different(self) -> list[Row]:
        return [row for row in self.rows if row.differences]


def replay(recording: Recording, contract: Contract | None = None) -> Outcome:
    contract = contract or Contract()
    operations = [_operation(contract, exchange) for exchange in recording.exchanges]
    others, services = _other_organization(recording.exchanges, recording.mirror)
    outcome = Outcome(recording, keys=_keys(recording.exchanges, operations, contract),
                      others=others, other_services=services,
                      rate_limit=60 if any(e.answer.status == 429 for e in recording.exchanges) else None)
    moments = _moments(recording.exchanges)
    sandbox = Mirrored(world(recording.mirror, outcome), outcome.rate_limit, contract,
                       now=moments[0] if moments else None)
    written = frozenset(_written(recording.exchanges))
    stamps = _Stamps()
    for exchange, operation, moment in zip(recording.exchanges, operations, moments, strict=True):
        sandbox.at(moment)
        sent = _sent(exchange, outcome)
        response = sandbox.client.open(sent.path, method=exchange.method, data=sent.body, headers=sent.headers)
        ours = Reply.of(response.status_code, response.headers.items(), response.get_data())
        _pair_created(exchange, ours, outcome.created)
        mine = _as_recorded(ours, outcome.created)
        found = differences(exchange.answer, mine, written=written)
        found += stamps.moves(exchange.answer, mine, written) if not found else []
        outcome.rows.append(Row(exchange, operation, sent, ours, tuple(found)))
    return outcome


def _moments(exchanges: tuple[Exchange, ...]) -> list[datetime]:
    """The deployment's moment of each exchange: its answer's Date (the recorded time without
    one), moved on by at least the time the recording saw pass since the last request (the
    header has whole seconds)."""
    moments: list[datetime] = []
    latest = last = None
    for exchange in exchanges:
        recorded = parse_utc(exchange.time)
        moment = exchange.answer.said_time or recorded
        if latest is not None and last is not None:
            moment = max(moment, latest + (recorded - last))
        latest = moment if latest is None else max(latest, moment)
        last = recorded
        moments.append(moment)
    return moments


def _sent(exchange: Exchange, outcome: Outcome) -> Sent:
    """The recorded request as the sandbox must get it: its ids where the client used the
    deployment's created ones, its key where the recording has a label."""
    path, body = exchange.path, exchange.body
    for theirs, mine in outcome.created.items():
        path = path.replace(theirs, mine)
        body = body.replace(theirs.encode(), mine.encode()) if body else body
    headers = {name: value for name, value in exchange.headers.items() if name.lower() != "x-sandbox-session"}
    if exchange.authorization is not None:
        headers["Authorization"] = _authorization(exchange, outcome.keys)
    return Sent(path, body, headers)


class _Stamps:
    """The timestamps each side last gave each written appointment, to compare how they move."""

    def __init__(self) -> None:
        self.last: dict[tuple[str, str], tuple[Any, Any]] = {}

    def moves(self, theirs: Reply, mine: Reply, written: frozenset[str]) -> list[str]:
        if not (200 <= theirs.status < 300 and 200 <= mine.status < 300):
            return []
        found = []
        ours = {a["appointment_id"]: a for a in _appointments(mine.json)}
        for appointment in _appointments(theirs.json):
            appointment_id = appointment["appointment_id"]
            if appointment_id in written and appointment_id in ours:
                for name, moved, moved_here in self._compare(appointment_id, appointment, ours[appointment_id]):
                    if moved != moved_here:
                        found.append(f"{appointment_id}: {name} {'moved' if moved else 'stayed'} on the deployment, "
                                     f"{'moved' if moved_here else 'stayed'} on the sandbox since its last answer")
        return found

    def _compare(self, appointment_id: str, theirs: dict[str, Any],
                 mine: dict[str, Any]) -> list[tuple[str, bool, bool]]:
        compared = []
        then, now = self.last.get(("theirs", appointment_id)), (theirs.get("created_at"), theirs.get("updated_at"))
        then_here, here = self.last.get(("mine", appointment_id)), (mine.get("created_at"), mine.get("updated_at"))
        if then is not None and then_here is not None:
            compared = [(name, then[i] != now[i], then_here[i] != here[i])
                        for i, name in enumerate(("created_at", "updated_at"))]
        self.last[("theirs", appointment_id)], self.last[("mine", appointment_id)] = now, here
        return compared


def _appointments(body: Any) -> list[dict[str, Any]]:
    """The appointment objects an answer holds (`data`, or its list)."""
    data = body.get("data") if isinstance(body, dict) else None
    items = data if isinstance(data, list) else [data]
    return [item for item in items if isinstance(item, dict) and isinstance(item.get("appointment_id"), str)
            and "updated_at" in item]


def _operation(contract: Contract, exchange: Exchange) -> str | None:
    """The operation the request was for, as the sandbox routes it (None: no operation's)."""
    op = contract.operation_for(exchange.method, exchange.path.split("?", 1)[0])
    return op.operation_id if op else None


def _keys(exchanges: tuple[Exchange, ...], operations: list[str | None],
          contract: Contract) -> dict[str, list[str] | None]:
    """Each label's scopes, as the deployment's answers show them; None: a key it did not know."""
    granted: dict[str, set[str]] = {}
    unknown: set[str] = set()
    for exchange, operation in zip(exchanges, operations, strict=True):
        label = exchange.label
        if label is None:
            continue
        granted.setdefault(label, set())
        if exchange.answer.status == 401:
            unknown.add(label)
        elif operation is not None and exchange.answer.status != 403:
            granted[label] |= set(contract.operations[operation].scope_sets[0])
    return {label: None if label in unknown else sorted(scopes) for label, scopes in granted.items()}


def _other_organization(exchanges: tuple[Exchange, ...],
                        mirror: dict[str, Any]) -> tuple[set[str], list[dict[str, str]]]:
    """Labels of another organization's keys, and the services one of them listed."""
    mine = [{"service_id": s["id"], "name": s["name"]} for s in mirror["organizations"][0].get("services", [])]
    read: dict[str, set[str]] = {}
    missed: dict[str, set[str]] = {}
    others: set[str] = set()
    services: list[dict[str, str]] = []
    for exchange in exchanges:
        label, route = exchange.label, exchange.path.split("?", 1)[0]
        if exchange.method != "GET" or label is None:
            continue
        if route == "/v1/services" and exchange.answer.status == 200 and exchange.answer.data != mine:
            others.add(label)
            services = services or list(exchange.answer.data or [])
        elif route.startswith("/v1/appointments/") and exchange.answer.status == 200:
            read.setdefault(label, set()).add(route)
        elif route.startswith("/v1/appointments/") and exchange.answer.code == "NOT_FOUND":
            missed.setdefault(label, set()).add(route)
    others |= {label for label, routes in missed.items()
               if any(routes & found for other, found in read.items() if other != label)}
    return others, services


def world(mirror: dict[str, Any], outcome: Outcome) -> dict[str, Any]:
    """The mirror, with a key for each label of the recording and the rate limit it showed."""
    world = copy.deepcopy(mirror)
    org = world["organizations"][0]
    org["rate_limit_per_minute"] = outcome.rate_limit
    keys = {label: scopes for label, scopes in outcome.keys.items() if scopes is not None}
    org["api_keys"] = [*org.get("api_keys", []), *({"key": KEY.format(label=label), "scopes": scopes}
                                                   for label, scopes in keys.items() if label not in outcome.others)]
    others = [{"key": KEY.format(label=label), "scopes": scopes} for label, scopes in keys.items()
              if label in outcome.others]
    if others:
        world["organizations"].append({
            "id": "org_replay_other", "name": "Another organization", "timezone": org["timezone"], "api_keys": others,
            "services": [{"id": s["service_id"], "name": s["name"]} for s in outcome.other_services]})
    return world


def _written(exchanges: tuple[Exchange, ...]) -> set[str]:
    """The appointments the recording wrote to: their timestamps are not compared."""
    found = set()
    for exchange in exchanges:
        if exchange.method != "GET" and 200 <= exchange.answer.status < 300:
            found |= {value for name, value in _ids(exchange.answer.json)}
            found.add(exchange.path.split("?", 1)[0].rsplit("/", 1)[-1])
    return found


def _ids(body: Any) -> list[tuple[str, str]]:
    """The ids an answer gives at its top level and in its `data` object."""
    found = []
    for part in (body, body.get("data") if isinstance(body, dict) else None):
        if isinstance(part, dict):
            found += [(name, part[name]) for name in ID_FIELDS if isinstance(part.get(name), str)]
    return found


def _pair_created(exchange: Exchange, ours: Reply, created: dict[str, str]) -> None:
    """After a create answered on both sides, the deployment's new ids and the sandbox's pair up."""
    if exchange.method != "POST" or not (200 <= exchange.answer.status < 300 and 200 <= ours.status < 300):
        return
    theirs, mine = dict(_ids(exchange.answer.json)), dict(_ids(ours.json))
    for name, value in theirs.items():
        if name in mine and mine[name] != value:
            created[value] = mine[name]


def _as_recorded(reply: Reply, created: dict[str, str]) -> Reply:
    """The sandbox's answer with its ids written as the deployment's paired ones."""
    if not created or reply.json is None:
        return reply
    back = {mine: theirs for theirs, mine in created.items()}
    text = reply.text
    for mine, theirs in back.items():
        text = text.replace(f'"{mine}"', f'"{theirs}"')
    return Reply(reply.status, reply.headers, text.encode("utf-8"))


def _authorization(exchange: Exchange, keys: dict[str, list[str] | None]) -> str:
    """The recorded header with the label's key in the sandbox in its place."""
    assert exchange.authorization is not None and exchange.label is not None
    label = exchange.label
    key = (UNKNOWN_KEY if keys.get(label) is None else KEY).format(label=label)
    return exchange.authorization[:len(exchange.authorization) - len(label)] + key
