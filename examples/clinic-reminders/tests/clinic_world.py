"""Names from worlds/clinic.yaml the tests refer to."""

REMINDERS_KEY = "sk_test_sunrise_reminders"
DASHBOARD_KEY = "sk_test_sunrise_dashboard"  # read-only
RIYA = "appt_riya"  # Monday 2026-06-15, Morning MA
NEHA = "appt_neha"  # Tuesday 2026-06-16, the only place that morning
