"""Settings for the State Hub, each read once from the environment (DESIGN §10)."""

from datetime import timedelta
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DJANGO_DEBUG", default=False)
# A secret key has no production default: outside debug a missing one stops start-up.
if DEBUG:
    SECRET_KEY = env("DJANGO_SECRET_KEY", default="insecure-development-key-do-not-use-in-production")
else:
    SECRET_KEY = env("DJANGO_SECRET_KEY")
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["127.0.0.1", "localhost"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "rest_framework",
    "knox",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_prometheus",
    "axes",
    "simple_history",
    "statehub",
    "events",
    "hub",
]

MIDDLEWARE = [
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    "statehub.api.errors.RequestLimitsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    # DEBUG only: an unmatched API path is the JSON 404, not Django's HTML debug page.
    "statehub.api.errors.DebugNotFoundMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Every change made while serving a request is the `api` door (or `admin`), by its user.
    "hub.history.HistoryDoorMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes asks: it turns a locked-out login into its 429 answer.
    "axes.middleware.AxesMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",
]

# Larger request bodies are a JSON 413 before they are read (statehub.api.errors.RequestLimitsMiddleware).
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("DATA_UPLOAD_MAX_MEMORY_SIZE", default=2_621_440)

ROOT_URLCONF = "statehub.urls"
WSGI_APPLICATION = "statehub.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        # Project templates (the branded browsable API) come before the apps' own.
        "DIRS": [BASE_DIR / "statehub" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {"default": env.db("DATABASE_URL", default="postgres://postgres@127.0.0.1:5432/statehub")}
DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("DATABASE_CONN_MAX_AGE", default=60))
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
# Django's PostgreSQL backend whose new connections wait out a server restart (statehub/db/postgresql).
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    DATABASES["default"]["ENGINE"] = "statehub.db.postgresql"
# An unreachable or hung database must cost a request seconds, not a worker timeout (DESIGN §6.11).
# libpq counts the connect timeout in whole seconds, 2 at least; 0 turns a timeout off.
DATABASE_CONNECT_TIMEOUT_S = env.int("DATABASE_CONNECT_TIMEOUT_S", default=2)
DATABASE_STATEMENT_TIMEOUT_S = env.float("DATABASE_STATEMENT_TIMEOUT_S", default=30.0)
# How long a new connection waits for a restarting server ("shutting down", "starting up") before
# the request answers 503; a refused connection is retried for at most 2.5 s of it. 0 turns it off.
DATABASE_RESTART_WAIT_S = env.float("DATABASE_RESTART_WAIT_S", default=5.0)
_database_options = DATABASES["default"].setdefault("OPTIONS", {})
if DATABASE_CONNECT_TIMEOUT_S > 0:
    _database_options.setdefault("connect_timeout", DATABASE_CONNECT_TIMEOUT_S)
if DATABASE_STATEMENT_TIMEOUT_S > 0:
    _statement_timeout = f"-c statement_timeout={round(DATABASE_STATEMENT_TIMEOUT_S * 1000)}"
    _database_options["options"] = " ".join(filter(None, [_database_options.get("options", ""), _statement_timeout]))
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# Logins (admin, /api-auth/login/): django-axes locks a username at one address out after
# LOGIN_FAILURE_LIMIT wrong passwords in a row, for LOGIN_LOCKOUT_MINUTES. Locking by username alone
# would let anyone lock an admin out; by address alone, one office behind NAT would lock itself out.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("LOGIN_LOCKOUT_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_CLIENT_IP_CALLABLE = "statehub.security.client_ip"
LOGIN_URL = "rest_framework:login"
# After logging in without a `next`, land on the browsable API's root.
LOGIN_REDIRECT_URL = "/"

