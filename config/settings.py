"""Recado settings, read once from the environment (django-environ).

With neither DATABASE_URL nor REDIS_URL set, Recado runs on the embedded default: SQLite and
Celery's filesystem transport (no server needed; worker and beat really run). With them it runs
on PostgreSQL and Redis, as production and CI do.
"""

import os
from pathlib import Path

import environ
import structlog
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.Env()
# Real environment variables win; then .env; then the keys `make run` generated for this checkout.
# RECADO_ENV_FILE names the one file to read instead ("" for none: the test suite reads no file).
if "RECADO_ENV_FILE" in os.environ:
    _env_files = [os.environ["RECADO_ENV_FILE"]]
else:
    _env_files = [str(BASE_DIR / ".env"), str(VAR_DIR / "local.env")]
for _env_file in _env_files:
    if _env_file and Path(_env_file).is_file():
        environ.Env.read_env(_env_file)

DEBUG = env.bool("DJANGO_DEBUG", default=False)

SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "DJANGO_SECRET_KEY is not set. Recado refuses to start without it outside debug mode: "
            "set DJANGO_SECRET_KEY to a long random string (or DJANGO_DEBUG=1 for local work)."
        )
    # Debug only: a fixed, obviously-local key so sessions survive restarts.
    SECRET_KEY = "insecure-local-debug-key-never-use-in-production"  # noqa: S105 - debug only, by design

ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]"])
# When set, GET /metrics answers only with `Authorization: Bearer <token>` (Prometheus' `bearer_token`):
# the figures name gateways and show traffic, for a server reachable from outside.
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

# Fernet keys (comma-separated, newest first) for secrets at rest. Required outside debug mode:
# a key derived from SECRET_KEY would make stored secrets unreadable the day that key rotates.
FIELD_ENCRYPTION_KEYS = env.list("FIELD_ENCRYPTION_KEY", default=[])
if not FIELD_ENCRYPTION_KEYS and not DEBUG:
    raise ImproperlyConfigured(
        "FIELD_ENCRYPTION_KEY is not set. Recado encrypts gateway secrets at rest and refuses to start "
        "without a key outside debug mode. Generate one with: "
        'python -c "import base64, os; print(base64.urlsafe_b64encode(os.urandom(32)).decode())"'
    )

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "django_celery_beat",
    "django_prometheus",
    "chips",
    "conversations",
    "integrations",
    "simulator",
]

MIDDLEWARE = [
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
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

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
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

# --- Database -------------------------------------------------------------------------------
DATABASE_URL = env.str("DATABASE_URL", default="")
if DATABASE_URL:
    DATABASES = {"default": env.db_url("DATABASE_URL")}
    # Persistent connections: a new connection per request makes ingest several times slower.
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=600)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
        # The same backend, pinging only connections that sat idle (see config/postgresql/base.py).
        DATABASES["default"]["ENGINE"] = "config.postgresql"
else:
    VAR_DIR.mkdir(exist_ok=True)
    _sqlite_path = env.str("SQLITE_PATH", default=str(VAR_DIR / "recado.sqlite3"))
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": _sqlite_path,
            "OPTIONS": {
                # Web, worker, beat and relay write concurrently: WAL lets readers proceed, and
                # IMMEDIATE transactions take the write lock up front instead of failing midway.
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
                "transaction_mode": "IMMEDIATE",
                "timeout": 30,
            },
            # A file, not shared-cache memory: tests run a real worker in threads beside the test.
            "TEST": {"NAME": _sqlite_path + "-test"},
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Broker and cache ---------------------------------------------------------------------------
REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    CELERY_BROKER_URL = REDIS_URL
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        # Unacknowledged tasks of a dead worker come back after this; longer than any countdown.
        "visibility_timeout": 900,
        "socket_connect_timeout": 2,
        "socket_timeout": 5,
    }
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
else:
    _broker_dir = Path(env.str("CELERY_FILESYSTEM_DIR", default=str(VAR_DIR / "broker")))
    (_broker_dir / "queue").mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_URL = "filesystem://"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "control_folder": str(_broker_dir / "control"),  # broadcast (remote control) state
        "store_processed": False,
    }
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.db.DatabaseCache",
            "LOCATION": "recado_cache",
        }
    }

CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
# A task is acknowledged only when it finished, and given back if its worker dies: with
# idempotent steps this turns "at most once" into "exactly one visible effect".
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_TIMEZONE = "UTC"
# Celery's Django fixup closes the task thread's database connection before and after every task,
# unless this is set (then once every 2 x N tasks): a new PostgreSQL backend per task. Connections are
# kept instead as in a web request, by CONN_MAX_AGE and the health check (config/celery.py).
CELERY_DB_REUSE_MAX = 1_000_000

