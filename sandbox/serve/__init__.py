"""Serving: the production server, watch mode and the command line."""
