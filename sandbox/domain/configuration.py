"""The organization's own settings, as the configuration operations read them: from the store,
so a world loaded or changed since the key was checked is the one answered."""

from __future__ import annotations

from .model import Organization, Service
from .store import Store


def services(store: Store, org: Organization) -> tuple[Service, ...]:
    """The services appointments can be booked for, in the world's order."""
    return settings(store, org).services


def settings(store: Store, org: Organization) -> Organization:
    """The organization as it stands: its cancellation policy and time zone."""
    return store.organizations[org.id]
