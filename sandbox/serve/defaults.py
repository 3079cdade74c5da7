"""What `serve` does unless told otherwise (the command line, the server, `health`), in a module
of its own so that reading them imports nothing."""

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8080
DEFAULT_THREADS = 8
