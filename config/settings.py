"""
The one settings module, read from the environment (see `.env.example`).

Without any environment the project runs in its *embedded* mode: SQLite and
kombu's filesystem broker under `var/`, so a laptop needs no servers. Production
sets `DATABASE_URL` (PostgreSQL) and `REDIS_URL`. Bad or missing values that
production needs fail loudly at start-up instead of limping along.
"""

import os
import ssl
from datetime import timedelta
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _
from kombu import Exchange, Queue

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
if (BASE_DIR / ".env").exists():
    env.read_env(BASE_DIR / ".env", overwrite=False)

# Everything the embedded mode writes (SQLite file, broker folders, beat state).
VAR_DIR = BASE_DIR / env.str("VAR_DIR", default="var")  # relative paths are under the project

DEBUG = env.bool("DEBUG", default=False)

SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off.")
    SECRET_KEY = "django-insecure-embedded-development-key-do-not-use-in-production"  # noqa: S105

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "knox",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    "axes",
    "crisis",
    "playbooks",
    "incidents",
    "integrations",
]

MIDDLEWARE = [
    # First: an integration key in a URL's path is taken out before anything can log it.
    "integrations.inbound.credentials.KeyInPathMiddleware",
    # A calendar feed's token (in its query string) is masked the same way (crisis/feeds.py).
    "crisis.feeds.CalendarTokenMiddleware",
    "config.observability.RequestIdMiddleware",
    # Before anything that could read a body or hand a query string to the database.
    "api.middleware.RequestBodyLimitMiddleware",
    "api.middleware.QueryStringHygieneMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "config.security.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "api.middleware.EmptyQueryParameterMiddleware",
    "api.middleware.UnknownQueryParameterMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # The console's times in the viewer's zone, its pages in their language (after the two above).
    "incidents.console.middleware.ViewerMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last: it answers a locked-out login with 429 before the view runs.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "incidents.console.context.managed_brands",
            ],
        },
    },
]

# --- Database -----------------------------------------------------------------
VAR_DIR.mkdir(parents=True, exist_ok=True)
DATABASES = {
    "default": env.db_url("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'crisis.sqlite3'}"),
}
DATABASES["default"].setdefault("TEST", {})
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # A file, not memory: the live-worker tests run a Celery worker in another
    # process, and it must see the test database.
    DATABASES["default"]["TEST"].setdefault("NAME", str(VAR_DIR / "test.sqlite3"))
    # WAL lets readers run while one writer writes; IMMEDIATE takes the write
    # lock when a transaction starts, so two writers queue on the busy timeout
    # instead of one failing with "database is locked" half-way through.
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": env.int("SQLITE_TIMEOUT_SECONDS", default=20),
    }
else:
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    # A request waiting on a lock gives up (503) instead of piling up behind it, and
    # a connection left idle inside a transaction is cut before it blocks the sweeper.
    DATABASES["default"].setdefault("OPTIONS", {})["options"] = (
        f"-c lock_timeout={env.int('PG_LOCK_TIMEOUT_MS', default=5000)}"
        f" -c idle_in_transaction_session_timeout="
        f"{env.int('PG_IDLE_IN_TRANSACTION_TIMEOUT_MS', default=60000)}"
        f" -c statement_timeout={env.int('PG_STATEMENT_TIMEOUT_MS', default=0)}"
    )
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Auth ---------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# Brute-force protection (django-axes) for the console login and the token endpoint:
# after AXES_FAILURE_LIMIT failures for a username from one address, that pair is
# refused (429) for AXES_COOLOFF_TIME.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("LOGIN_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_HTTP_RESPONSE_CODE = 429
AXES_LOCKOUT_CALLABLE = "crisis.api.lockout_response"
# Behind PROXY_COUNT proxies of our own (see PROXY_COUNT below), lockouts key on the
# client's address as the throttles see it, not on the proxy's.
AXES_CLIENT_IP_CALLABLE = "api.addresses.client_address"
LOGIN_URL = "console:login"
LOGIN_REDIRECT_URL = "console:queue"
LOGOUT_REDIRECT_URL = "console:login"

