"""Settings for the State Hub, each read once from the environment (DESIGN §10)."""

from pathlib import Path

import environ

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
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_prometheus",
    "events",
    "hub",
]

MIDDLEWARE = [
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    "statehub.errors.RequestLimitsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",
]

# Larger request bodies are a JSON 413 before they are read (statehub.errors.RequestLimitsMiddleware).
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("DATA_UPLOAD_MAX_MEMORY_SIZE", default=2_621_440)

ROOT_URLCONF = "statehub.urls"
WSGI_APPLICATION = "statehub.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
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
# An unreachable or hung database must cost a request seconds, not a worker timeout (DESIGN §6.11).
# libpq counts the connect timeout in whole seconds, 2 at least; 0 turns a timeout off.
DATABASE_CONNECT_TIMEOUT_S = env.int("DATABASE_CONNECT_TIMEOUT_S", default=2)
DATABASE_STATEMENT_TIMEOUT_S = env.float("DATABASE_STATEMENT_TIMEOUT_S", default=30.0)
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

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "var" / "static"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
# Serve app static files straight from the finders, so the admin and /docs/ work without collectstatic.
WHITENOISE_USE_FINDERS = True

# --- Security (production values; `manage.py check --deploy` is clean with DEBUG off) ---
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=not DEBUG)
SECURE_REDIRECT_EXEMPT = [r"^health$"]
SESSION_COOKIE_SECURE = not DEBUG
CSRF_COOKIE_SECURE = not DEBUG
SECURE_HSTS_SECONDS = env.int("DJANGO_SECURE_HSTS_SECONDS", default=0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
SECURE_HSTS_PRELOAD = not DEBUG
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"

# --- REST framework ---
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["hub.api.permissions.ModelPermissionsWithRead"],
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "rest_framework.filters.OrderingFilter",
    ],
    "DEFAULT_PAGINATION_CLASS": "hub.api.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "hub.api.schema.HubAutoSchema",
    "EXCEPTION_HANDLER": "hub.api.exceptions.exception_handler",
    "DEFAULT_PARSER_CLASSES": [
        "hub.api.parsers.JSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_THROTTLE_CLASSES": [
        "rest_framework.throttling.AnonRateThrottle",
        "rest_framework.throttling.UserRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "anon": env("API_THROTTLE_ANON", default="120/minute"),
        "user": env("API_THROTTLE_USER", default="6000/minute"),
        "health": env("API_THROTTLE_HEALTH", default="60/minute"),
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
    "PREPROCESSING_HOOKS": ["hub.api.schema.drop_aliases"],
    "SCHEMA_PATH_PREFIX": "/",
}

# --- Events (NATS JetStream, outbox) ---
NATS_URL = env("NATS_URL", default="")
NATS_STREAM = env("NATS_STREAM", default="ACTIVITY_EVENTS")
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
# The NATS server's max_payload (its default, 1 MB): a write whose event would not fit is refused (400).
EVENTS_MAX_PAYLOAD_BYTES = env.int("EVENTS_MAX_PAYLOAD_BYTES", default=1024 * 1024)

# --- Celery ---
CELERY_BROKER_URL = env("CELERY_BROKER_URL", default="")
# With no broker configured, tasks run in-process (after commit, since they are enqueued from on_commit).
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
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
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
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

# --- MCP ---
STATEHUB_MCP_USER = env("STATEHUB_MCP_USER", default="")

# --- Logging: one line per record, to stderr ---
LOG_LEVEL = env("LOG_LEVEL", default="INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "line": {"format": "%(asctime)s %(levelname)s %(name)s %(process)d %(message)s"},
    },
    "handlers": {
        "stderr": {"class": "logging.StreamHandler", "formatter": "line", "stream": "ext://sys.stderr"},
    },
    "root": {"handlers": ["stderr"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "INFO"},
        "nats": {"level": "WARNING"},
    },
}