# The admin's history page shows every change (django-simple-history) but offers no "revert": a
# change goes through the hub's services and their rules, never back to an old row wholesale.
SIMPLE_HISTORY_REVERT_DISABLED = True

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = env.path("DJANGO_STATIC_ROOT", default=BASE_DIR / "var" / "static")
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        # Production serves what `collectstatic` wrote: hashed names (cached for a year) and gzip/brotli copies.
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
# Development serves app static files straight from the finders (no collectstatic needed).
WHITENOISE_USE_FINDERS = DEBUG
# A release that skipped collectstatic renders unhashed URLs (unstyled pages) instead of failing every page.
WHITENOISE_MANIFEST_STRICT = False

# --- Security (production values; `manage.py check --deploy` is clean with DEBUG off) ---
# X-Forwarded-Proto is trusted only behind a proxy that sets it: reached directly, a client could claim HTTPS.
TRUST_PROXY_HEADERS = env.bool("DJANGO_TRUST_PROXY_HEADERS", default=False)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if TRUST_PROXY_HEADERS else None
# With the proxy trusted, the client is this many hops from the right of X-Forwarded-For: one per
# proxy in front of gunicorn (statehub.security.client_ip, the rule of the lockout, the throttles, the log).
TRUSTED_PROXY_COUNT = env.int("DJANGO_TRUSTED_PROXY_COUNT", default=1)
if TRUSTED_PROXY_COUNT < 1:
    raise ImproperlyConfigured("DJANGO_TRUSTED_PROXY_COUNT must be 1 or more: the proxies in front of gunicorn.")
SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=not DEBUG)
# /health for load balancers and /metrics for a scraper on the internal port answer plain HTTP.
SECURE_REDIRECT_EXEMPT = [r"^health$", r"^metrics$"]
SESSION_COOKIE_SECURE = not DEBUG
CSRF_COOKIE_SECURE = not DEBUG
SECURE_HSTS_SECONDS = env.int("DJANGO_SECURE_HSTS_SECONDS", default=0 if DEBUG else 31536000)
# Both reach beyond this host (every subdomain; browsers' preload lists): an operator on a shared
# parent domain turns them off, and then the matching deploy checks are silenced as a decision made.
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS", default=not DEBUG)
SECURE_HSTS_PRELOAD = env.bool("DJANGO_SECURE_HSTS_PRELOAD", default=not DEBUG)
SILENCED_SYSTEM_CHECKS = [
    check
    for check, chosen in (("security.W005", SECURE_HSTS_INCLUDE_SUBDOMAINS), ("security.W021", SECURE_HSTS_PRELOAD))
    if not chosen and not DEBUG
]
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"

# --- Cache: throttle counters every web worker shares ---
# A per-process cache would give each gunicorn worker its own counters (a limit of rate x workers).
# CACHE_URL names a Redis database (not the broker's); without it the counters live in PostgreSQL
# (Django's database cache, table `statehub_cache`, created by the migrations).
CACHE_URL = env("CACHE_URL", default="")
if CACHE_URL:
    if not CACHE_URL.startswith(("redis://", "rediss://", "unix://")):
        raise ImproperlyConfigured("CACHE_URL must be a Redis URL (redis://, rediss:// or unix://), or unset.")
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": CACHE_URL,
            # A hung Redis must not hold requests: a throttle that cannot count lets the request through.
            "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
        }
    }
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.db.DatabaseCache",
            "LOCATION": "statehub_cache",
            # About one row per client address and throttle scope of the last minute. Django counts the
            # table on every write and, above this, deletes the expired rows (then a third of the rest).
            "OPTIONS": {"MAX_ENTRIES": 5000},
        }
    }

# --- API tokens (hub.tokens): knox's hashed tokens, with the hub's name and scope ---
KNOX_TOKEN_MODEL = "hub.ApiToken"  # noqa: S105 (a model, not a secret)
# knox's own token model is swapped out for hub.ApiToken; its migrations would only create that
# model's unused table (whose key to auth_user then stops test databases being flushed).
MIGRATION_MODULES = {"knox": None}
REST_KNOX = {
    # `Authorization: Token <secret>`, as clients sent DRF's tokens; a token expires only if created so.
    "AUTH_HEADER_PREFIX": "Token",
    "TOKEN_TTL": None,
}

