"""The JSON column every model uses: what it reads back always has the shape the code
expects (an object, or a list), so one row of odd data (written by an older release,
the admin site or by hand) cannot fail a listing or a worker that reads it.

The shape is the field's default (`default=dict` or `default=list`; an object when it
has none); `items` (str or dict) also drops list items of another type. A value of
another shape reads back as an empty one, and a warning names the column. Stored
data is not changed. Migrations see a plain `models.JSONField` (`deconstruct`), so
adopting this field changes no schema.
"""

import logging

from django.db import models
from django.db.models.fields.json import KeyTransform

log = logging.getLogger(__name__)


class ShapedJSONField(models.JSONField):
    def __init__(self, *args, items: type | None = None, **kwargs):
        self.items = items
        super().__init__(*args, **kwargs)

    @property
    def shape(self) -> type:
        return list if self.default is list else dict

    def from_db_value(self, value, expression, connection):
        value = super().from_db_value(value, expression, connection)
        if isinstance(expression, KeyTransform):
            return value  # a key's value (metadata__availability_zone), of any shape
        shape = self.shape
        if isinstance(value, shape):
            if shape is list and self.items is not None:
                return [item for item in value if isinstance(item, self.items)]
            return value
        log.warning(
            "%s.%s holds %s where %s is expected; read as empty",
            self.model._meta.db_table,
            self.name,
            type(value).__name__,
            shape.__name__,
        )
        return shape()

    def deconstruct(self):
        name, _path, args, kwargs = super().deconstruct()
        return name, "django.db.models.JSONField", args, kwargs
