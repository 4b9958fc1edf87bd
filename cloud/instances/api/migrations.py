"""Compute API: `GET /os-migrations`, the admin's list of every resize (Nova's shape:
`migration_type` and links from 2.23, `uuid` and paging from 2.59, project and
user from 2.80)."""

from rest_framework.response import Response

from cloud.api.pagination import next_link, paginate
from cloud.identity.views import ComputeView
from cloud.instances import migration_selectors
from cloud.instances.api.presenters import migration_body


class MigrationListView(ComputeView):
    """GET /os-migrations"""

    def get(self, request):
        self.authorize("os_compute_api:os-migrations:index")
        qs = migration_selectors.migration_list(params=request.GET)
        paged = self.version.at_least("2.59")
        rows, more = paginate(qs, request.GET) if paged else (list(qs), False)
        ids = migration_selectors.flavor_ids(migrations=rows)
        body = {"migrations": [migration_body(m, ids, self.version) for m in rows]}
        if more:
            body["migrations_links"] = next_link(request, str(rows[-1].uuid))
        return Response(body)
