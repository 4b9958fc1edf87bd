"""Compute API: `GET /os-migrations`, the admin's list of every resize (Nova's shape:
`migration_type` and links from 2.23, `uuid` and paging from 2.59, project and
user from 2.80)."""

from rest_framework.response import Response

from cloud.api.pagination import next_link, paginate
from cloud.identity.views import ComputeView
from cloud.instances import resize_selectors
from cloud.instances.models import Migration


def _time(value) -> str | None:
    return value.strftime("%Y-%m-%dT%H:%M:%S.%f") if value else None


class MigrationListView(ComputeView):
    """GET /os-migrations"""

    def get(self, request):
        self.authorize("os_compute_api:os-migrations:index")
        qs = resize_selectors.migration_list(params=request.GET)
        paged = self.version.at_least("2.59")
        rows, more = paginate(qs, request.GET) if paged else (list(qs), False)
        ids = resize_selectors.flavor_ids(migrations=rows)
        body = {"migrations": [self._migration(m, ids) for m in rows]}
        if more:
            body["migrations_links"] = next_link(request, str(rows[-1].uuid))
        return Response(body)

    def _migration(self, migration: Migration, flavor_ids: dict[str, int]) -> dict:
        body = {
            "id": migration.pk,
            "instance_uuid": str(migration.instance_uuid),
            "source_compute": migration.source_compute,
            "source_node": migration.source_node,
            "dest_compute": migration.dest_compute,
            "dest_node": migration.dest_node,
            "dest_host": None,
            "status": migration.status,
            "old_instance_type_id": flavor_ids.get(migration.old_flavor["flavorid"]),
            "new_instance_type_id": flavor_ids.get(migration.new_flavor["flavorid"]),
            "created_at": _time(migration.created_at),
            "updated_at": _time(migration.updated_at),
        }
        if self.version.at_least("2.23"):
            body["migration_type"] = migration.migration_type
        if self.version.at_least("2.59"):
            body["uuid"] = str(migration.uuid)
        if self.version.at_least("2.80"):
            body["project_id"] = migration.project_id
            body["user_id"] = migration.user_id
        return body
