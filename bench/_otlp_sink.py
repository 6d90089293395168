"""A local OTLP/HTTP endpoint that accepts and discards spans: the collector for the benchmarks' `--tracing on`.

It answers every `POST /v1/traces` with 200 and counts the requests and bytes it was sent, so a
benchmark measures the hub's cost of tracing (spans, context, the batch exporter's thread and its
HTTP posts) and not a collector's. It runs in a thread of the benchmark process.
"""

import http.server
import threading
from typing import Any

from statehub import devservers


class OtlpSink:
    """`with OtlpSink() as sink:` an endpoint at `sink.url`; `sink.requests`, `sink.bytes` say what arrived."""

    def __init__(self) -> None:
        self.port = devservers.free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.requests = 0
        self.bytes = 0
        sink = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                size = int(self.headers.get("Content-Length") or 0)
                self.rfile.read(size)
                sink.requests += 1
                sink.bytes += size
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def environment(self) -> dict[str, str]:
        """The OTEL_* variables that turn the hub's tracing on, every trace sampled, spans sent here."""
        return {
            "OTEL_EXPORTER_OTLP_ENDPOINT": self.url,
            "OTEL_TRACES_SAMPLER": "always_on",
            "OTEL_SERVICE_NAME": "state-hub-bench",
        }

    def __enter__(self) -> "OtlpSink":
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
