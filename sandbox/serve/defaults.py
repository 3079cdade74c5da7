"""What `serve` does unless told otherwise (the command line, the server, `health`), in a module
of its own so that reading them imports nothing."""

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8080
DEFAULT_THREADS = 8
# Requests under way when the server stops get this long to finish: enough for any answer but
# a forced delay (which `serve` ends first), short enough for a container's stop.
STOP_GRACE_SECONDS = 1.0
