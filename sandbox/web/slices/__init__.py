"""The API's capabilities, one slice each, named as `openapi.yaml`'s tags name them: each slice
holds its operations' views (`@view`), the mapping of their bodies to the rules' terms, and the
rendering of their objects. Importing this package registers every view.
"""

from . import appointments, configuration, slots, webhooks  # noqa: F401 - registers the views