# --- REST framework ---
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "hub.tokens.ScopedTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["statehub.api.permissions.ModelPermissionsWithRead"],
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        # DRF's browsable API plus an HTML form for PATCH.
        "statehub.api.renderers.HubBrowsableAPIRenderer",
    ],
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        # `?search=` (each list names its fields: key and title, or slug and name) and `?ordering=`.
        "statehub.api.filters.SearchFilter",
        "statehub.api.filters.OrderingFilter",
    ],
    "DEFAULT_PAGINATION_CLASS": "statehub.api.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "statehub.api.schema.HubAutoSchema",
    "EXCEPTION_HANDLER": "statehub.api.exceptions.exception_handler",
    "DEFAULT_PARSER_CLASSES": [
        "statehub.api.parsers.JSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    # DRF's own classes would read X-Forwarded-For raw; these key on statehub.security.client_ip.
    "DEFAULT_THROTTLE_CLASSES": [
        "statehub.api.throttling.AnonRateThrottle",
        "statehub.api.throttling.UserRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "anon": env("API_THROTTLE_ANON", default="120/minute"),
        "user": env("API_THROTTLE_USER", default="6000/minute"),
        "health": env("API_THROTTLE_HEALTH", default="60/minute"),
        # The public event contract (schemas, AsyncAPI): consumers fetch it once and cache it.
        "contract": env("API_THROTTLE_CONTRACT", default="600/minute"),
    },
}

SPECTACULAR_SETTINGS = {
    "TITLE": "State Hub API",
    "DESCRIPTION": "Read model of cross-domain engineering state; publishes lifecycle events to NATS JetStream.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    "PREPROCESSING_HOOKS": ["statehub.api.schema.drop_aliases"],
    "SCHEMA_PATH_PREFIX": "/",
}

# --- Events (NATS JetStream, outbox) ---
# One server, or the servers of a cluster separated by commas.
NATS_URL = env("NATS_URL", default="")
NATS_STREAM = env("NATS_STREAM", default="ACTIVITY_EVENTS")
# Replicas of the stream when the hub creates it (3 on a 3-node JetStream cluster).
NATS_STREAM_REPLICAS = env.int("NATS_STREAM_REPLICAS", default=1)
# The stream the hub creates (and `manage.py ensure_stream` keeps, `/health` checks): messages kept
# 30 days (0 = no age limit), and re-publishes of one event id inside 2 hours dropped by JetStream,
# which covers the relay re-publishing rows whose PubAck was lost through any outage shorter than that.
NATS_STREAM_MAX_AGE_S = env.int("NATS_STREAM_MAX_AGE_S", default=30 * 24 * 3600)
NATS_STREAM_DUPLICATE_WINDOW_S = env.int("NATS_STREAM_DUPLICATE_WINDOW_S", default=2 * 3600)
NATS_PUBLISH_TIMEOUT_S = env.float("NATS_PUBLISH_TIMEOUT_S", default=5.0)
NATS_CONNECT_TIMEOUT_S = env.float("NATS_CONNECT_TIMEOUT_S", default=1.0)
# After a failed connect, publishes fail fast (rows stay pending) for this long before trying again;
# the window doubles with each failure in a row up to the maximum. The relay probes every sweep regardless.
NATS_DOWN_BACKOFF_S = env.float("NATS_DOWN_BACKOFF_S", default=5.0)
NATS_DOWN_BACKOFF_MAX_S = env.float("NATS_DOWN_BACKOFF_MAX_S", default=60.0)
# `/health` answers from a per-process cache this young, so callers cannot turn it into load.
HEALTH_CACHE_S = env.float("HEALTH_CACHE_S", default=5.0)
EVENTS_MAX_ATTEMPTS = env.int("EVENTS_MAX_ATTEMPTS", default=10)
EVENTS_RETENTION_DAYS = env.int("EVENTS_RETENTION_DAYS", default=30)
EVENTS_RELAY_INTERVAL_S = env.float("EVENTS_RELAY_INTERVAL_S", default=30.0)
EVENTS_RELAY_BATCH_SIZE = env.int("EVENTS_RELAY_BATCH_SIZE", default=500)
# Drain loops the relay runs side by side (threads, each with its own database connection).
EVENTS_RELAY_THREADS = env.int("EVENTS_RELAY_THREADS", default=2)
EVENTS_BACKOFF_BASE_S = env.float("EVENTS_BACKOFF_BASE_S", default=2.0)
EVENTS_BACKOFF_CAP_S = env.float("EVENTS_BACKOFF_CAP_S", default=600.0)
# PubAck wait when publishing in-process right after a request's commit (no broker configured).
EVENTS_INLINE_PUBLISH_TIMEOUT_S = env.float("EVENTS_INLINE_PUBLISH_TIMEOUT_S", default=1.0)
# After the broker refused or timed out an enqueue, leave new events to the relay for this long.
EVENTS_ENQUEUE_BACKOFF_S = env.float("EVENTS_ENQUEUE_BACKOFF_S", default=10.0)
EVENTS_PRUNE_BATCH_SIZE = env.int("EVENTS_PRUNE_BATCH_SIZE", default=5000)
# How long consumers may cache the event contract's unversioned documents (versioned schemas: forever).
CONTRACT_CACHE_S = env.int("CONTRACT_CACHE_S", default=3600)
# `ce-source` of every message (a URI-reference naming this producer).
CLOUDEVENTS_SOURCE = env("CLOUDEVENTS_SOURCE", default="/state-hub")
# Where consumers reach the hub; `ce-dataschema` must be an absolute URI, so it is built on this.
# Default: https:// and the first concrete allowed host in production, the dev server in debug.
_CONCRETE_HOSTS = [host for host in ALLOWED_HOSTS if host and host != "*" and not host.startswith(".")]
STATEHUB_PUBLIC_URL = env(
    "STATEHUB_PUBLIC_URL",
    default=f"https://{_CONCRETE_HOSTS[0]}" if _CONCRETE_HOSTS and not DEBUG else "http://localhost:8000",
).rstrip("/")
# The NATS server's max_payload (its default, 1 MB): a write whose event would not fit is refused (400).
EVENTS_MAX_PAYLOAD_BYTES = env.int("EVENTS_MAX_PAYLOAD_BYTES", default=1024 * 1024)

