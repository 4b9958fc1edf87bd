"""URL map: the OpenStack APIs, the admin, the browsable-API login and the OpenAPI docs."""

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from cloud.api.index import IndexView
from cloud.operators.views import metrics

urlpatterns = [
    path("", IndexView.as_view(), name="index"),
    path("", include("cloud.identity.api.urls")),
    path("", include("cloud.instances.api.urls")),
    path("", include("cloud.images.api.urls")),
    path("", include("cloud.placement.api.urls")),
    path("admin/dashboard/", include("cloud.operators.urls")),
    path("", include("cloud.network.api.urls")),
    path("", include("cloud.volumes.api.urls")),
    path("admin/", admin.site.urls),
    path("metrics", metrics, name="metrics"),
    path("api-auth/", include("rest_framework.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="docs"),
]

handler404 = "cloud.api.errors.json_404"
handler500 = "cloud.api.errors.json_500"
