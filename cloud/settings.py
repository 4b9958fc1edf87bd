"""Django settings for the control plane (api, conductor, scheduler, beat).

Everything comes from the environment (django-environ); `.env.example` lists
every variable with its default. The compute worker does not load this
module: it has no database (see cloud/workers/config.py).
"""

from pathlib import Path

import environ

from cloud.payloads import version_pin

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
if (BASE_DIR / ".env").exists():
    environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

VAR_DIR = Path(env.str("STRATUS_VAR_DIR", default=str(BASE_DIR / "var")))

SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="stratus-dev-insecure-change-me")
DEBUG = env.bool("DJANGO_DEBUG", default=False)
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["*"])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "django_filters",
    "cloud.identity",
    "cloud.images",
    "cloud.hosts",
    "cloud.placement",
    "cloud.scheduler",
    "cloud.instances",
    "cloud.conductor",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "cloud.api.middleware.RequestIdMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "cloud.api.middleware.CsrfExemptTokenRequestsMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

# The OpenStack clients call version documents at URLs without a trailing
# slash (`GET /compute/v2.1`); the URL conf serves both spellings itself.
APPEND_SLASH = False

ROOT_URLCONF = "cloud.urls"
WSGI_APPLICATION = "cloud.wsgi.application"

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

DATABASES = {
    "default": env.db_url("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'stratus.sqlite3'}"),
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Several processes (api, conductor, scheduler, beat) share one file:
    # WAL lets readers run beside the writer, IMMEDIATE takes the write lock
    # at BEGIN so a claim's read-check-write cannot interleave with another,
    # and the busy timeout makes writers queue instead of failing.
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": env.int("SQLITE_BUSY_TIMEOUT", default=30),
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
else:
    DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("DB_CONN_MAX_AGE", default=60))
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    # Server-side parameter binding, and psycopg preparing a statement from its fifth
    # run on a connection, let PostgreSQL plan the scheduler's hot statements once per
    # connection instead of at every call (Django leaves preparing off by default).
    # Behind a pooler in transaction mode (PgBouncer), set DB_PREPARE_THRESHOLD=0.
    DATABASES["default"].setdefault("OPTIONS", {})
    DATABASES["default"]["OPTIONS"]["server_side_binding"] = env.bool(
        "DB_SERVER_SIDE_BINDING", default=True
    )
    DATABASES["default"]["OPTIONS"]["prepare_threshold"] = (
        env.int("DB_PREPARE_THRESHOLD", default=5) or None
    )
DATABASE_ROUTERS = ["cloud.cells.CellRouter"]

AUTH_USER_MODEL = "identity.User"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
# gunicorn serves the admin's and the browsable API's static files through
# WhiteNoise after `manage.py collectstatic`; runserver --insecure in development.
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
LOGIN_URL = "/api-auth/login/"

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "cloud.identity.authentication.TokenAuthentication",
        "cloud.identity.authentication.ProjectSessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "EXCEPTION_HANDLER": "cloud.api.errors.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "cloud.api.schema.OpenStackSchema",
    "UNAUTHENTICATED_USER": None,
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Stratus",
    "DESCRIPTION": "OpenStack-compatible compute cloud: Keystone v3 subset, "
    "Compute API v2.1 with microversions, Glance v2 subset.",
    "VERSION": "2.96",
    "SERVE_INCLUDE_SCHEMA": False,
    "PREPROCESSING_HOOKS": ["cloud.api.schema.drop_slash_aliases"],
}

# --- Identity -------------------------------------------------------------
TOKEN_EXPIRATION_SECONDS = env.int("TOKEN_EXPIRATION_SECONDS", default=4 * 3600)
# An operator's overrides of the policy defaults (oslo.policy YAML); a missing file means
# the defaults in cloud/identity/policies/.
POLICY_FILE = env.str("POLICY_FILE", default="/etc/stratus/policy.yaml")
REGION_NAME = env.str("REGION_NAME", default="RegionOne")
# Base URL put in the service catalog; empty means "the URL the request came to".
PUBLIC_ENDPOINT = env.str("PUBLIC_ENDPOINT", default="")