# --- Celery ---
CELERY_BROKER_URL = env("CELERY_BROKER_URL", default="")
# With no broker configured, tasks run in-process (after commit, since they are enqueued from on_commit).
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
if CELERY_TASK_ALWAYS_EAGER:
    # Nothing reaches a broker in-process; naming the in-memory transport stops kombu guessing
    # "localhost" and warning about it on every command's stderr.
    CELERY_BROKER_URL = "memory://localhost/"
CELERY_TASK_EAGER_PROPAGATES = False
CELERY_TASK_IGNORE_RESULT = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Enqueueing from a request must never hang on a dead broker: fail fast, the relay delivers later.
CELERY_BROKER_CONNECTION_TIMEOUT = env.float("CELERY_BROKER_CONNECTION_TIMEOUT", default=1.0)
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "max_retries": 0,
    "socket_connect_timeout": 0.5,
    "socket_timeout": 1.0,
}
CELERY_TASK_PUBLISH_RETRY = False
# Celery's Django fix-up closes every database connection before and after each task unless this
# is set: a new PostgreSQL connection per published event, several milliseconds of each event's
# latency. Connections are kept like the web's instead (CONN_MAX_AGE, health-checked before each
# task: statehub/celery.py) and only recycled after this many tasks.
CELERY_DB_REUSE_MAX = 1000
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
# Exactly one beat per database: a second one exits (statehub/beat.py).
CELERY_BEAT_SCHEDULER = "statehub.beat:SingleBeatScheduler"
# Beat's own state (last run times); its directory must be writable by the beat process.
CELERY_BEAT_SCHEDULE_FILENAME = str(
    env.path("CELERY_BEAT_SCHEDULE_FILENAME", default=BASE_DIR / "var" / "celerybeat-schedule")
)
CELERY_BEAT_SCHEDULE = {
    "relay-outbox": {
        "task": "events.tasks.relay_pending_events",
        "schedule": EVENTS_RELAY_INTERVAL_S,
    },
    "prune-outbox": {
        "task": "events.tasks.prune_old_events",
        "schedule": 3600.0,
    },
}

