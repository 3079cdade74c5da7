"""The documented behaviours a drift run exercises, each named once: a difference is reported
with the rule its request was chosen to show."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Rule:
    id: str
    text: str
    source: str  # the page that documents it, or "sandbox choice" (then it is in openapi.yaml)


RULES: dict[str, Rule] = {rule.id: rule for rule in (
    Rule("auth", "a missing or unknown key is refused: 401 UNAUTHORIZED", "authentication"),
    Rule("scope", "a key without appointments:write cannot update: 403 INSUFFICIENT_SCOPE",
         "updating-appointments"),
    Rule("validation", "a malformed request is refused: 400 VALIDATION_ERROR, located",
         "sandbox choice (openapi.yaml)"),
    Rule("not-found", "an id the organization does not have: 404 NOT_FOUND", "getting-appointments"),
    Rule("isolation", "a key sees only its own organization's appointments", "getting-appointments"),
    Rule("reads", "reads show the state: an appointment, search, availability, services, configuration",
         "getting-appointments, availability, services, appointment-config"),
    Rule("capacity", "a window at capacity refuses a booking: 409 SLOT_FULL", "updating-appointments"),
    Rule("outside", "a time no window covers is refused: 422 OUTSIDE_AVAILABILITY",
         "updating-appointments"),
    Rule("closed", "a window closed that date refuses a booking: 409 SLOT_INACTIVE",
         "updating-appointments"),
    Rule("duplicate", "one active booking per patient, service and date: 409 DUPLICATE_BOOKING",
         "updating-appointments"),
    Rule("reschedule", "a new time moves the appointment into the window that covers it (date, "
         "session and batch follow) and sets status rescheduled", "updating-appointments"),
    Rule("explicit-status", "a status sent with a new time is kept, not replaced by rescheduled",
         "updating-appointments"),
    Rule("free-text", "notes and a doctor's name are taken as sent (long, non-ASCII, quotes, newlines): "
         "200, and the name reads back unchanged", "updating-appointments"),
    Rule("cancel", "cancelling follows the organization's policy (allow_cancellation, notice)",
         "cancelling-appointments"),
    Rule("cancel-again", "cancelling a cancelled appointment returns it unchanged",
         "cancelling-appointments"),
    Rule("updated-at", "an accepted change moves updated_at forward; a refused one leaves it",
         "updating-appointments, cancelling-appointments (their examples)"),
    Rule("created-at", "created_at never changes", "updating-appointments, cancelling-appointments (their examples)"),
    Rule("read-after-write", "a read returns what the last write answered", "getting-appointments"),
    Rule("rate-limit", "over the limit a minute: 429 RATE_LIMIT_EXCEEDED with Retry-After",
         "rate-limits"),
    Rule("contract", "every answer matches openapi.yaml (body shape, documented status, required "
         "headers)", "openapi.yaml"),
)}
