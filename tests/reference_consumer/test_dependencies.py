"""The reference consumer is copied into other projects: it needs nats-py, jsonschema and the standard library only.

OpenTelemetry is optional: `reference_consumer/tracing.py` imports it only for a message that carries a trace context.
"""

import json
import subprocess
import sys

from tests.reference_consumer.conftest import ROOT

ALLOWED = {"reference_consumer", "nats", "jsonschema"}
# What those two bring with them, and what the interpreter itself loads (the script, setuptools' .pth hook).
ALLOWED |= {"idna", "jsonschema_specifications", "referencing", "rpds", "attrs", "attr", "typing_extensions"}
ALLOWED |= {"__main__", "_distutils_hack"}

LIST_IMPORTED = """
import json, sys
import reference_consumer, reference_consumer.__main__
print(json.dumps(sorted({name.split(".")[0] for name in sys.modules} - set(sys.stdlib_module_names))))
"""


def test_the_package_imports_nothing_but_nats_jsonschema_and_the_standard_library() -> None:
    result = subprocess.run(
        [sys.executable, "-c", LIST_IMPORTED], cwd=ROOT, capture_output=True, text=True, check=True, timeout=60
    )

    imported = set(json.loads(result.stdout))
    assert imported - ALLOWED == set()
    assert {"nats", "jsonschema"} <= imported
