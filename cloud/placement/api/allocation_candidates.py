"""Placement API (1.10+): allocation candidates. Each candidate is one provider with room
for every requested resource (capacity, unit limits and step size, checked in SQL on
the inventories' capacity and used columns), with the requested traits and aggregates,
in creation order, at most `limit` (1.16+) of them."""

from rest_framework.response import Response

from cloud.placement.api import presenters, query
from cloud.placement.api.base import PlacementView
from cloud.placement.selectors import lineage, provider_capacities, providers_filter, traits_of


class AllocationCandidatesView(PlacementView):
    """GET /allocation_candidates?resources=VCPU:1,MEMORY_MB:512&limit=&required=&member_of="""

    def get(self, request):
        self.since("1.10")
        self.authorize("placement:allocation_candidates:list")
        filters, limit = query.candidate_filter(request.query_params, self.version)
        self.known(filters)
        rows = providers_filter(filters=filters).values_list("pk", "uuid", "parent_id", named=True)
        providers = list(rows[:limit] if limit is not None else rows)
        ids = [p.pk for p in providers]
        capacities = provider_capacities(provider_ids=ids)
        traits = traits_of(provider_ids=ids) if self.version.at_least("1.17") else {}
        trees = lineage(providers=providers) if self.version.at_least("1.29") else {}
        uuids = [str(p.uuid) for p in providers]
        return Response(
            {
                "allocation_requests": [
                    presenters.allocation_request(uuid, filters.resources, self.version)
                    for uuid in uuids
                ],
                "provider_summaries": {
                    uuid: presenters.provider_summary(
                        capacities.get(p.pk, {}),
                        filters.resources,
                        self.version,
                        traits.get(p.pk, []),
                        trees.get(p.pk, (None, uuid)),
                    )
                    for uuid, p in zip(uuids, providers, strict=True)
                },
            }
        )