# --- Pipeline -------------------------------------------------------------------------------------
WEBHOOK_MAX_BODY_BYTES = env.int("WEBHOOK_MAX_BODY_BYTES", default=2 * 1024 * 1024)
WEBHOOK_ROUTE_CACHE_SECONDS = env.float("WEBHOOK_ROUTE_CACHE_SECONDS", default=5.0)
# New messages of concurrent webhook requests are written by one statement (PostgreSQL only); the
# ids of the newest INGEST_RECENT_IDS stored messages answer redeliveries without the database.
INGEST_GROUP_COMMIT = env.bool("INGEST_GROUP_COMMIT", default=True)
INGEST_GROUP_COMMIT_MAX_ROWS = env.int("INGEST_GROUP_COMMIT_MAX_ROWS", default=500)
INGEST_RECENT_IDS = env.int("INGEST_RECENT_IDS", default=100_000)
RELAY_POLL_SECONDS = env.float("RELAY_POLL_SECONDS", default=0.05)
RELAY_BATCH_SIZE = env.int("RELAY_BATCH_SIZE", default=200)
# A message handed to the workers but still unanswered after this is handed over again.
INBOUND_REHAND_SECONDS = env.int("INBOUND_REHAND_SECONDS", default=90)
TURN_LEASE_SECONDS = env.int("TURN_LEASE_SECONDS", default=120)
OUTBOUND_STUCK_SECONDS = env.int("OUTBOUND_STUCK_SECONDS", default=300)
GATEWAY_HTTP_TIMEOUT = env.float("GATEWAY_HTTP_TIMEOUT", default=15.0)
MEDIA_MAX_BYTES = env.int("MEDIA_MAX_BYTES", default=32 * 1024 * 1024)
# Typing presence before each bubble: this many ms per character, within these bounds.
TYPING_MS_PER_CHAR = env.int("TYPING_MS_PER_CHAR", default=35)
TYPING_MIN_MS = env.int("TYPING_MIN_MS", default=600)
TYPING_MAX_MS = env.int("TYPING_MAX_MS", default=4000)

# --- Agent ------------------------------------------------------------------------------------------
OPENAI_API_KEY = env.str("OPENAI_API_KEY", default="")
OPENAI_BASE_URL = env.str("OPENAI_BASE_URL", default="")
AGENT_MODEL = env.str("AGENT_MODEL", default="")
AGENT_TIMEOUT_SECONDS = env.float("AGENT_TIMEOUT_SECONDS", default=30.0)
# Retries of one LLM request on connection errors, timeouts, 429 and 5xx (the SDK's backoff).
AGENT_MAX_RETRIES = env.int("AGENT_MAX_RETRIES", default=2)
# USD per million tokens, {"model": [input, output]}, over agent.pricing.DEFAULT_PRICES.
AGENT_PRICE_TABLE = env.json("AGENT_PRICE_TABLE", default={})
# The LLM circuit breaker (shared by all workers): opens after this many consecutive failures and
# sends turns to the offline playbook for the cool-down, then lets one trial turn through.
AGENT_BREAKER_FAILURES = env.int("AGENT_BREAKER_FAILURES", default=5)
AGENT_BREAKER_COOLDOWN_SECONDS = env.int("AGENT_BREAKER_COOLDOWN_SECONDS", default=60)
TRANSCRIPTION_MODEL = env.str("TRANSCRIPTION_MODEL", default="")
# Describes customers' images; empty: the agent's own model (the profile's, else AGENT_MODEL).
AGENT_VISION_MODEL = env.str("AGENT_VISION_MODEL", default="")
# Audio, images and documents larger than this are not sent to be understood (the agent is told).
MEDIA_UNDERSTANDING_MAX_BYTES = env.int("MEDIA_UNDERSTANDING_MAX_BYTES", default=20 * 1024 * 1024)