# --- Internationalisation -----------------------------------------------------
LANGUAGE_CODE = "en"
LANGUAGES = [("en", _("English")), ("ru", _("Russian"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- Static files -------------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
WHITENOISE_USE_FINDERS = DEBUG

# --- Security (production, i.e. DEBUG off) ------------------------------------
if not DEBUG:
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
    # Off only for plain-http test servers (the browser tests); never in production.
    SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = env.bool("SECURE_COOKIES", default=True)
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=60 * 60 * 24 * 365)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=True)
    if env.bool("SECURE_PROXY_SSL_HEADER", default=False):
        SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"

# Content-Security-Policy of every page (config/security.py): scripts only from our own
# static files (the console's htmx, the API docs' Swagger UI and its init script);
# inline styles allowed, for the dashboard's bars and Swagger UI's own.
CONTENT_SECURITY_POLICY = env.str(
    "CONTENT_SECURITY_POLICY",
    default="default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; object-src 'none'; "
    "base-uri 'self'; form-action 'self'; frame-ancestors 'none'",
)

# How many proxies of our own stand in front of the web process (the TLS proxy: 1). The
# client's address is then the one that many entries from the right of X-Forwarded-For;
# throttles (DRF's NUM_PROXIES) and login lockouts (AXES_CLIENT_IP_CALLABLE) both read it.
# Left at 0 behind a proxy, every client shares the proxy's address: one login bucket.
PROXY_COUNT = env.int("PROXY_COUNT", default=0)

# Request bodies above this are refused unread, whatever their type (413,
# api.middleware.RequestBodyLimitMiddleware).
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("DATA_UPLOAD_MAX_MEMORY_SIZE", default=2 * 1024 * 1024)

# --- REST framework -----------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "crisis.authentication.TokenAuthentication",
        "crisis.authentication.IntegrationKeyAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "api.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "api.errors.exception_handler",
    # JSON only: integration adapters declare their own parsers and limits.
    "DEFAULT_PARSER_CLASSES": ["api.parsers.JSONParser"],
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
    "DEFAULT_THROTTLE_CLASSES": ["crisis.throttling.CallerRateThrottle"],
    # Trust X-Forwarded-For only as far as our own proxies (throttles key on the address).
    "NUM_PROXIES": PROXY_COUNT,
    "DATETIME_FORMAT": "iso-8601",
}
REST_KNOX = {
    "TOKEN_TTL": timedelta(seconds=env.int("TOKEN_TTL_SECONDS", default=24 * 3600)),
    "AUTH_HEADER_PREFIX": "Token",
    "AUTO_REFRESH": False,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Crisis Desk API",
    "DESCRIPTION": "Incidents, SLA clocks and escalation for social-media brand crises.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    # Serve Swagger UI from our own static files: no CDN at run time.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    # No badge fetched from the public validator (the CSP allows our own origin only).
    "SWAGGER_UI_SETTINGS": {"deepLinking": True, "validatorUrl": None},
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "api.schema.add_error_responses",
    ],
    "ENUM_NAME_OVERRIDES": {
        "ChannelKindEnum": "incidents.models.ChannelKind",
        "EventKindEnum": "incidents.models.EventKind",
        "SeverityEnum": "crisis.models.Severity",
        "ChannelEnum": "crisis.models.Channel",
        "MemberRoleEnum": "crisis.models.Role",
        "StepRoleEnum": "playbooks.models.STEP_ROLES",
        "EscalationRoleEnum": "incidents.chain.LEVEL_ROLES",
        "SourceKindEnum": "integrations.sources.models.SourceKind",
    },
}

# Requests per caller (a token's user, an integration key, or an address when
# anonymous); over it the API answers 429 with Retry-After.
API_THROTTLE_RATE = env.str("API_THROTTLE_RATE", default="3000/min")
LOGIN_THROTTLE_RATE = env.str("LOGIN_THROTTLE_RATE", default="30/min")

IDEMPOTENCY_TTL_SECONDS = env.int("IDEMPOTENCY_TTL_SECONDS", default=24 * 3600)
# A request that reserved an Idempotency-Key and then died leaves a "running"
# record; after this long another request may take it over.
IDEMPOTENCY_STALE_SECONDS = env.int("IDEMPOTENCY_STALE_SECONDS", default=60)