# --- Reading repositories (DESIGN §8, "Reading repositories safely") ---
# Directories a repo's local_path must resolve inside. In development: the directory holding this
# checkout, where sibling checkouts usually live. In production: none until configured, so no path
# on the host is readable by registering a repo.
STATEHUB_REPO_ROOTS = env.list("STATEHUB_REPO_ROOTS", default=[str(BASE_DIR.parent)] if DEBUG else [])
# A workplan file larger than this is reported, not read.
WORKPLAN_MAX_BYTES = env.int("WORKPLAN_MAX_BYTES", default=1024 * 1024)
# A sweep skips a file whose stamp (device, inode, size, mtime, ctime) and hash are those it last read;
# false where checkouts live on a filesystem that does not keep mtime and ctime (docs/workplans.md).
WORKPLAN_SKIP_UNCHANGED_BY_STAT = env.bool("WORKPLAN_SKIP_UNCHANGED_BY_STAT", default=True)

# --- MCP ---
STATEHUB_MCP_USER = env("STATEHUB_MCP_USER", default="")

# --- Tracing (OpenTelemetry, statehub/tracing.py) ---
# On only when an exporter is configured: an OTLP endpoint, or `OTEL_TRACES_EXPORTER` (`otlp` or
# `console`). The SDK reads the other OTEL_* variables itself (sampler, batch sizes, headers, resource).
_TRACES_EXPORTER = env("OTEL_TRACES_EXPORTER", default="")
TRACING_ENABLED = not env.bool("OTEL_SDK_DISABLED", default=False) and (
    _TRACES_EXPORTER not in ("", "none")
    or bool(env("OTEL_EXPORTER_OTLP_ENDPOINT", default="") or env("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", default=""))
)
TRACING_EXPORTER = _TRACES_EXPORTER if _TRACES_EXPORTER not in ("", "none") else "otlp"
if TRACING_EXPORTER not in ("otlp", "console"):
    raise ImproperlyConfigured(f"OTEL_TRACES_EXPORTER must be otlp, console or none, not {TRACING_EXPORTER!r}.")
TRACING_SERVICE_NAME = env("OTEL_SERVICE_NAME", default="state-hub")

# --- Logging: one line per record (or one JSON object, LOG_FORMAT=json), to stderr ---
LOG_LEVEL = env("LOG_LEVEL", default="INFO")
LOG_FORMAT = env("LOG_FORMAT", default="line")
if LOG_FORMAT not in ("line", "json"):
    raise ImproperlyConfigured(f"LOG_FORMAT must be line or json, not {LOG_FORMAT!r}.")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        # The trace and span ids of the span a record was written in (none outside one).
        "trace_ids": {"()": "statehub.tracing.TraceIdsFilter"},
    },
    "formatters": {
        "line": {"format": "%(asctime)s %(levelname)s %(name)s %(process)d %(message)s"},
        "json": {
            # One object per line: these fields, every `extra` field (`event_id`), and the filter's
            # `trace_id`/`span_id`, which name the span in the trace back end.
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s %(process)d %(message)s",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
        },
    },
    "handlers": {
        "stderr": {
            "class": "logging.StreamHandler",
            "formatter": LOG_FORMAT,
            "stream": "ext://sys.stderr",
            "filters": ["trace_ids"],
        },
    },
    "root": {"handlers": ["stderr"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "INFO"},
        "nats": {"level": "WARNING"},
        # Its start-up banner would open every command's output; lockouts still log (logger "axes").
        "axes.apps": {"level": "WARNING"},
        # In-process tasks (no broker) would print a "Task … succeeded" line into every command's
        # output; a worker keeps them.
        **({"celery.app.trace": {"level": "WARNING"}} if CELERY_TASK_ALWAYS_EAGER else {}),
    },
}
