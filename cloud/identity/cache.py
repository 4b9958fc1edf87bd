"""Identity reads remembered per process: a token's validation (and the names a token
body shows) costs no database query after its first use.

Each entry is tagged with the identity generation read before it was computed: one
counter in the shared cache (Redis in a stack, `CACHE_URL`) that every write of
identity data moves on once its transaction commits (cloud.identity.invalidation:
token revocations, users, projects, domains, roles and role assignments). An entry
whose tag is not the current generation is computed again, so a revoked token, a
removed role or a disabled project takes effect on every API process at its next
request. Reading the generation is one cache round trip per request.

The entries are bounded (TOKEN_CACHE_SIZE, least recently used out first) and live
TOKEN_CACHE_SECONDS at most, a bound on staleness should the shared cache lose a
write. With a cache private to each process (no CACHE_URL: local memory), another
process's writes could not reach this one, so nothing is remembered unless the
setting asks for it explicitly (tests in one process do).
"""

import logging
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import TypeVar

from django.conf import settings
from django.core.cache import cache
from django.db import transaction

log = logging.getLogger(__name__)

GENERATION_KEY = "identity:generation"
T = TypeVar("T")

_lock = threading.Lock()
_entries: OrderedDict[object, tuple[int, float, object]] = OrderedDict()


def size() -> int:
    """How many entries a process keeps (0: remember nothing)."""
    configured = settings.TOKEN_CACHE_SIZE
    if configured is None:
        shared = "locmem" not in settings.CACHES["default"]["BACKEND"].lower()
        return 10000 if shared else 0
    return max(0, configured)


def generation() -> int | None:
    """The current identity generation; None when the shared cache cannot tell."""
    try:
        found = cache.get(GENERATION_KEY)
        if found is None:
            # Lost (evicted, or a new cache): start from a number no old tag can hold.
            cache.add(GENERATION_KEY, secrets.randbits(48))
            found = cache.get(GENERATION_KEY)
    except Exception as exc:  # the cache is down: validate from the database
        log.warning("identity generation unavailable: %r", exc)
        return None
    return found


def invalidate() -> None:
    """Identity data is being written: this process forgets its entries now, and every
    process once the write commits (the generation moves on then, so that no process
    re-reads the rows as they were before the commit under the new generation)."""
    forget_all()
    transaction.on_commit(bump)


def bump() -> None:
    """Move the generation on: every remembered entry is stale from now on."""
    try:
        cache.incr(GENERATION_KEY)
    except ValueError:
        cache.add(GENERATION_KEY, secrets.randbits(48))
    except Exception as exc:
        log.warning("identity generation not moved on: %r", exc)
    forget_all()  # this process's own entries go at once, whatever the cache did


def remembered(
    key: object, compute: Callable[[], T], *, usable: Callable[[T], bool] | None = None
) -> T:
    """`compute()`, or what it returned under this generation (and `usable` still says
    yes to). A None result is never remembered (an unknown token is not worth a slot)."""
    limit = size()
    if not limit:
        return compute()
    current = generation()
    if current is None:
        return compute()
    now = time.monotonic()
    with _lock:
        entry = _entries.get(key)
        if entry is not None:
            tag, born, value = entry
            fresh = tag == current and now - born < settings.TOKEN_CACHE_SECONDS
            if fresh and (usable is None or usable(value)):
                _entries.move_to_end(key)
                return value
            del _entries[key]
    value = compute()
    if value is not None:
        with _lock:
            _entries[key] = (current, now, value)
            while len(_entries) > limit:
                _entries.popitem(last=False)
    return value


def forget_all() -> None:
    """Drop this process's entries."""
    with _lock:
        _entries.clear()
