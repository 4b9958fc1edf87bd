"""Compute API routes: every /compute (Nova v2.1) route, the hosts app's views included.

The compute API is one OpenStack service, so its map is declared once, here;
cloud.hosts.api holds the views for services, zones and aggregates; os-hypervisors,
which lists each host's servers, is the instances app's (cloud.instances.api.hypervisors).
"""

from django.urls import path

from cloud.consoles.api import views as console_views
from cloud.hosts.api import aggregates, os_services, zones
from cloud.instances.api import (
    flavor_extra_specs,
    flavors,
    hypervisors,
    instance_actions,
    interfaces,
    keypairs,
    migrations,
    quota_sets,
    remote_consoles,
    server_actions,
    server_groups,
    server_metadata,
    servers,
    versions,
    volume_attachments,
)

v21 = "compute/v2.1"

urlpatterns = [
    path("compute", versions.ComputeVersionsView.as_view()),
    path("compute/", versions.ComputeVersionsView.as_view()),
    path(v21, versions.ComputeV21View.as_view()),
    path(f"{v21}/", versions.ComputeV21View.as_view(), name="compute-v21"),
    path(f"{v21}/flavors", flavors.FlavorListView.as_view(), name="flavor-list"),
    path(f"{v21}/flavors/detail", flavors.FlavorDetailListView.as_view()),
    path(f"{v21}/flavors/<str:flavor_id>", flavors.FlavorView.as_view(), name="flavor-detail"),
    path(f"{v21}/flavors/<str:flavor_id>/action", flavors.FlavorActionView.as_view()),
    path(f"{v21}/flavors/<str:flavor_id>/os-flavor-access", flavors.FlavorAccessView.as_view()),
    path(
        f"{v21}/flavors/<str:flavor_id>/os-extra_specs",
        flavor_extra_specs.FlavorExtraSpecsView.as_view(),
    ),
    path(
        f"{v21}/flavors/<str:flavor_id>/os-extra_specs/<str:key>",
        flavor_extra_specs.FlavorExtraSpecView.as_view(),
    ),
    path(f"{v21}/os-keypairs", keypairs.KeypairListView.as_view()),
    path(f"{v21}/os-keypairs/<str:keypair_name>", keypairs.KeypairView.as_view()),
    path(f"{v21}/os-quota-sets/<str:tenant_id>", quota_sets.QuotaSetView.as_view()),
    path(f"{v21}/os-quota-sets/<str:tenant_id>/detail", quota_sets.QuotaSetDetailView.as_view()),
    path(
        f"{v21}/os-quota-sets/<str:tenant_id>/defaults", quota_sets.QuotaSetDefaultsView.as_view()
    ),
    path(f"{v21}/limits", quota_sets.LimitsView.as_view()),
    path(f"{v21}/os-migrations", migrations.MigrationListView.as_view()),
    path(f"{v21}/os-server-groups", server_groups.ServerGroupListView.as_view()),
    path(f"{v21}/os-server-groups/<str:group_id>", server_groups.ServerGroupView.as_view()),
    path(f"{v21}/servers", servers.ServerListView.as_view(), name="server-list"),
    path(f"{v21}/servers/detail", servers.ServerDetailListView.as_view()),
    path(f"{v21}/servers/<str:server_id>", servers.ServerView.as_view(), name="server-detail"),
    path(f"{v21}/servers/<str:server_id>/diagnostics", servers.ServerDiagnosticsView.as_view()),
    path(f"{v21}/servers/<str:server_id>/action", server_actions.ServerActionView.as_view()),
    path(f"{v21}/servers/<str:server_id>/metadata", server_metadata.ServerMetadataView.as_view()),
    path(
        f"{v21}/servers/<str:server_id>/metadata/<str:key>",
        server_metadata.ServerMetadataItemView.as_view(),
    ),
    path(
        f"{v21}/servers/<str:server_id>/remote-consoles",
        remote_consoles.RemoteConsoleView.as_view(),
    ),
    path(
        f"{v21}/os-console-auth-tokens/<str:token>",
        console_views.ConsoleAuthTokenView.as_view(),
    ),
    path(f"{v21}/servers/<str:server_id>/os-interface", interfaces.InterfaceListView.as_view()),
    path(
        f"{v21}/servers/<str:server_id>/os-volume_attachments",
        volume_attachments.VolumeAttachmentListView.as_view(),
    ),
    path(
        f"{v21}/servers/<str:server_id>/os-volume_attachments/<str:volume_id>",
        volume_attachments.VolumeAttachmentView.as_view(),
    ),
    path(
        f"{v21}/servers/<str:server_id>/os-interface/<str:port_id>",
        interfaces.InterfaceView.as_view(),
    ),
    path(
        f"{v21}/servers/<str:server_id>/os-instance-actions",
        instance_actions.InstanceActionListView.as_view(),
    ),
    path(
        f"{v21}/servers/<str:server_id>/os-instance-actions/<str:request_id>",
        instance_actions.InstanceActionView.as_view(),
    ),
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
