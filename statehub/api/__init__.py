"""The project-wide plumbing of the REST API, shared by every app's views.

Authentication, permissions, pagination, parsing, rendering, the OpenAPI schema hooks, the JSON
errors of every API path and the route helpers live here; `hub.api` and `events` only add their
own views and routes. Settings name these modules (`REST_FRAMEWORK`, `SPECTACULAR_SETTINGS`).
"""
