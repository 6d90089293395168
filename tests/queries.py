"""Query budgets shared by the tests that bound a request's queries."""

# An authenticated request's user throttle keeps its counter in Django's database cache (CACHE_URL
# unset, as in the tests): a read, then the write's count, look-up and insert inside a savepoint.
THROTTLE_QUERIES = 6
