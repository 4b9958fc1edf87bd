"""The dashboard's pages inside the admin (staff only, through admin_view)."""

from django.contrib import admin
from django.urls import path

from cloud.operators import views

app_name = "operators"

urlpatterns = [
    path("", admin.site.admin_view(views.dashboard_view), name="dashboard"),
    path(
        "hosts/<str:host>/enablement",
        admin.site.admin_view(views.host_enable),
        name="host-enablement",
    ),
    path(
        "hosts/<str:host>/evacuate",
        admin.site.admin_view(views.host_evacuate),
        name="host-evacuate",
    ),
    path(
        "instances/<str:uuid>/reset-state",
        admin.site.admin_view(views.instance_reset_state),
        name="instance-reset-state",
    ),
]
