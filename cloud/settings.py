"""Django settings for the control plane (api, conductor, scheduler, beat).

Everything comes from the environment (django-environ); `.env.example` lists
every variable with its default. The compute worker does not load this
module: it has no database (see cloud/workers/config.py).
"""

from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

from cloud.api import logsafe
from cloud.observability.logs import logging_config
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
    "cloud.network",
    "cloud.volumes",
    "cloud.scheduler",
    "cloud.consoles",
    "cloud.instances",
    "cloud.conductor",
    "cloud.operators",
]

MIDDLEWARE = [
    # Outermost: every response is counted and timed, the body guard's refusals too.
    "cloud.operators.middleware.RequestMetricsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "cloud.api.middleware.RequestIdMiddleware",
    # Before anything reads a body (only the request id comes first, for the error body).
    "cloud.api.bodies.RequestBodyGuardMiddleware",
    # A view that failed because the database or the broker is away: 503, Retry-After.
    "cloud.api.unavailable.DependencyUnavailableMiddleware",
    # Around everything that may write: a 4xx that committed an INSERT is logged.
    "cloud.api.write_audit.ClientErrorWritesMiddleware",
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
# Chart.js for the admin dashboard, from Debian's libjs-chart.js (deploy/bootstrap.sh
# installs it), served as static/chartjs/chart.min.js: no copy in the repository, no build.
CHARTJS_DIR = Path(env.str("CHARTJS_DIR", default="/usr/share/javascript/chart.js"))
STATICFILES_DIRS = [("chartjs", CHARTJS_DIR)] if CHARTJS_DIR.is_dir() else []
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
LOGIN_URL = "/api-auth/login/"

# The login failure counters (cloud.identity.throttle) live here: Redis in a stack
# (deploy/stack.py sets CACHE_URL=redis://.../<db>), so every api process shares them;
# one process's memory when unset.
CACHES = {"default": env.cache_url("CACHE_URL", default="locmemcache://")}
CACHES["default"].setdefault("KEY_PREFIX", "stratus")

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "cloud.identity.authentication.TokenAuthentication",
        "cloud.identity.authentication.ProjectSessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": [
        # One stored string that is not valid Unicode never fails a whole listing.
        "cloud.api.renderers.SafeJSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
    # The one JSON decoder (cloud.api.bodies): no lone surrogates, NUL, inf or deep nesting.
    "DEFAULT_PARSER_CLASSES": ["cloud.api.bodies.StrictJSONParser"],
    "EXCEPTION_HANDLER": "cloud.api.errors.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "cloud.api.schema.OpenStackSchema",
    "UNAUTHENTICATED_USER": None,
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Stratus",
    "DESCRIPTION": "OpenStack-compatible compute cloud: Keystone v3 subset, Compute API "
    "v2.1 with microversions, Glance v2, Placement and Neutron v2.0 subsets.",
    "VERSION": "2.96",
    "SERVE_INCLUDE_SCHEMA": False,
    # JSON Schema 2020-12 in the document: the same schemas `@body` validates with.
    "OAS_VERSION": "3.1.0",
    "PREPROCESSING_HOOKS": ["cloud.api.schema.drop_slash_aliases"],
}

# --- Identity -------------------------------------------------------------
TOKEN_EXPIRATION_SECONDS = env.int("TOKEN_EXPIRATION_SECONDS", default=4 * 3600)
# Validated tokens remembered per API process (cloud.identity.cache), invalidated through
# the shared cache: how many (unset: 10,000 with a shared CACHE_URL, none with a cache
# private to each process; 0: none), and for how long at most.
TOKEN_CACHE_SIZE = env.int("TOKEN_CACHE_SIZE", default=None)
TOKEN_CACHE_SECONDS = env.int("TOKEN_CACHE_SECONDS", default=300)
# Failed password logins (cloud.identity.throttle): past this many per user, or per
# source address, within a window, password logins answer 429 until the window ends.
LOGIN_FAILURES_PER_USER = env.int("LOGIN_FAILURES_PER_USER", default=10)
LOGIN_FAILURES_PER_SOURCE = env.int("LOGIN_FAILURES_PER_SOURCE", default=50)
LOGIN_FAILURE_WINDOW = env.int("LOGIN_FAILURE_WINDOW", default=300)
# An operator's overrides of the policy defaults (oslo.policy YAML); a missing file means
# the defaults in cloud/identity/policies/.
POLICY_FILE = env.str("POLICY_FILE", default="/etc/stratus/policy.yaml")
REGION_NAME = env.str("REGION_NAME", default="RegionOne")
# Base URL put in the service catalog; empty means "the URL the request came to".
PUBLIC_ENDPOINT = env.str("PUBLIC_ENDPOINT", default="")

# --- Images -----------------------------------------------------------------
# The image API as compute hosts reach it (they download images and upload
# snapshots there with a transfer token, cloud/images/transfer.py); empty means
# PUBLIC_ENDPOINT + /image, else the API on this machine's default port.
IMAGE_API_URL = env.str(
    "IMAGE_API_URL",
    default=f"{PUBLIC_ENDPOINT.rstrip('/')}/image"
    if PUBLIC_ENDPOINT
    else "http://127.0.0.1:8000/image",
)
# The filesystem image store (cloud/images/stores/filesystem.py): one file per image.
IMAGE_STORE_DIR = Path(env.str("IMAGE_STORE_DIR", default=str(VAR_DIR / "images")))
# Bytes read from the request or the store per step of a streamed transfer.
IMAGE_CHUNK_SIZE = env.int("IMAGE_CHUNK_SIZE", default=1 << 20)
# Glance's image quotas per project (image_count_total, image_size_total in MiB); -1: none.
IMAGE_QUOTA_COUNT = env.int("IMAGE_QUOTA_COUNT", default=100)
IMAGE_QUOTA_SIZE_MB = env.int("IMAGE_QUOTA_SIZE_MB", default=100 * 1024)
# Disk formats Glance accepts (glance-api.conf [image_format] disk_formats).
IMAGE_DISK_FORMATS = env.list(
    "IMAGE_DISK_FORMATS",
    default=["ami", "ari", "aki", "vhd", "vhdx", "vmdk", "raw", "qcow2", "vdi", "iso", "ploop"],
)
IMAGE_CONTAINER_FORMATS = env.list(
    "IMAGE_CONTAINER_FORMATS",
    default=["ami", "ari", "aki", "bare", "ovf", "ova", "docker", "compressed"],
)

# --- Block storage ------------------------------------------------------------
# The backend a volume goes to when its type names none (extra spec
# volume_backend_name); its volume worker listens on volume.<backend>.
VOLUME_DEFAULT_BACKEND = env.str("VOLUME_DEFAULT_BACKEND", default="file")
# The type a create with no volume_type gets (Cinder's default_volume_type).
VOLUME_DEFAULT_TYPE = env.str("VOLUME_DEFAULT_TYPE", default="__DEFAULT__")
# Largest volume a create or an extend may ask for, in GiB.
VOLUME_MAX_SIZE_GB = env.int("VOLUME_MAX_SIZE_GB", default=16384)
# Seconds a volume, snapshot or attachment may stay in a transitional status (creating,
# deleting, extending, attaching, detaching) before the reaper (beat) ends it with a fault.
VOLUME_TASK_DEADLINE = env.int("VOLUME_TASK_DEADLINE", default=600)

# --- Scheduling and hosts -------------------------------------------------
SERVICE_DOWN_TIME = env.int("SERVICE_DOWN_TIME", default=60)
# The guests' names on their hypervisors, from the instance's id (Nova's
# instance_name_template): two clouds sharing a hypervisor need different ones.
INSTANCE_NAME_TEMPLATE = env.str("INSTANCE_NAME_TEMPLATE", default="instance-%08x")
try:
    INSTANCE_NAME_TEMPLATE % 1
except (TypeError, ValueError) as exc:
    raise ImproperlyConfigured(
        f"INSTANCE_NAME_TEMPLATE must format one integer, as instance-%08x does: {exc}"
    ) from exc
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
# Request bodies (cloud.api.bodies): larger is a 413 (application/octet-stream uploads
# excepted: the image upload streams), JSON nested deeper is a 400. Keep the size under
# DATA_UPLOAD_MAX_MEMORY_SIZE (Django's 2.5 MB), which Django applies to request.body.
API_MAX_BODY_BYTES = env.int("API_MAX_BODY_BYTES", default=1024 * 1024)
API_MAX_JSON_DEPTH = env.int("API_MAX_JSON_DEPTH", default=32)
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
# Network quotas (Neutron's defaults); -1 is unlimited.
NETWORK_QUOTA_DEFAULTS = {
    "network": env.int("QUOTA_NETWORK", default=100),
    "subnet": env.int("QUOTA_SUBNET", default=100),
    "port": env.int("QUOTA_PORT", default=500),
    "security_group": env.int("QUOTA_SECURITY_GROUP", default=10),
    "security_group_rule": env.int("QUOTA_SECURITY_GROUP_RULE", default=100),
    "floatingip": env.int("QUOTA_FLOATINGIP", default=50),
}
# Block-storage quotas (Cinder's defaults: volumes, gigabytes, snapshots); -1 is unlimited.
VOLUME_QUOTA_DEFAULTS = {
    "volumes": env.int("QUOTA_VOLUMES", default=10),
    "gigabytes": env.int("QUOTA_GIGABYTES", default=1000),
    "snapshots": env.int("QUOTA_SNAPSHOTS", default=10),
}
# The VLAN ids project networks get, Neutron's network_vlan_ranges:
# "physnet:first:last[,physnet:first:last...]" (a bare "physnet" names a provider-only
# physical network). Project networks take the first free id of the first range.
NETWORK_VLAN_RANGES = env.str("NETWORK_VLAN_RANGES", default="physnet1:100:199")
# The Open vSwitch integration bridge guests' taps are plugged into.
NETWORK_INTEGRATION_BRIDGE = env.str("NETWORK_INTEGRATION_BRIDGE", default="br-int")
NETWORK_MTU = env.int("NETWORK_MTU", default=1500)
# Neutron's base_mac: ports get fa:16:3e:xx:xx:xx unless given a MAC.
NETWORK_BASE_MAC = env.str("NETWORK_BASE_MAC", default="fa:16:3e:00:00:00")
MAX_INSTANCES_PER_REQUEST = env.int("MAX_INSTANCES_PER_REQUEST", default=100)
SYNC_CALL_TIMEOUT = env.float("SYNC_CALL_TIMEOUT", default=10.0)

# Remote consoles (cloud.consoles): how long a console token lives (Nova's
# [consoleauth] token_ttl), the console proxy's address, the URLs the API hands out
# (Nova's novncproxy_base_url, html5proxy_base_url, [serial_console] base_url), and
# the origins the proxy accepts besides its own (host[:port]; a browser page elsewhere
# that opens the proxy's websocket is refused).
CONSOLE_TOKEN_TTL = env.int("CONSOLE_TOKEN_TTL", default=600)
CONSOLE_PROXY_HOST = env.str("CONSOLE_PROXY_HOST", default="127.0.0.1")
CONSOLE_PROXY_PORT = env.int("CONSOLE_PROXY_PORT", default=6080)
_PROXY = f"{CONSOLE_PROXY_HOST}:{CONSOLE_PROXY_PORT}"
CONSOLE_NOVNC_BASE_URL = env.str("CONSOLE_NOVNC_BASE_URL", default=f"http://{_PROXY}/vnc_lite.html")
CONSOLE_SPICE_BASE_URL = env.str(
    "CONSOLE_SPICE_BASE_URL", default=f"http://{_PROXY}/spice/spice_auto.html"
)
CONSOLE_SERIAL_BASE_URL = env.str("CONSOLE_SERIAL_BASE_URL", default=f"ws://{_PROXY}/serial")
CONSOLE_ALLOWED_ORIGINS = env.list("CONSOLE_ALLOWED_ORIGINS", default=[])
# Where the proxy finds the browser clients (Debian's novnc and spice-html5 packages).
CONSOLE_NOVNC_DIR = env.str("CONSOLE_NOVNC_DIR", default="/usr/share/novnc")
CONSOLE_SPICE_DIR = env.str("CONSOLE_SPICE_DIR", default="/usr/share/spice-html5")

# Rolling upgrade, as Nova's [upgrade_levels]: while the conductors or schedulers still
# run the previous release, the processes sending to them build messages in the payload
# version set here (cloud.rpc); a conductor or scheduler of this release stands in for
# an older one (reads and writes as it did) under PAYLOAD_VERSION_PIN.
UPGRADE_LEVELS = {
    service: version_pin(env.str(name, default=""), name)
    for service, name in (
        ("conductor", "UPGRADE_LEVEL_CONDUCTOR"),
        ("scheduler", "UPGRADE_LEVEL_SCHEDULER"),
        ("network", "UPGRADE_LEVEL_NETWORK"),
    )
}
PAYLOAD_VERSION_PIN = version_pin(env.str("PAYLOAD_VERSION_PIN", default=""), "PAYLOAD_VERSION_PIN")

# --- Operators ------------------------------------------------------------
# LOG_FORMAT=json: one JSON object a line (with the request id) in every process.
LOGGING = logging_config(
    log_format=env.str("LOG_FORMAT", default="plain"), level=env.str("LOG_LEVEL", default="INFO")
)
# /metrics answers staff sessions, admin tokens, and any caller from these addresses
# (a Prometheus server scrapes without credentials from one of them).
METRICS_ALLOWED_ADDRESSES = env.list("METRICS_ALLOWED_ADDRESSES", default=[])
# Versioned notifications (Nova's) on the broker: the topic exchange they are published
# to, and the queues (one per priority) declared for operators to consume. Off unless
# NOTIFICATIONS_ENABLED=true, as Nova's are until a driver is configured: a queue that
# nothing reads grows without end in the broker's memory, and building and publishing
# them took a quarter of the conductor's CPU in a boot storm.
NOTIFICATIONS_ENABLED = env.bool("NOTIFICATIONS_ENABLED", default=False)
NOTIFICATIONS_EXCHANGE = env.str("NOTIFICATIONS_EXCHANGE", default="notifications")
NOTIFICATIONS_PUBLISHER = env.str("NOTIFICATIONS_PUBLISHER", default="")
# Flower (cloud.operators.flower) asks the workers what they consume this often (s).
FLOWER_INSPECT_INTERVAL = env.float("FLOWER_INSPECT_INTERVAL", default=10.0)
# The dashboard's charts: how many hours of builds and failures they show.
DASHBOARD_HOURS = env.int("DASHBOARD_HOURS", default=6)
# No password or token in any log line (cloud.api.logsafe redacts every record).
logsafe.install()
