"""Where the packaged data lives.

The wheel carries `openapi.yaml` and `fixtures/` inside the package (hatchling force-include);
a source checkout or an editable install keeps them at the repository's top level. Both are
found here, so nothing else needs to know.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from pathlib import Path

_PACKAGE = resources.files(__package__ or "huskyvoice_sandbox")
_CHECKOUT = Path(__file__).resolve().parent.parent


@cache  # where the package is does not move while it runs
def _find(name: str) -> Path:
    packaged = Path(str(_PACKAGE / name))
    if packaged.exists():
        return packaged
    in_checkout = _CHECKOUT / name
    if in_checkout.exists():
        return in_checkout
    raise FileNotFoundError(f"{name} is neither in the installed package nor in a checkout")


def spec_path() -> Path:
    """The contract, `openapi.yaml`."""
    return _find("openapi.yaml")


def fixtures_dir() -> Path:
    """The folder of worlds: `default.yaml` and `scenarios/`."""
    return _find("fixtures")


def default_world_path() -> Path:
    return fixtures_dir() / "default.yaml"


def starter_world_path() -> Path:
    """The commented world `huskyvoice-sandbox init` writes."""
    return fixtures_dir() / "starter.yaml"


def scenarios_dir() -> Path:
    return fixtures_dir() / "scenarios"


def world_schema_path() -> Path:
    return Path(str(_PACKAGE / "schemas" / "world.schema.json"))


def forced_response_schema_path() -> Path:
    return Path(str(_PACKAGE / "schemas" / "forced-response.schema.json"))


def control_spec_path() -> Path:
    """The control API's OpenAPI description (served at /_sandbox/openapi.yaml)."""
    return Path(str(_PACKAGE / "schemas" / "control-openapi.yaml"))


def balancer_config_path() -> Path:
    """HAProxy's configuration for several `serve` processes (docs/scaling.md)."""
    return Path(str(_PACKAGE / "serve" / "haproxy.cfg"))
