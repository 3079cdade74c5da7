"""Options, the target, and the console report of the contract kit.

Every option can also come from the environment (for CI secrets):

  --base-url URL          HUSKYVOICE_BASE_URL        the deployment; absent = the sandbox in-process
  --api-key KEY           HUSKYVOICE_API_KEY         a key with appointments:read and :write
  --read-only-key KEY     HUSKYVOICE_READ_ONLY_KEY   a key without appointments:write (403 checks)
  --allow-writes          HUSKYVOICE_ALLOW_WRITES=1  let PATCHes reach real appointments ...
  --appointment-id ID     HUSKYVOICE_APPOINTMENT_IDS ... only these (repeatable / comma-separated)
  --admin-token T         HUSKYVOICE_SANDBOX_ADMIN_TOKEN  for a sandbox started with --admin-token
  --seed N                HUSKYVOICE_CONTRACT_SEED   generation seed (default 20260615)
  --examples N            HUSKYVOICE_CONTRACT_EXAMPLES  generated cases per operation (default 50)
"""

from __future__ import annotations

import os
from typing import Any, Iterator

import pytest
import schemathesis

from contract_tests.coverage import Coverage
from contract_tests.schemas import build_schema
from contract_tests.target import Target
from sandbox.spec.contract import Contract

DEFAULT_SEED = 20260615
DEFAULT_EXAMPLES = 50
_STATE: dict[str, Any] = {}  # the session's target and coverage, for the hooks below


def _env(name: str) -> str | None:
    value = os.environ.get(name)
    return value if value else None


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("huskyvoice contract kit")
    group.addoption("--base-url", default=_env("HUSKYVOICE_BASE_URL"),
                    help="Deployment to check, e.g. https://staging.example.com (default: the "
                         "sandbox in-process).")
    group.addoption("--api-key", default=_env("HUSKYVOICE_API_KEY"),
                    help="API key with appointments:read and appointments:write.")
    group.addoption("--read-only-key", default=_env("HUSKYVOICE_READ_ONLY_KEY"),
                    help="API key without appointments:write, for the 403 checks.")
    group.addoption("--allow-writes", action="store_true",
                    default=os.environ.get("HUSKYVOICE_ALLOW_WRITES") == "1",
                    help="Allow PATCHes that can change appointments, only to --appointment-id.")
    group.addoption("--appointment-id", action="append", default=None,
                    help="A disposable appointment the kit may read (and, with --allow-writes, "
                         "change). Repeatable.")
    group.addoption("--admin-token", default=_env("HUSKYVOICE_SANDBOX_ADMIN_TOKEN"),
                    help="Admin token of a sandbox started with --admin-token.")
    group.addoption("--seed", type=int,
                    default=int(_env("HUSKYVOICE_CONTRACT_SEED") or DEFAULT_SEED),
                    help=f"Seed of the generated cases (default {DEFAULT_SEED}).")
    group.addoption("--examples", type=int,
                    default=int(_env("HUSKYVOICE_CONTRACT_EXAMPLES") or DEFAULT_EXAMPLES),
                    help=f"Generated cases per operation (default {DEFAULT_EXAMPLES}).")


def pytest_configure(config: pytest.Config) -> None:
    ids = config.getoption("--appointment-id") or [
        i for i in (_env("HUSKYVOICE_APPOINTMENT_IDS") or "").split(",") if i]
    target = Target.build(
        config.getoption("--base-url"), config.getoption("--api-key"),
        config.getoption("--read-only-key"), config.getoption("--allow-writes"), ids,
        config.getoption("--admin-token"))
    if target.base_url and not target.is_sandbox and not target.api_key:
        raise pytest.UsageError("--api-key (or HUSKYVOICE_API_KEY) is required for a deployment")
    _STATE["target"] = target
    _STATE["coverage"] = Coverage(Contract())


def pytest_report_header(config: pytest.Config) -> list[str]:
    target: Target = _STATE["target"]
    lines = [f"contract kit target: {target.mode}",
             f"contract kit seed: {config.getoption('--seed')} (replay with --seed), "
             f"{config.getoption('--examples')} generated cases per operation"]
    if not target.is_sandbox:
        lines.append("skipped against this target: scenario steps (they need /_sandbox/ to seed)")
        if not target.writes_ok:
            lines.append("skipped against this target: PATCHes to real appointments "
                         "(PATCH cases go to an id that cannot exist; use --allow-writes "
                         "--appointment-id ID to opt in)")
        if not target.read_only_key:
            lines.append("skipped against this target: 403 checks (no --read-only-key)")
    return lines


def pytest_terminal_summary(terminalreporter: Any) -> None:
    coverage: Coverage | None = _STATE.get("coverage")
    if coverage is not None:
        terminalreporter.section("contract coverage")
        for line in coverage.report():
            terminalreporter.write_line(line)


@pytest.fixture(scope="session")
def target() -> Iterator[Target]:
    target: Target = _STATE["target"]
    target.save_world()
    target.seed_default()
    yield target
    target.restore_world()


def _schema(config: pytest.Config, target: Target, operation_id: str | None,
            appointment_id: str) -> Any:
    return build_schema(target, config.getoption("--seed"), config.getoption("--examples"),
                        operation_id, appointment_id)


@pytest.fixture(scope="session")
def get_schema(target: Target, pytestconfig: pytest.Config) -> Any:
    return _schema(pytestconfig, target, "getAppointment", target.readable_id)


@pytest.fixture(scope="session")
def patch_schema(target: Target, pytestconfig: pytest.Config) -> Any:
    return _schema(pytestconfig, target, "updateAppointment", target.writable_id)


@pytest.fixture(scope="session")
def patch_schema_full(target: Target, pytestconfig: pytest.Config) -> Any:
    """Both operations, for the stateful run (PATCH -> GET through the spec's link)."""
    schema = _schema(pytestconfig, target, None, target.writable_id)

    @schema.auth()
    class BearerKey:
        """The key as an auth provider: credentials set any other way in a state machine look
        generated to the ignored_auth check (Schemathesis pitfall P3)."""

        def get(self, case: Any, ctx: Any) -> str:
            return target.api_key

        def set(self, case: Any, data: str, ctx: Any) -> None:
            case.headers = {**(case.headers or {}), "Authorization": f"Bearer {data}"}

    return schema


@pytest.fixture(scope="session")
def coverage() -> Coverage:
    return _STATE["coverage"]


@schemathesis.check
def record_documented_response(ctx: Any, response: Any, case: Any) -> None:
    """Not a check: records what the schema suite saw, for the coverage report."""
    coverage: Coverage | None = _STATE.get("coverage")
    if coverage is not None:
        try:
            body = response.json()
        except Exception:  # noqa: BLE001 - non-JSON answers are judged by the real checks
            body = None
        coverage.record(case.method, case.formatted_path, response.status_code, body, case.id)
