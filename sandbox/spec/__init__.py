"""The contract, `openapi.yaml`, loaded once: operations, scopes, parameters, validators, and
the strict JSON the API reads."""
