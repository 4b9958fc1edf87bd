"""Placement API routes, under /placement (the service catalog's placement endpoint)."""

from django.urls import path

from cloud.placement.api import (
    aggregates,
    allocation_candidates,
    allocations,
    inventories,
    resource_classes,
    resource_providers,
    root,
    traits,
    usages,
)

P = "placement"
RP = f"{P}/resource_providers/<str:provider_uuid>"

urlpatterns = [
    path(P, root.PlacementRootView.as_view()),
    path(f"{P}/", root.PlacementRootView.as_view()),
    path(f"{P}/resource_providers", resource_providers.ResourceProviderListView.as_view()),
    path(RP, resource_providers.ResourceProviderView.as_view()),
    path(f"{RP}/inventories", inventories.InventoryListView.as_view()),
    path(f"{RP}/inventories/<str:resource_class>", inventories.InventoryView.as_view()),
    path(f"{RP}/usages", usages.ProviderUsagesView.as_view()),
    path(f"{RP}/aggregates", aggregates.ProviderAggregatesView.as_view()),
    path(f"{RP}/traits", traits.ProviderTraitsView.as_view()),
    path(f"{RP}/allocations", allocations.ProviderAllocationsView.as_view()),
    path(f"{P}/resource_classes", resource_classes.ResourceClassListView.as_view()),
    path(f"{P}/resource_classes/<str:name>", resource_classes.ResourceClassView.as_view()),
    path(f"{P}/traits", traits.TraitListView.as_view()),
    path(f"{P}/traits/<str:name>", traits.TraitView.as_view()),
    path(f"{P}/allocations", allocations.AllocationsView.as_view()),
    path(f"{P}/allocations/<str:consumer_uuid>", allocations.ConsumerAllocationsView.as_view()),
    path(f"{P}/usages", usages.UsagesView.as_view()),
    path(f"{P}/allocation_candidates", allocation_candidates.AllocationCandidatesView.as_view()),
]
