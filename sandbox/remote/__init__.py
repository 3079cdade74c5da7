"""Talking to a real deployment, which has no control API and must not be changed unasked.

`mirror` reads a deployment with GETs only and writes its world. `drift` checks a deployment
against that mirror served in process: `plan` chooses the requests (each to show one documented
rule of `rules`), `wire` sends each to both sides, `compare` says how the two answers differ,
`report` prints the rows and writes JUnit. This layer knows the web layer (the mirror is served
by the sandbox's own app); only the CLI knows it.
"""
