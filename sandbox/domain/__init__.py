"""The rules, as plain Python on plain data: the model, the booking rules, the use cases, the
store and its indexes. Nothing here knows Flask, YAML or HTTP requests."""
