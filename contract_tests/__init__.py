"""The contract kit: checks the sandbox, or any deployment of the HuskyVoice appointments API,
against openapi.yaml. Run it with `pytest contract_tests` or `huskyvoice-sandbox contract`."""
