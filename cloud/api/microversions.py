"""Compute API microversions: parse the request headers, negotiate, echo.

A request may name a version with `OpenStack-API-Version: compute X.Y` or the
legacy `X-OpenStack-Nova-API-Version: X.Y`; `latest` means the maximum; no
header means 2.1. Versions outside [MIN, MAX] answer 406, malformed ones 400.
"""

from dataclasses import dataclass
from functools import lru_cache, total_ordering

from cloud.api.parsing import InvalidValue, parse_version

MIN_VERSION = "2.1"
MAX_VERSION = "2.96"


class InvalidVersion(ValueError):
    """The header is not a version string at all (400)."""


class UnsupportedVersion(ValueError):
    """The version is well formed but outside the supported range (406)."""


@total_ordering
@dataclass(frozen=True)
class APIVersion:
    major: int
    minor: int

    @classmethod
    def parse(cls, text: str) -> "APIVersion":
        try:
            return cls(*parse_version(text.strip(), name="API version"))
        except InvalidValue:
            shown = text if len(text) <= 32 else f"{text[:29]}..."
            raise InvalidVersion(
                f"Invalid API version '{shown}': expected MAJOR.MINOR or 'latest'."
            ) from None

    def __lt__(self, other: "APIVersion") -> bool:
        return (self.major, self.minor) < (other.major, other.minor)

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}"

    def at_least(self, text: str) -> bool:
        return (self.major, self.minor) >= _named(text)


@lru_cache(maxsize=256)
def _named(text: str) -> tuple[int, int]:
    """A version the code names (`at_least("2.47")`), parsed once: a listing asks a
    dozen of them per row."""
    found = APIVersion.parse(text)
    return found.major, found.minor


MIN = APIVersion.parse(MIN_VERSION)
MAX = APIVersion.parse(MAX_VERSION)


def _requested(headers) -> str | None:
    """The compute version named by the headers, if any (new header wins)."""
    new = headers.get("OpenStack-API-Version")
    if new:
        for item in new.split(","):
            parts = item.strip().split(None, 1)
            if len(parts) == 2 and parts[0].lower() == "compute":
                return parts[1].strip()
    legacy = headers.get("X-OpenStack-Nova-API-Version")
    return legacy.strip() if legacy else None


def negotiate(headers) -> APIVersion:
    """The version a compute request is served at."""
    text = _requested(headers)
    if text is None:
        return MIN
    if text.lower() == "latest":
        return MAX
    version = APIVersion.parse(text)
    if not MIN <= version <= MAX:
        raise UnsupportedVersion(
            f"Version {version} is not supported by the API. Minimum is {MIN} and maximum is {MAX}."
        )
    return version


def response_headers(version: APIVersion) -> dict[str, str]:
    return {
        "OpenStack-API-Version": f"compute {version}",
        "X-OpenStack-Nova-API-Version": str(version),
        "Vary": "OpenStack-API-Version, X-OpenStack-Nova-API-Version",
    }
