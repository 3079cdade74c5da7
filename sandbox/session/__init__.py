"""What one sandbox session serves from: its state (world, store, clock), sessions, the
request journal, forced responses and rate limits."""
