"""Options, the target, and the console report of the contract kit.

Every option can also come from the environment (for CI secrets):

  --base-url URL          HUSKYVOICE_BASE_URL        the deployment; absent = the sandbox in-process
  --api-key KEY           HUSKYVOICE_API_KEY         a key with appointments:read and :write
  --read-only-key KEY     HUSKYVOICE_READ_ONLY_KEY   a key without appointments:write (403 checks)
  --other-key KEY         HUSKYVOICE_OTHER_KEY       another organization's key (isolation; GETs only)
  --allow-writes          HUSKYVOICE_ALLOW_WRITES=1  send requests that can write: PATCHes ...
  --appointment-id ID     HUSKYVOICE_APPOINTMENT_IDS ... only to these (repeatable / comma-separated)
  --max-creates N         HUSKYVOICE_MAX_CREATES     ... and at most N creates (default 3; they stay)
  --admin-token T         HUSKYVOICE_SANDBOX_ADMIN_TOKEN  for a sandbox started with --admin-token
  --seed N                HUSKYVOICE_CONTRACT_SEED   generation seed (default 20260615)
  --examples N            HUSKYVOICE_CONTRACT_EXAMPLES  generated cases per operation (default 50)
  --scenarios PATH        HUSKYVOICE_SCENARIOS       scenario worlds to run instead of the bundled
                                                     ones (repeatable / os.pathsep-separated)
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from huskyvoice_contract_kit.coverage import Coverage
from huskyvoice_contract_kit.run import STATE
from huskyvoice_contract_kit.schemas import build_schema
from huskyvoice_contract_kit.target import DEFAULT_MAX_CREATES, Target
from huskyvoice_sandbox.serve.reach import not_the_api
from huskyvoice_sandbox.spec.contract import Contract

DEFAULT_SEED = 20260615
DEFAULT_EXAMPLES = 50


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
    group.addoption("--other-key", default=_env("HUSKYVOICE_OTHER_KEY"),
                    help="API key of another organization with appointments:read, for the isolation "
                         "checks (GETs only). A sandbox target uses its default world's second "
                         "organization.")
    group.addoption("--allow-writes", action="store_true",
                    default=os.environ.get("HUSKYVOICE_ALLOW_WRITES") == "1",
                    help="Allow requests that can write: PATCHes only to --appointment-id, and "
                         "at most --max-creates new appointments (they cannot be deleted).")
    group.addoption("--max-creates", type=int,
                    default=int(_env("HUSKYVOICE_MAX_CREATES") or DEFAULT_MAX_CREATES),
                    help=f"With --allow-writes: appointments the kit may create on a deployment "
                         f"(default {DEFAULT_MAX_CREATES}); each one stays.")
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
    group.addoption("--scenarios", action="append",
                    default=[p for p in (_env("HUSKYVOICE_SCENARIOS") or "").split(os.pathsep) if p] or None,
                    help="A scenario world to run instead of the bundled ones, e.g. one `huskyvoice-sandbox "
                         "replay --scenario` wrote (repeatable).")


def pytest_configure(config: pytest.Config) -> None:
    base_url = config.getoption("--base-url")
    problem = not_the_api(base_url, admin_token=config.getoption("--admin-token")) if base_url else None
    if problem:
        raise pytest.UsageError(problem)  # `huskyvoice-sandbox contract` asked first: one line, exit 2
    ids = config.getoption("--appointment-id") or [
        i for i in (_env("HUSKYVOICE_APPOINTMENT_IDS") or "").split(",") if i]
    contract = Contract()
    target = Target.build(
        config.getoption("--base-url"), config.getoption("--api-key"),
        config.getoption("--read-only-key"), config.getoption("--allow-writes"), ids,
        config.getoption("--admin-token"), config.getoption("--max-creates"), config.getoption("--other-key"),
        contract)
    if target.base_url and not target.is_sandbox and not target.api_key:
        raise pytest.UsageError("--api-key (or HUSKYVOICE_API_KEY) is required for a deployment")
    STATE.update(target=target, contract=contract, coverage=Coverage(contract))


def pytest_report_header(config: pytest.Config) -> list[str]:
    target: Target = STATE["target"]
    default_world = "" if target.base_url else " (for the default world: sk_test_demo_write)"
    other = "" if not target.other_key else " and another organization's from $HUSKYVOICE_OTHER_KEY" + (
        "" if target.base_url else " (sk_test_other_write)")
    lines = [f"contract kit target: {target.mode}",
             "contract kit: a failure prints commands that reproduce it; they read your key from "
             f"$HUSKYVOICE_API_KEY{default_world}{other}",
             f"contract kit seed: {config.getoption('--seed')} (replay with --seed), "
             f"{config.getoption('--examples')} generated cases per operation"]
    if not target.is_sandbox:
        lines.append("skipped against this target: scenario steps (they need /_sandbox/ to seed)")
        if not target.allow_writes:
            skipped = [op.operation_id for op in STATE["contract"].operations.values()
                       if not target.may_send(op.method)]
            lines.append(f"skipped against this target: {', '.join(skipped)} (they can write; "
                         "--allow-writes --appointment-id ID opts in)")
        else:
            lines.append(f"WARNING: creates are real and permanent: up to {target.max_creates} new "
                         "appointments will stay on the deployment (appointments are never deleted)")
        if not target.read_only_key:
            lines.append("skipped against this target: 403 checks (no --read-only-key)")
        if not target.other_key:
            lines.append("skipped against this target: isolation checks (no --other-key: a key of "
                         "another organization)")
    return lines


GROUPS = {"test_isolation": "isolation", "test_scenarios": "scenarios", "test_schema": "schema",
          "test_stateful": "stateful"}


def reproducible(text: str, target: Target) -> str:
    """The key read from $HUSKYVOICE_API_KEY, and the sandbox the kit ran in process replaced by
    `huskyvoice-sandbox serve`'s address."""
    for key, variable in ((target.api_key, "HUSKYVOICE_API_KEY"), (target.other_key, "HUSKYVOICE_OTHER_KEY")):
        if key:
            text = text.replace(f"-H 'Authorization: Bearer {key}'", f'-H "Authorization: Bearer ${variable}"')
            text = text.replace(key, f"${variable}")
    if target.base_url is None:
        text = text.replace("curl -X", "curl -s -X").replace(" http://localhost/", " http://127.0.0.1:8080/")
        text = text.replace("Reproduce with:", "Reproduce with (on `huskyvoice-sandbox serve`):")
    return text