# --- Integrations configured later (listed so every variable is read here, once) ---------------
SALVY_API_URL = env.str("SALVY_API_URL", default="https://api.salvy.com.br/api/v2")
SALVY_API_TOKEN = env.str("SALVY_API_TOKEN", default="")
SALVY_WEBHOOK_SECRET = env.str("SALVY_WEBHOOK_SECRET", default="")
SALVY_DEFAULT_DDD = env.str("SALVY_DEFAULT_DDD", default="11")
# How long the provisioning screen reuses Salvy's list of DDDs in stock (0: ask every time).
SALVY_AREA_CODES_CACHE_SECONDS = env.int("SALVY_AREA_CODES_CACHE_SECONDS", default=60)
CHATWOOT_API_URL = env.str("CHATWOOT_API_URL", default="")
CHATWOOT_API_TOKEN = env.str("CHATWOOT_API_TOKEN", default="")
CHATWOOT_ACCOUNT_ID = env.str("CHATWOOT_ACCOUNT_ID", default="")
CHATWOOT_INBOX_ID = env.str("CHATWOOT_INBOX_ID", default="")
CHATWOOT_WEBHOOK_SECRET = env.str("CHATWOOT_WEBHOOK_SECRET", default="")
PIPERUN_API_URL = env.str("PIPERUN_API_URL", default="")
PIPERUN_API_TOKEN = env.str("PIPERUN_API_TOKEN", default="")
PIPERUN_PIPELINE_ID = env.str("PIPERUN_PIPELINE_ID", default="")
PIPERUN_STAGE_ID = env.str("PIPERUN_STAGE_ID", default="")
PIPERUN_ORIGIN_ID = env.str("PIPERUN_ORIGIN_ID", default="")
SLACK_WEBHOOK_URL = env.str("SLACK_WEBHOOK_URL", default="")
CLOUDAPI_APP_SECRET = env.str("CLOUDAPI_APP_SECRET", default="")
CLOUDAPI_VERIFY_TOKEN = env.str("CLOUDAPI_VERIFY_TOKEN", default="")

# --- The fleet: warm-up, pacing, health ------------------------------------------------------------
# Where gateways reach this Recado (webhook URLs configured on new sessions), without a trailing slash.
PUBLIC_BASE_URL = env.str("PUBLIC_BASE_URL", default="http://127.0.0.1:8000").rstrip("/")
# Daily cap by days since warm-up began, "day:cap" steps; the chip is warmed once the last day is reached.
CHIP_WARMUP_PLAN = env.str("CHIP_WARMUP_PLAN", default="0:20,3:50,7:100,14:200")
# Daily cap of proactive sends once warmed (a chip's own daily_cap overrides both).
CHIP_DAILY_CAP = env.int("CHIP_DAILY_CAP", default=500)
# Minimum seconds between two sends of one chip, plus up to this much random jitter.
CHIP_SEND_INTERVAL_SECONDS = env.float("CHIP_SEND_INTERVAL_SECONDS", default=3.0)
CHIP_SEND_JITTER_SECONDS = env.float("CHIP_SEND_JITTER_SECONDS", default=2.0)
# No proactive sends in these local hours (replies to a customer who wrote are not affected).
CHIP_QUIET_HOURS = env.str("CHIP_QUIET_HOURS", default="21:00-08:00")
CHIP_TIME_ZONE = env.str("CHIP_TIME_ZONE", default="America/Sao_Paulo")
# How often beat asks every gateway for its chips' connection state, and syncs Salvy.
CHIP_HEALTH_CHECK_SECONDS = env.int("CHIP_HEALTH_CHECK_SECONDS", default=120)
SALVY_SYNC_SECONDS = env.int("SALVY_SYNC_SECONDS", default=900)
# Release a banned number at Salvy (reason whatsapp-ban) unless the chip says otherwise.
CHIP_CANCEL_ON_BAN = env.bool("CHIP_CANCEL_ON_BAN", default=False)

# --- Web ----------------------------------------------------------------------------------------------
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
STATIC_ROOT = VAR_DIR / "static"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG
MEDIA_ROOT = env.str("MEDIA_ROOT", default=str(VAR_DIR / "media"))
LOGIN_URL = "admin:login"

REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
}
SPECTACULAR_SETTINGS = {"TITLE": "Recado API", "VERSION": "0.1.0"}

LOGGING_CONFIG = "config.logging.configure"
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "json": {
            "()": structlog.stdlib.ProcessorFormatter,
            "processor": structlog.processors.JSONRenderer(ensure_ascii=False),
            # Django's and Celery's own stdlib records get the same fields as ours.
            "foreign_pre_chain": [
                structlog.stdlib.add_log_level,
                structlog.stdlib.add_logger_name,
                structlog.processors.TimeStamper(fmt="iso", utc=True),
            ],
        }
    },
    "filters": {"redact_url_secrets": {"()": "config.logging.RedactUrlSecrets"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "json"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    # These log request paths and URLs, where some providers carry secrets.
    "loggers": {
        "django.request": {"filters": ["redact_url_secrets"]},
        "django.server": {"filters": ["redact_url_secrets"]},
        "httpx": {"filters": ["redact_url_secrets"], "level": "WARNING"},
    },
}
