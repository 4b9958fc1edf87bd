"""Failed password logins, counted per user and per source address, and the 429 that
stops guessing.

Each failed password authentication adds one to two counters in Django's cache (Redis
in a stack: CACHE_URL, which deploy/stack.py sets; one process's memory when unset),
one for the user named and one for the client address, in fixed windows of
LOGIN_FAILURE_WINDOW seconds. While either has reached its limit
(LOGIN_FAILURES_PER_USER, LOGIN_FAILURES_PER_SOURCE) every password login for that
user or from that address answers 429 with Retry-After, the right password too, so
guessing cannot go on; the window's end lifts it. A successful login clears the
user's counter. Token re-scoping is not counted: it needs a valid token.
"""

import hashlib
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from rest_framework.exceptions import Throttled

PREFIX = "login-failures"


class TooManyFailures(Throttled):
    """429; DRF's handler sets Retry-After from `wait`, cloud.api.errors the body."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(
            wait=retry_after,
            detail="Too many failed logins; wait before trying again "
            f"(retry after {retry_after} seconds).",
        )


@dataclass(frozen=True)
class Attempt:
    """Who is trying to log in: the user as named (id, or domain and name) and from where."""

    user: str
    source: str

    def _keys(self, window: int) -> tuple[str, str]:
        bucket = int(time.time()) // window
        return (f"{PREFIX}:user:{bucket}:{self.user}", f"{PREFIX}:source:{bucket}:{self.source}")

    def check(self) -> None:
        """TooManyFailures while the user or the source is over its limit."""
        window = settings.LOGIN_FAILURE_WINDOW
        user_key, source_key = self._keys(window)
        counts = cache.get_many([user_key, source_key])
        if (
            counts.get(user_key, 0) >= settings.LOGIN_FAILURES_PER_USER
            or counts.get(source_key, 0) >= settings.LOGIN_FAILURES_PER_SOURCE
        ):
            raise TooManyFailures(retry_after=window - int(time.time()) % window or window)

    def failed(self) -> None:
        window = settings.LOGIN_FAILURE_WINDOW
        for key in self._keys(window):
            # add() starts the count with the window's lifetime; incr() is atomic in Redis.
            cache.add(key, 0, timeout=window)
            try:
                cache.incr(key)
            except ValueError:
                cache.set(key, 1, timeout=window)

    def succeeded(self) -> None:
        cache.delete(self._keys(settings.LOGIN_FAILURE_WINDOW)[0])


def attempt_for(*, user: dict, source: str) -> Attempt:
    """The counters of a password login naming `user` (auth.identity.password.user)."""
    if user.get("id"):
        named = f"id={user['id']}"
    else:
        domain = user.get("domain") if isinstance(user.get("domain"), dict) else {}
        named = f"domain={domain.get('id') or domain.get('name') or ''}:name={user.get('name')}"
    # Cache keys are short ASCII: a digest, so a long or odd name is still one counter.
    digest = hashlib.sha256(named.encode("utf-8", "backslashreplace")).hexdigest()
    return Attempt(user=digest, source=source)