# --- Celery -------------------------------------------------------------------
BROKER_DIR = VAR_DIR / "broker"
REDIS_URL = env.str("REDIS_URL", default="")
# Put before every key the desk writes in Redis (broker, cache, rate limits), so that
# several desks can share one Redis database; the test suite's parallel processes do.
REDIS_KEY_PREFIX = env.str("REDIS_KEY_PREFIX", default="")
if REDIS_URL:
    CELERY_BROKER_URL = REDIS_URL
    # kombu's Redis transport, except that a worker holding messages survives Redis
    # going away (config/redis_broker.py; celery 5.7.0 would exit for good).
    CELERY_BROKER_TRANSPORT = "config.redis_broker:Transport"
    if REDIS_URL.startswith("rediss://"):
        # Named by class rather than scheme, the transport takes TLS from here.
        CELERY_BROKER_USE_SSL = {"ssl_cert_reqs": ssl.CERT_REQUIRED}
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        # Longer than any ETA we publish would be wrong; we publish no long ETAs
        # (the database is the clock), so an hour only bounds redelivery of
        # messages held by a dead worker.
        "visibility_timeout": 3600,
        # Fail fast when Redis is unreachable instead of hanging a request: one
        # connection attempt per publish (kombu's default is a backoff of seconds).
        # Workers reconnect with their own retry loop (broker_connection_retry).
        "socket_connect_timeout": 2,
        "socket_timeout": 5,
        "max_retries": 1,
        "interval_start": 0,
        "interval_step": 0.1,
        "interval_max": 0.2,
    }
    if REDIS_KEY_PREFIX:
        CELERY_BROKER_TRANSPORT_OPTIONS["global_keyprefix"] = REDIS_KEY_PREFIX
else:
    BROKER_DIR.mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_URL = "filesystem://"
    CELERY_BROKER_TRANSPORT = "config.filesystem_broker:Transport"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(BROKER_DIR),
        "data_folder_out": str(BROKER_DIR),
        "control_folder": str(BROKER_DIR / "control"),
        # The virtual transport sleeps this long whenever it cannot hand out a
        # message (the default, 1 s, caps a worker at a couple of tasks a second).
        "polling_interval": 0.05,
    }
    (BROKER_DIR / "control").mkdir(exist_ok=True)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# A worker or beat whose broker is away keeps trying to reconnect, however long it takes
# (Celery's default gives up after 100 attempts, about 46 minutes, and exits).
CELERY_BROKER_CONNECTION_MAX_RETRIES = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# One process more than the cores: a burst's parallel sweeps hold a process per core
# (ESCALATION_PARALLEL_SWEEPS), and deliveries, which mostly wait on mail servers and
# webhooks, then start at once beside them instead of after the last escalation
# (figures: docs/benchmarks.md, escalation_lateness). `--concurrency` overrides it.
CELERY_WORKER_CONCURRENCY = env.int("CELERY_WORKER_CONCURRENCY", default=(os.cpu_count() or 1) + 1)
CELERY_TIMEZONE = "UTC"
CELERY_ENABLE_UTC = True
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
# One direct exchange per queue, so a worker started without -Q consumes all three
# and a message lands in exactly one of them.
CELERY_TASK_QUEUES = [
    Queue(name, Exchange(name, type="direct"), routing_key=name)
    for name in ("celery", "clock", "escalations", "notifications", "sources")
]
CELERY_TASK_DEFAULT_QUEUE = "celery"
CELERY_TASK_ROUTES = {
    # The sweeper is the guarantee: it has a queue of its own, so that it never
    # waits behind a backlog of fast-path tasks.
    "incidents.tasks.sweep": {"queue": "clock"},
    "incidents.tasks.sweep_early": {"queue": "clock"},
    "incidents.tasks.fire_due_timers": {"queue": "escalations"},
    "incidents.tasks.deliver_notifications": {"queue": "notifications"},
    # Polls call the outside world: never on the clock's queue (DESIGN.md rule 7).
    "integrations.sources.tasks.sweep_sources": {"queue": "sources"},
    "integrations.sources.tasks.poll_source": {"queue": "sources"},
}
# A task publish must never hold up a request: one try, and on failure the
# sweeper picks the work up from the database (see incidents/publish.py).
CELERY_TASK_PUBLISH_RETRY = False
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")

# --- The clock (incidents/clock.py) -------------------------------------------
# How often beat runs the sweeper; an escalation lands at most one tick late
# even when every ETA task is lost.
ESCALATION_TICK_SECONDS = env.float("ESCALATION_TICK_SECONDS", default=5.0)
if not 0.2 <= ESCALATION_TICK_SECONDS <= 60:
    raise ImproperlyConfigured("ESCALATION_TICK_SECONDS must be between 0.2 and 60.")
