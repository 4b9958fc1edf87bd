"""No password or token in any log line: every log record is redacted when it is made.

Installed as the logging record factory by cloud.settings, so it covers every logger of
every process that loads the settings (api, conductor, scheduler, beat), whichever
handler then writes the line (Django's, Celery's, gunicorn's, a test's). It replaces
the values of password-like keys (`"password": "..."`, `adminPass=...`,
`X-Auth-Token: ...`) and anything shaped like a token secret this platform issues
(cloud.identity.services: 32 random bytes, URL-safe base64, 43 characters) with `***`.
"""

import logging
import re

REDACTED = "***"
_KEYED = re.compile(
    r"""(?ix)
    (\b(?:password|passwd|adminpass|admin_pass|x[-_]auth[-_]token|x[-_]subject[-_]token
        |http_x_auth_token|http_x_subject_token|secret)\b["']?\s*[:=]\s*["']?)
    ([^"'\s,;&}\]]+)
    """
)
_TOKEN = re.compile(r"(?<![A-Za-z0-9_-])[A-Za-z0-9_-]{43}(?![A-Za-z0-9_-])")


def redact(text: str) -> str:
    return _TOKEN.sub(REDACTED, _KEYED.sub(lambda m: m.group(1) + REDACTED, text))


class _Redacted(logging.LogRecord):
    def getMessage(self) -> str:
        return redact(super().getMessage())


def install() -> None:
    """Make every record redact its message (and the traceback text it carries)."""
    if logging.getLogRecordFactory() is not _factory:
        logging.setLogRecordFactory(_factory)


def _factory(*args, **kwargs) -> logging.LogRecord:
    record = _Redacted(*args, **kwargs)
    if record.exc_info and not record.exc_text:
        record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
    return record
