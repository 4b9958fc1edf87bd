from django.urls import path

from cloud.identity.api import domains, projects, roles, users, views

v3 = "identity/v3"
grant = f"{v3}/projects/<str:project_id>/users/<str:user_id>/roles"

urlpatterns = [
    path("identity", views.IdentityVersionsView.as_view()),
    path("identity/", views.IdentityVersionsView.as_view()),
    path(v3, views.IdentityV3View.as_view()),
    path(f"{v3}/", views.IdentityV3View.as_view(), name="identity-v3"),
    path(f"{v3}/auth/tokens", views.TokensView.as_view(), name="identity-tokens"),
    path(f"{v3}/auth/projects", projects.AuthProjectsView.as_view()),
    path(f"{v3}/domains", domains.DomainsView.as_view()),
    path(f"{v3}/domains/<str:domain_id>", domains.DomainView.as_view()),
    path(f"{v3}/projects", projects.ProjectsView.as_view()),
    path(f"{v3}/projects/<str:project_id>", projects.ProjectView.as_view()),
    path(grant, roles.GrantsView.as_view()),
    path(f"{grant}/<str:role_id>", roles.GrantView.as_view()),
    path(f"{v3}/users", users.UsersView.as_view()),
    path(f"{v3}/users/<str:user_id>", users.UserView.as_view()),
    path(f"{v3}/users/<str:user_id>/projects", projects.UserProjectsView.as_view()),
    path(f"{v3}/roles", roles.RolesView.as_view()),
    path(f"{v3}/roles/<str:role_id>", roles.RoleView.as_view()),
    path(f"{v3}/role_assignments", roles.RoleAssignmentsView.as_view()),
]