# --- Scheduling and hosts -------------------------------------------------
SERVICE_DOWN_TIME = env.int("SERVICE_DOWN_TIME", default=60)
# The zone of a host in no aggregate that names one (Nova's default_availability_zone).
DEFAULT_AVAILABILITY_ZONE = env.str("DEFAULT_AVAILABILITY_ZONE", default="nova")
# A build not finished after this long goes to ERROR with a fault naming the step.
BUILD_TIMEOUT = env.int("BUILD_TIMEOUT", default=600)
# Deadlines of the other task_states, in seconds without a change to the instance;
# past it the reaper (beat) ends the step with a fault naming it (see
# cloud/conductor/deadlines.py). TASK_DEADLINES="rebooting=900,deleting=300" sets
# single steps; a step named nowhere gets TASK_DEADLINE_DEFAULT.
TASK_DEADLINE_DEFAULT = env.int("TASK_DEADLINE_DEFAULT", default=3600)
TASK_DEADLINES = {
    "rebooting": 600,
    "rebooting_hard": 300,
    "powering-off": 300,
    "powering-on": 300,
    "pausing": 120,
    "unpausing": 120,
    "suspending": 600,
    "resuming": 600,
    "deleting": 600,
    **{
        step.strip(): int(seconds)
        for step, _, seconds in (
            item.partition("=") for item in env.list("TASK_DEADLINES", default=[])
        )
    },
}
SCHEDULER_MAX_ATTEMPTS = env.int("SCHEDULER_MAX_ATTEMPTS", default=3)
# Filters in the order they apply, and weighers (see cloud/scheduler/filters, weighers).
SCHEDULER_FILTERS = env.list(
    "SCHEDULER_FILTERS",
    default=[
        "ComputeFilter",
        "ResourcesFilter",
        "AvailabilityZoneFilter",
        "AggregateInstanceExtraSpecsFilter",
        "ImagePropertiesFilter",
        "ServerGroupAntiAffinityFilter",
        "ServerGroupAffinityFilter",
        "SameHostFilter",
        "DifferentHostFilter",
        "JsonFilter",
    ],
)
SCHEDULER_WEIGHERS = env.list(
    "SCHEDULER_WEIGHERS",
    default=[
        "RAMWeigher",
        "CPUWeigher",
        "DiskWeigher",
        "ServerGroupSoftAffinityWeigher",
        "ServerGroupSoftAntiAffinityWeigher",
        "BuildFailureWeigher",
    ],
)
RAM_WEIGHT_MULTIPLIER = env.float("RAM_WEIGHT_MULTIPLIER", default=1.0)
CPU_WEIGHT_MULTIPLIER = env.float("CPU_WEIGHT_MULTIPLIER", default=1.0)
DISK_WEIGHT_MULTIPLIER = env.float("DISK_WEIGHT_MULTIPLIER", default=1.0)
SOFT_AFFINITY_WEIGHT_MULTIPLIER = env.float("SOFT_AFFINITY_WEIGHT_MULTIPLIER", default=1.0)
SOFT_ANTI_AFFINITY_WEIGHT_MULTIPLIER = env.float(
    "SOFT_ANTI_AFFINITY_WEIGHT_MULTIPLIER", default=1.0
)
BUILD_FAILURE_WEIGHT_MULTIPLIER = env.float("BUILD_FAILURE_WEIGHT_MULTIPLIER", default=1000000.0)
# How many candidates SQL hands to the Python filters and weighers per round, how many
# of the best are picked from at random (spreads concurrent schedulers), and how many
# alternates travel with a decision for reschedules.
SCHEDULER_MAX_CANDIDATES = env.int("SCHEDULER_MAX_CANDIDATES", default=50)
SCHEDULER_HOST_SUBSET_SIZE = env.int("SCHEDULER_HOST_SUBSET_SIZE", default=1)
SCHEDULER_NUM_ALTERNATES = env.int("SCHEDULER_NUM_ALTERNATES", default=2)
# At most this many instances waiting in one scheduler process are decided in one pass
# (cloud.scheduler.passes); how many can wait is the worker's thread count (-c).
SCHEDULER_PASS_SIZE = env.int("SCHEDULER_PASS_SIZE", default=32)
# How long the decider waits after a request for others to join its pass (seconds).
SCHEDULER_PASS_LINGER = env.float("SCHEDULER_PASS_LINGER", default=0.002)
CPU_ALLOCATION_RATIO = env.float("CPU_ALLOCATION_RATIO", default=4.0)
RAM_ALLOCATION_RATIO = env.float("RAM_ALLOCATION_RATIO", default=1.0)
DISK_ALLOCATION_RATIO = env.float("DISK_ALLOCATION_RATIO", default=1.0)
RESERVED_HOST_MEMORY_MB = env.int("RESERVED_HOST_MEMORY_MB", default=0)
# Resize: whether the destination may be the source host itself (Nova's
# allow_resize_to_same_host), and after how many seconds an unconfirmed resize is
# confirmed by itself (Nova's resize_confirm_window; 0 turns it off).
ALLOW_RESIZE_TO_SAME_HOST = env.bool("ALLOW_RESIZE_TO_SAME_HOST", default=False)
RESIZE_CONFIRM_WINDOW = env.int("RESIZE_CONFIRM_WINDOW", default=3600)

# --- Server API limits ----------------------------------------------------
API_LIST_MAX_LIMIT = env.int("API_LIST_MAX_LIMIT", default=1000)
# Default limits of every project (Nova's defaults); admins override them per project
# or per user with os-quota-sets. -1 means unlimited.
QUOTA_DEFAULTS = {
    "instances": env.int("QUOTA_INSTANCES", default=10),
    "cores": env.int("QUOTA_CORES", default=20),
    "ram": env.int("QUOTA_RAM", default=50 * 1024),
    "metadata_items": env.int("QUOTA_METADATA_ITEMS", default=128),
    "key_pairs": env.int("QUOTA_KEY_PAIRS", default=100),
    "server_groups": env.int("QUOTA_SERVER_GROUPS", default=10),
    "server_group_members": env.int("QUOTA_SERVER_GROUP_MEMBERS", default=10),
}
MAX_INSTANCES_PER_REQUEST = env.int("MAX_INSTANCES_PER_REQUEST", default=100)
SYNC_CALL_TIMEOUT = env.float("SYNC_CALL_TIMEOUT", default=10.0)

# Rolling upgrade, as Nova's [upgrade_levels]: while the conductors or schedulers still
# run the previous release, the processes sending to them build messages in the payload
# version set here (cloud.rpc); a conductor or scheduler of this release stands in for
# an older one (reads and writes as it did) under PAYLOAD_VERSION_PIN.
UPGRADE_LEVELS = {
    service: version_pin(env.str(name, default=""), name)
    for service, name in (
        ("conductor", "UPGRADE_LEVEL_CONDUCTOR"),
        ("scheduler", "UPGRADE_LEVEL_SCHEDULER"),
    )
}
PAYLOAD_VERSION_PIN = version_pin(env.str("PAYLOAD_VERSION_PIN", default=""), "PAYLOAD_VERSION_PIN")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
}
