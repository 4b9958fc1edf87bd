from django.urls import path

from cloud.identity.api import views

urlpatterns = [
    path("identity", views.IdentityVersionsView.as_view()),
    path("identity/", views.IdentityVersionsView.as_view()),
    path("identity/v3", views.IdentityV3View.as_view()),
    path("identity/v3/", views.IdentityV3View.as_view(), name="identity-v3"),
    path("identity/v3/auth/tokens", views.TokensView.as_view(), name="identity-tokens"),
]
