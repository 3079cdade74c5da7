"""Who may use the control features (the control API, the X-Sandbox-Force header).

Closed by default to everyone but loopback clients; an operator opens them on purpose, in one of
two ways or both:
- an admin token: every control request must send it (X-Sandbox-Admin-Token), from anywhere,
  loopback included;
- the networks control requests may come from (`--control-from`), besides loopback. In a
  container the host is not a loopback client (it connects from the bridge's gateway), so this is
  how a test suite on the host gets the control API without sending a token.
With both, a control request needs the token and must come from loopback or those networks.
"""

from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

ADMIN_HEADER = "X-Sandbox-Admin-Token"
ADMIN_ENVIRON = "HTTP_X_SANDBOX_ADMIN_TOKEN"  # the header, as WSGI names it
ANY = "any"

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
EVERYWHERE: tuple[Network, ...] = (ipaddress.ip_network("0.0.0.0/0"), ipaddress.ip_network("::/0"))


def parse_networks(entries: str | Iterable[str]) -> tuple[Network, ...]:
    """`--control-from`'s values: addresses or networks (CIDR), separated by commas or spaces,
    or `any`. Raises ValueError naming the first entry that is neither."""
    if isinstance(entries, str):
        entries = [entries]
    networks: list[Network] = []
    for entry in (part for item in entries for part in item.replace(",", " ").split()):
        if entry.lower() == ANY:
            networks.extend(EVERYWHERE)
            continue
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            raise ValueError(f"{entry!r} is not an address, a network (such as 10.88.0.0/16) "
                             f"or {ANY!r}") from None
    return tuple(dict.fromkeys(networks))


@dataclass(frozen=True)
class ControlAccess:
    """The operator's choice: an admin token, networks beyond loopback, both, or neither."""

    token: str | None = None
    networks: tuple[Network, ...] = ()

    def refusal(self, feature: str, environ: dict[str, Any]) -> str | None:
        """Why this request (its WSGI environ) may not use `feature`; None when it may."""
        if self.token is not None:
            sent = environ.get(ADMIN_ENVIRON, "")
            if not hmac.compare_digest(sent.encode("utf-8", "replace"), self.token.encode("utf-8")):
                return f"{feature} needs the admin token in the {ADMIN_HEADER} header."
            if not self.networks:  # a token alone opens control to its holders, wherever they are
                return None
        if self.allows(environ.get("REMOTE_ADDR")):
            return None
        if self.networks:
            return (f"{feature} is served only to loopback clients and to "
                    f"{self.describe_networks()}; this client is {environ.get('REMOTE_ADDR')}.")
        return (f"{feature} is served only to loopback clients; start the server with "
                "--control-from (the networks your clients are on) or --admin-token to allow others.")

    def allows(self, address: str | None) -> bool:
        """Whether a client at `address` is on loopback or on one of the networks."""
        try:
            ip = ipaddress.ip_address(address or "")
        except ValueError:
            return False
        ip = getattr(ip, "ipv4_mapped", None) or ip  # ::ffff:127.0.0.1 from a dual-stack listener
        return ip.is_loopback or any(ip.version == net.version and ip in net for net in self.networks)

    def describe_networks(self) -> str:
        if set(EVERYWHERE) <= set(self.networks):
            return "any address"
        return ", ".join(str(net) for net in self.networks)

    def describe(self) -> str:
        """One line for the server's banner."""
        anywhere = set(EVERYWHERE) <= set(self.networks)
        where = "any client" if anywhere else "loopback clients" + (
            f" and {self.describe_networks()}" if self.networks else " only")
        if self.token is None:
            return where
        return "admin token required" + ("" if anywhere or not self.networks else f", from {where}")
