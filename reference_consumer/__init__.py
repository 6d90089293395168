"""A reference consumer of the State Hub's lifecycle events: copy it, replace the handler, keep the rest.

No Django, only nats-py, jsonschema and the standard library. `python -m reference_consumer --help`
runs it; `Consumer(Config(...), handle).run()` embeds it. See README.md in this directory.
"""

from reference_consumer.consumer import Config, Consumer, Handler
from reference_consumer.state import Position, State

__all__ = ["Config", "Consumer", "Handler", "Position", "State"]
