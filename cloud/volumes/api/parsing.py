"""Reading Cinder's booleans: JSON booleans, or Cinder's words for them ("true",
"False", "on", "1"...), in bodies (whose shapes cloud.volumes.api.body_schemas
declares) and query strings; anything else a 400."""

from typing import Any

from cloud.api.errors import BadRequest

# Cinder's words for a boolean (oslo's bool_from_string), lower-cased.
TRUE = {"true", "1", "on", "yes", "y", "t"}
FALSE = {"false", "0", "off", "no", "n", "f"}


def boolean(value: Any, name: str) -> bool:
    if isinstance(value, bool):
        return value
    word = value.strip().lower() if isinstance(value, str) else None
    if word in TRUE or word in FALSE:
        return word in TRUE
    raise BadRequest(f"Invalid input received: {name} must be a boolean, not {value!r}.")