# Due rows claimed per sweeper transaction: large enough that the per-batch cost is
# paid rarely, small enough that batches commit in a steady stream while many rows are
# due at once (bench/escalation_lateness.py; figures in docs/benchmarks.md).
ESCALATION_SWEEP_BATCH = env.int("ESCALATION_SWEEP_BATCH", default=500)
# Early sweeps started together at the moment timers fall due (about one per worker process).
ESCALATION_PARALLEL_SWEEPS = env.int("ESCALATION_PARALLEL_SWEEPS", default=2)
# Share of the ack window after which responders get an `sla_warning`.
SLA_WARNING_SHARE = env.float("SLA_WARNING_SHARE", default=0.8)
# ETA tasks are published only for deadlines this close; the rest wait in the
# database, so a worker holds at most this window's worth of ETA messages and
# none outlives the broker's visibility timeout.
ESCALATION_ETA_WINDOW_SECONDS = env.float(
    "ESCALATION_ETA_WINDOW_SECONDS", default=max(2 * ESCALATION_TICK_SECONDS, 10.0)
)
# Managers are reminded of a resolved incident not reviewed within this long.
REVIEW_REMINDER_SECONDS = env.int("REVIEW_REMINDER_SECONDS", default=7 * 24 * 3600)
# /readyz reports beat as stale when the sweeper has not run for this many ticks.
HEARTBEAT_STALE_TICKS = 3
# Dead-man's switch: every sweep pings this URL (e.g. a healthchecks.io check), at most
# once per HEARTBEAT_PING_SECONDS, so that a dead worker, beat or broker pages someone
# outside the desk when the pings stop (incidents/heartbeat.py). Empty: no ping.
HEARTBEAT_URL = env.str("HEARTBEAT_URL", default="")
HEARTBEAT_PING_SECONDS = env.float("HEARTBEAT_PING_SECONDS", default=60.0)
if HEARTBEAT_URL and not HEARTBEAT_URL.startswith(("https://", "http://")):
    raise ImproperlyConfigured("HEARTBEAT_URL must be an http(s) URL.")
CELERY_BEAT_SCHEDULE = {
    "sweep": {
        "task": "incidents.tasks.sweep",
        "schedule": ESCALATION_TICK_SECONDS,
        # A tick that could not run in time is replaced by the next one.
        "options": {"expires": ESCALATION_TICK_SECONDS * 2},
    },
    "housekeeping": {
        "task": "incidents.tasks.housekeeping",
        "schedule": env.int("HOUSEKEEPING_SECONDS", default=600),
    },
}

# --- Pulled sources (integrations/sources/) ------------------------------------
# Fernet keys (comma-separated: the first seals, any opens) for sources' credentials.
# Unset, a key is derived from SECRET_KEY (integrations/sources/credentials.py; then
# rotating SECRET_KEY makes stored credentials unreadable: set this in production,
# `check --deploy` warns).
SOURCE_CREDENTIALS_KEY = env.str("SOURCE_CREDENTIALS_KEY", default="")
# Each tool's API, so that tests (and a proxy of your own) can stand in for it.
BRAND_ANALYTICS_API_URL = env.str("BRAND_ANALYTICS_API_URL", default="https://api.br-analytics.ru")
TALKWALKER_API_URL = env.str("TALKWALKER_API_URL", default="https://api.talkwalker.com")
# How often beat claims the sources that are due (each on its own poll task).
SOURCES_SWEEP_SECONDS = env.float("SOURCES_SWEEP_SECONDS", default=15.0)
SOURCES_MIN_INTERVAL_SECONDS = env.int("SOURCES_MIN_INTERVAL_SECONDS", default=60)
SOURCES_BACKOFF_MAX_SECONDS = env.int("SOURCES_BACKOFF_MAX_SECONDS", default=3600)
# One HTTP request to a tool; a whole poll stops asking for more pages after the budget.
SOURCES_HTTP_TIMEOUT_SECONDS = env.float("SOURCES_HTTP_TIMEOUT_SECONDS", default=20.0)
SOURCES_POLL_BUDGET_SECONDS = env.float("SOURCES_POLL_BUDGET_SECONDS", default=60.0)
SOURCES_MAX_PAGES_PER_POLL = env.int("SOURCES_MAX_PAGES_PER_POLL", default=10)
SOURCES_MAX_RESPONSE_BYTES = env.int("SOURCES_MAX_RESPONSE_BYTES", default=8 * 1024 * 1024)
# A claimed poll that reports nothing (its task lost, its worker killed) is due again
# after this long; longer than a poll can run (the task's hard time limit), so two
# polls of one source never overlap.
SOURCES_LEASE_SECONDS = env.int("SOURCES_LEASE_SECONDS", default=300)
CELERY_BEAT_SCHEDULE["sweep-sources"] = {
    "task": "integrations.sources.tasks.sweep_sources",
    "schedule": SOURCES_SWEEP_SECONDS,
    "options": {"expires": SOURCES_SWEEP_SECONDS * 2},
}