@pytest.hookimpl(trylast=True)  # after Schemathesis renders its failures into the report
def pytest_exception_interact(node: Any, call: Any, report: pytest.TestReport) -> None:
    """A failure's curl command, made to run as pasted."""
    target: Target | None = STATE.get("target")
    if target is not None and report.longrepr is not None:
        report.longrepr = reproducible(str(report.longrepr), target)


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """Each check's outcome, by group, under the name JUnit gives it."""
    group = GROUPS.get(report.nodeid.split("::")[0].rsplit("/", 1)[-1].removesuffix(".py"))
    context = getattr(report, "context", None)  # a subtest: one operation of the schema suite
    if group is None or (report.when != "call" and not (report.when == "setup" and report.outcome != "passed")):
        return
    if group == "schema" and context is None:
        return  # the schema test itself; its operations are its subtests
    name = f"{report.nodeid.split('::')[-1]}[{context.kwargs.get('label')}]" if context else \
        report.nodeid.split("::")[-1]  # as JUnit names it
    STATE.setdefault("groups", {}).setdefault(group, []).append((name, report.outcome))


def _group_lines() -> list[str]:
    lines = []
    for group, results in STATE.get("groups", {}).items():
        counts = {outcome: sum(1 for _, o in results if o == outcome) for outcome in ("passed", "failed", "skipped")}
        said = ", ".join(f"{n} {outcome}" for outcome, n in counts.items() if n)
        failed = [name for name, outcome in results if outcome == "failed"]
        lines.append(f"{group:<10} {said}" + (f": {'; '.join(failed)}" if failed else ""))
    return lines


def pytest_terminal_summary(terminalreporter: Any) -> None:
    terminalreporter.section("contract checks")
    for line in _group_lines():
        terminalreporter.write_line(line)
    coverage: Coverage | None = STATE.get("coverage")
    if coverage is not None:
        terminalreporter.section("contract coverage")
        for line in coverage.report():
            terminalreporter.write_line(line)
    target: Target | None = STATE.get("target")
    if target is not None and target.creates_sent:
        terminalreporter.section("appointments created on the deployment")
        terminalreporter.write_line(f"{len(target.created)} appointments were created and stay "
                                    "(appointments are never deleted): " + (", ".join(target.created) or "none"))
        unknown = target.creates_sent - len(target.created)
        if unknown:
            terminalreporter.write_line(f"{unknown} more creates were sent whose answer named no new "
                                        "appointment (refused, or an answer the kit could not read)")


@pytest.fixture(scope="session")
def target() -> Iterator[Target]:
    target: Target = STATE["target"]
    target.seed_default()
    yield target
    target.close_session()


@pytest.fixture(scope="session")
def kit_schema(target: Target, pytestconfig: pytest.Config) -> Any:
    """Every operation the target may be sent (tests/test_schema.py filters the lazy schema by
    the same rule: Schemathesis ignores a filter on a fixture's schema)."""
    return build_schema(target, pytestconfig.getoption("--seed"), pytestconfig.getoption("--examples"),
                        STATE["contract"])


@pytest.fixture(scope="session")
def stateful_schema(target: Target, pytestconfig: pytest.Config) -> Any:
    """The appointments' operations for the stateful run, positive cases only: creates only on a
    sandbox (a deployment would keep every appointment the run books), and nothing of the
    calendar's (its windows are the clinic's; and the run books what they offer)."""
    contract: Contract = STATE["contract"]
    allowed = [op.operation_id for op in contract.operations.values()
               if "appointments" in contract.spec["paths"][op.path][op.method.lower()].get("tags", [])
               and target.may_send(op.method) and (target.is_sandbox or op.method != "POST")]
    schema = build_schema(target, pytestconfig.getoption("--seed"), pytestconfig.getoption("--examples"),
                          contract, allowed)
    schema.config.generation.update(modes=[schemathesis.GenerationMode.POSITIVE])

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
    return STATE["coverage"]


@schemathesis.check
def record_documented_response(ctx: Any, response: Any, case: Any) -> None:
    """Not a check: records what the schema suite saw, for the coverage report."""
    coverage: Coverage | None = STATE.get("coverage")
    if coverage is not None:
        try:
            body = response.json()
        except Exception:  # noqa: BLE001 - non-JSON answers are judged by the real checks
            body = None
        coverage.record(case.method, case.formatted_path, response.status_code, body, case.id)
