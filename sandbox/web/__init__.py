"""The HTTP layer: the application factory, the operations registered from the spec, the
views, the control API, the docs page, one JSON envelope."""