# --- Notifications (incidents/outbox.py) ---------------------------------------
NOTIFICATION_MAX_ATTEMPTS = env.int("NOTIFICATION_MAX_ATTEMPTS", default=8)
NOTIFICATION_BACKOFF_SECONDS = env.float("NOTIFICATION_BACKOFF_SECONDS", default=5.0)
NOTIFICATION_BACKOFF_MAX_SECONDS = env.float("NOTIFICATION_BACKOFF_MAX_SECONDS", default=900.0)
# A pending notification whose task was lost is published again after this long.
NOTIFICATION_REPUBLISH_SECONDS = env.float("NOTIFICATION_REPUBLISH_SECONDS", default=60.0)
WEBHOOK_TIMEOUT_SECONDS = env.float("WEBHOOK_TIMEOUT_SECONDS", default=5.0)
# The channel adapters, by kind (incidents/channels/__init__.py): a dotted path each, so
# that a package above the desk plugs its channel in here without incidents/ importing it.
NOTIFICATION_CHANNELS = {
    "email": "incidents.channels.email.EmailChannel",
    "webhook": "incidents.channels.webhook.WebhookChannel",
    "apprise": "incidents.channels.apprise.AppriseChannel",
}
# Per worker process: SMTP connections open at once (each kept across a burst), webhook
# hosts posted to at once, connections per webhook host, Apprise sends at once.
NOTIFICATION_EMAIL_CONNECTIONS = env.int("NOTIFICATION_EMAIL_CONNECTIONS", default=4)
NOTIFICATION_WEBHOOK_CONCURRENCY = env.int("NOTIFICATION_WEBHOOK_CONCURRENCY", default=8)
NOTIFICATION_WEBHOOK_CONNECTIONS_PER_HOST = env.int("NOTIFICATION_WEBHOOK_CONNECTIONS_PER_HOST", default=2)
NOTIFICATION_APPRISE_CONCURRENCY = env.int("NOTIFICATION_APPRISE_CONCURRENCY", default=4)
# Across all workers, in the `limits` notation ("50/second", "1000/hour"); empty: none.
# The mail provider's sending rate; the rate each webhook host is posted to.
NOTIFICATION_EMAIL_RATE = env.str("NOTIFICATION_EMAIL_RATE", default="")
NOTIFICATION_WEBHOOK_RATE_PER_HOST = env.str("NOTIFICATION_WEBHOOK_RATE_PER_HOST", default="")
# Threads of a worker process that send (each list of notifications on one of them).
NOTIFICATION_DELIVERY_THREADS = env.int("NOTIFICATION_DELIVERY_THREADS", default=16)
# A send waits this long at most for its rate limit; a longer wait puts it back in the
# outbox, untried, until the limit allows it.
NOTIFICATION_RATE_WAIT_SECONDS = env.float("NOTIFICATION_RATE_WAIT_SECONDS", default=2.0)
# A channel with nothing to send for this long closes its open connections.
NOTIFICATION_IDLE_CLOSE_SECONDS = env.float("NOTIFICATION_IDLE_CLOSE_SECONDS", default=30.0)
# Every outbound connection (webhooks, Apprise, chat) goes to public addresses over
# https only (incidents/outbound.py). Allowing private networks lets it reach loopback,
# private and CGNAT addresses, and plain http, for local fakes in development and tests
# or a desk inside a private network posting to its own bridge; link-local (cloud
# metadata), multicast and unspecified addresses stay refused. The old name is read too.
OUTBOUND_ALLOW_PRIVATE_NETWORKS = env.bool(
    "OUTBOUND_ALLOW_PRIVATE_NETWORKS", default=env.bool("WEBHOOK_ALLOW_PRIVATE_TARGETS", default=False)
)
# --- Telegram (integrations/chat/; API.md "Chat") ----------------------------
# Without a token the channel is not offered. With the secret set, updates arrive by
# webhook (the X-Telegram-Bot-Api-Secret-Token header must equal it); without it, by
# long polling (`manage.py telegram_poll`, in both Procfiles).
TELEGRAM_BOT_TOKEN = env.str("TELEGRAM_BOT_TOKEN", default="")
TELEGRAM_API_URL = env.str("TELEGRAM_API_URL", default="https://api.telegram.org")
TELEGRAM_WEBHOOK_SECRET = env.str("TELEGRAM_WEBHOOK_SECRET", default="")
# The bot's @username for t.me links; empty: asked once with getMe.
TELEGRAM_BOT_USERNAME = env.str("TELEGRAM_BOT_USERNAME", default="")
TELEGRAM_TIMEOUT_SECONDS = env.float("TELEGRAM_TIMEOUT_SECONDS", default=10.0)
TELEGRAM_LINK_CODE_SECONDS = env.int("TELEGRAM_LINK_CODE_SECONDS", default=600)
# How long the bot waits for the reason of a Reject pressed on a statement's message.
TELEGRAM_REJECT_PROMPT_SECONDS = env.int("TELEGRAM_REJECT_PROMPT_SECONDS", default=3600)
# Telegram's limits (https://core.telegram.org/bots/faq#my-bot-is-hitting-limits-how-do-i-avoid-this),
# held across every worker (incidents/ratelimits.py); settings so that tests can shrink them.
TELEGRAM_RATE_PER_BOT = env.str("TELEGRAM_RATE_PER_BOT", default="30/second")
TELEGRAM_RATE_PER_GROUP = env.str("TELEGRAM_RATE_PER_GROUP", default="20/minute")
TELEGRAM_RATE_PER_PRIVATE_CHAT = env.str("TELEGRAM_RATE_PER_PRIVATE_CHAT", default="1/second")
# Lists of Telegram messages sent at once by one worker process (one per chat).
NOTIFICATION_TELEGRAM_CONCURRENCY = env.int("NOTIFICATION_TELEGRAM_CONCURRENCY", default=4)
if TELEGRAM_BOT_TOKEN:  # without a token the channel is not offered (API.md, "Chat")
    NOTIFICATION_CHANNELS["telegram"] = "integrations.chat.telegram.TelegramChannel"
