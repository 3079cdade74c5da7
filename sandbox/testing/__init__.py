"""For integrators' test suites: the pytest plugin."""
