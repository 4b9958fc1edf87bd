"""Placement API microversions: `OpenStack-API-Version: placement X.Y`, from 1.0 (no
header) to 1.39 (`latest`). Versions outside the range answer 406, malformed ones 400."""

from cloud.api.microversions import APIVersion, InvalidVersion, UnsupportedVersion

SERVICE = "placement"
MIN = APIVersion.parse("1.0")
MAX = APIVersion.parse("1.39")
HEADER = "OpenStack-API-Version"


def _requested(headers) -> str | None:
    for item in (headers.get(HEADER) or "").split(","):
        parts = item.strip().split(None, 1)
        if len(parts) == 2 and parts[0].lower() == SERVICE:
            return parts[1].strip()
    return None


def negotiate(headers) -> APIVersion:
    """The version a placement request is served at."""
    text = _requested(headers)
    if text is None:
        return MIN
    if text.lower() == "latest":
        return MAX
    try:
        version = APIVersion.parse(text)
    except InvalidVersion as exc:
        raise InvalidVersion(f"invalid version string: {text}") from exc
    if not MIN <= version <= MAX:
        raise UnsupportedVersion(f"Unacceptable version header: {text}")
    return version


def response_headers(version: APIVersion) -> dict[str, str]:
    return {HEADER: f"{SERVICE} {version}"}
