"""The alphabet of human keys (workstream, task and decision keys), shared by models and the workplan reader.

Keys appear in URLs (`/workstreams/{key}/`), so they use a URL-safe alphabet: letters, digits,
`-`, `_` and `.`, starting with a letter or digit (so `.` and `..`, which are path segments, are
not keys). Kept apart from the models so the file reader needs no Django app registry.
"""

import re

from django.core.validators import RegexValidator

KEY_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]*\Z"
KEY_RE = re.compile(KEY_PATTERN)
KEY_MESSAGE = "Use letters, digits, '-', '_' and '.', starting with a letter or digit."
key_validator = RegexValidator(KEY_PATTERN, KEY_MESSAGE, code="invalid_key")
