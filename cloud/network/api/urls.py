"""Routes of the Neutron v2.0 subset (with and without a trailing slash, and with the
legacy `.json` suffix some clients append)."""

from django.urls import path, re_path

from cloud.network.api import views

P = "network/v2.0"


def both(route: str, view):
    return re_path(rf"^{P}/{route}(?:\.json)?/?$", view.as_view())


urlpatterns = [
    path("network", views.NetworkVersionsView.as_view()),
    path("network/", views.NetworkVersionsView.as_view()),
    re_path(rf"^{P}/?$", views.NetworkVersionView.as_view()),
    both("extensions", views.ExtensionListView),
    both(r"extensions/(?P<alias>[^/]+?)", views.ExtensionView),
    both("networks", views.NetworkListView),
    both(r"networks/(?P<network_id>[^/]+?)", views.NetworkView),
    both("subnets", views.SubnetListView),
    both(r"subnets/(?P<subnet_id>[^/]+?)", views.SubnetView),
    both("ports", views.PortListView),
    both(r"ports/(?P<port_id>[^/]+?)", views.PortView),
    both("security-groups", views.SecurityGroupListView),
    both(r"security-groups/(?P<group_id>[^/]+?)", views.SecurityGroupView),
    both("security-group-rules", views.SecurityGroupRuleListView),
    both(r"security-group-rules/(?P<rule_id>[^/]+?)", views.SecurityGroupRuleView),
    both("floatingips", views.FloatingIPListView),
    both(r"floatingips/(?P<floating_ip_id>[^/]+?)", views.FloatingIPView),
    both(r"quotas/(?P<project_id>[^/]+?)/details", views.QuotaDetailsView),
    both(r"quotas/(?P<project_id>[^/]+?)/default", views.QuotaDefaultView),
    both(r"quotas/(?P<project_id>[^/]+?)", views.QuotaView),
]
