"""Which models are global (API level) and which live in a cell.

Nova shards a deployment into cells: the API level keeps identity, flavors,
images, placement and the mapping of instances and hosts to cells; each cell
keeps its instances, their actions and faults, and its compute services.
Stratus runs one cell today, but every cell-level model is routed through
`CellRouter`, so a second cell is a database alias (`CELL_DATABASE`) and
queue prefix in configuration, not a rewrite. Cell-level models never hold
foreign keys to API-level ones (they copy what they need, as Nova copies the
flavor into the instance).
"""

from django.conf import settings

# Models (app_label.model_name) that live in a cell database; the rest of
# the instances app (flavors, request specs) is API-level, as in Nova.
CELL_MODELS = frozenset(
    {
        "instances.instance",
        "instances.instanceaction",
        "instances.instanceactionevent",
        "instances.instancefault",
        "hosts.computenode",
    }
)


def cell_database() -> str:
    return getattr(settings, "CELL_DATABASE", "default")


class CellRouter:
    """Route cell-level models to the cell's database alias."""

    def _alias(self, model) -> str | None:
        if model._meta.label_lower in CELL_MODELS:
            return cell_database()
        return None

    def db_for_read(self, model, **hints):
        return self._alias(model)

    def db_for_write(self, model, **hints):
        return self._alias(model)

    def allow_relation(self, obj1, obj2, **hints):
        return self._alias(type(obj1)) == self._alias(type(obj2)) or None

    def allow_migrate(self, db, app_label, model_name=None, **hints):
        if model_name and f"{app_label}.{model_name}" in CELL_MODELS:
            return db == cell_database()
        return None
