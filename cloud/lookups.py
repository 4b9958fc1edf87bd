"""Database lookups Django lacks: `field__any=values`, a list of values sent as one array
parameter on PostgreSQL (`= ANY(%s::type[])`) instead of a placeholder each (`IN`).

A page of a thousand servers reads its ports and volume attachments by the page's
instance UUIDs: with IN, Django preps and psycopg splits a query of a thousand
placeholders (new text for every count, so never cached), which costs more than
running it. Elsewhere (SQLite) it is IN.
"""

from django.core.exceptions import EmptyResultSet
from django.db.models import CharField, UUIDField
from django.db.models.lookups import In


class AnyOf(In):
    lookup_name = "any"

    def as_sql(self, compiler, connection):
        if connection.vendor != "postgresql":
            return super().as_sql(compiler, connection)
        if not self.rhs:
            raise EmptyResultSet
        lhs, lhs_params = self.process_lhs(compiler, connection)
        field = self.lhs.output_field
        values = [field.get_db_prep_value(value, connection, prepared=True) for value in self.rhs]
        return f"{lhs} = ANY(%s::{field.db_type(connection)}[])", [*lhs_params, values]


def register() -> None:
    for field in (CharField, UUIDField):
        field.register_lookup(AnyOf)
