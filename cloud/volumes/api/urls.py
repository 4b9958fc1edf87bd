"""Routes of the Cinder v3 subset at /volume/v3/{project_id} (with and without a
trailing slash), and the version documents at /volume and /volume/v3."""

from django.urls import path, re_path

from cloud.volumes.api import quota_sets, types, versions, views

P = r"volume/v3/(?P<project_id>[^/]+)"
ID = r"[^/]+"


def both(route: str, view):
    return re_path(rf"^{P}/{route}/?$", view.as_view())


urlpatterns = [
    path("volume", versions.VolumeVersionsView.as_view()),
    path("volume/", versions.VolumeVersionsView.as_view()),
    re_path(r"^volume/v3/?$", versions.VolumeVersionsView.as_view()),
    both("volumes", views.VolumeListView),
    both("volumes/detail", views.VolumeDetailListView),
    both(rf"volumes/(?P<volume_id>{ID})", views.VolumeItemView),
    both(rf"volumes/(?P<volume_id>{ID})/action", views.VolumeActionView),
    both(rf"volumes/(?P<volume_id>{ID})/metadata", views.VolumeMetadataView),
    both(rf"volumes/(?P<volume_id>{ID})/metadata/(?P<key>{ID})", views.VolumeMetadataItemView),
    both("snapshots", views.SnapshotListView),
    both("snapshots/detail", views.SnapshotDetailListView),
    both(rf"snapshots/(?P<snapshot_id>{ID})", views.SnapshotView),
    both(rf"snapshots/(?P<snapshot_id>{ID})/action", views.SnapshotActionView),
    both("types", types.TypeListView),
    both(rf"types/(?P<type_id>{ID})", types.TypeView),
    both(rf"types/(?P<type_id>{ID})/extra_specs", types.TypeSpecsView),
    both(rf"types/(?P<type_id>{ID})/extra_specs/(?P<key>{ID})", types.TypeSpecView),
    both(rf"os-quota-sets/(?P<target>{ID})", quota_sets.QuotaSetView),
    both(rf"os-quota-sets/(?P<target>{ID})/defaults", quota_sets.QuotaDefaultsView),
    both("limits", quota_sets.LimitsView),
    both("os-availability-zone", quota_sets.AvailabilityZoneView),
    both("os-services", quota_sets.ServiceListView),
    both("extensions", quota_sets.ExtensionListView),
]
