"""Settings for `bench/api_throughput.py`: the real settings, plus bare comparison views, over plain HTTP."""

from statehub.settings import *  # noqa: F403
from statehub.settings import REST_FRAMEWORK

ROOT_URLCONF = "bench.api_urls"
SECURE_SSL_REDIRECT = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
# The benchmark measures the work of a request, not the throttle's refusals.
REST_FRAMEWORK = {
    **REST_FRAMEWORK,
    # Every scope the API names needs a rate: `/health` (the readiness probe here) has its own.
    "DEFAULT_THROTTLE_RATES": {"anon": "1000000/minute", "user": "1000000/minute", "health": "1000000/minute"},
}