# Told of every timeline event as it is written, inside its transaction (incidents/timeline.py):
# the group chats' messages of an incident follow it from here.
TIMELINE_LISTENERS = ["integrations.chat.telegram.timeline_listener"]
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="crisis-desk@localhost")
SITE_URL = env.str("SITE_URL", default="http://127.0.0.1:8000")
# crisis/ may not import the desk: an invitation's e-mail reaches the outbox through this.
INVITATION_SENDER = "incidents.outbox.invitation_enqueue"

# --- Cache (throttle counters) ------------------------------------------------
# Shared between web processes through Redis when there is one. While it does not
# answer, throttles count per process (crisis/throttling.py): no request waits on it
# longer than these timeouts, and none fails because of it.
if "CACHE_URL" in env:
    CACHES = {"default": env.cache_url("CACHE_URL")}
elif REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": f"{REDIS_KEY_PREFIX}crisis-cache",
            "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# --- Logging and metrics ------------------------------------------------------
# JSON lines with the request id in production; readable text in the embedded mode.
LOG_FORMAT = env.str("LOG_FORMAT", default="text" if DEBUG else "json")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "config.observability.RequestIdFilter"}},
    "formatters": {
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "format": "%(asctime)s %(levelname)s %(name)s %(request_id)s %(message)s",
            "rename_fields": {"asctime": "time", "levelname": "level"},
        },
        "text": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT, "filters": ["request_id"]}
    },
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
}
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
PROMETHEUS_MULTIPROC_DIR = env.str("PROMETHEUS_MULTIPROC_DIR", default="")
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")

# e.g. EMAIL_URL=smtp+tls://user:password@smtp.example.com:587. Without it (the embedded
# default) every e-mail is written as a file under VAR_DIR/mail/, one per message, where
# the demo's people read what the desk sent them (README, "Demo").
if "EMAIL_URL" in env:
    vars().update(env.email_url("EMAIL_URL"))
else:
    EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    EMAIL_FILE_PATH = str(VAR_DIR / "mail")
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=10)
if "EMAIL_BACKEND" in env:
    EMAIL_BACKEND = env.str("EMAIL_BACKEND")
