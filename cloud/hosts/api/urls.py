from django.urls import path

from cloud.hosts.api import aggregates, hypervisors, os_services, zones

v21 = "compute/v2.1"

urlpatterns = [
    path(f"{v21}/os-services", os_services.ServiceListView.as_view()),
    path(f"{v21}/os-services/<str:service_id>", os_services.ServiceView.as_view()),
    path(f"{v21}/os-hypervisors", hypervisors.HypervisorListView.as_view()),
    path(f"{v21}/os-hypervisors/detail", hypervisors.HypervisorDetailListView.as_view()),
    path(f"{v21}/os-hypervisors/<str:hypervisor_id>", hypervisors.HypervisorView.as_view()),
    path(f"{v21}/os-availability-zone", zones.ZoneListView.as_view()),
    path(f"{v21}/os-availability-zone/detail", zones.ZoneDetailView.as_view()),
    path(f"{v21}/os-aggregates", aggregates.AggregateListView.as_view()),
    path(f"{v21}/os-aggregates/<str:aggregate_id>", aggregates.AggregateView.as_view()),
    path(
        f"{v21}/os-aggregates/<str:aggregate_id>/action",
        aggregates.AggregateActionView.as_view(),
    ),
]
