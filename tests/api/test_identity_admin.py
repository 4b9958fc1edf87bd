"""Keystone v3 administration: domains, projects, users, roles, grants, role assignments,
token re-scoping, and the policy and token invalidation around them.

Database only (the `seeded` fixtures): admin (admin of project admin) and alice (member of
alpha); rita is made a reader of alpha here.
"""

import pytest
from django.test import Client
from rest_framework.test import APIClient

from cloud.identity.models import Domain, Project, Role, RoleAssignment, Token, User
from cloud.identity.services import project_user_ensure
from tests.helpers import PASSWORD, auth_body, token_for

V3 = "/identity/v3"
PROJECT_KEYS = {
    "id",
    "name",
    "domain_id",
    "description",
    "enabled",
    "parent_id",
    "is_domain",
    "tags",
    "options",
    "links",
}
DOMAIN_KEYS = {"id", "name", "description", "enabled", "tags", "options", "links"}
ROLE_KEYS = {"id", "name", "domain_id", "description", "options", "links"}
USER_KEYS = {"id", "name", "domain_id", "enabled", "password_expires_at", "options", "links"}
DENIED = "You are not authorized to perform the requested action."


def client_for(token: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_X_AUTH_TOKEN=token)
    return client


def error(response, code: int) -> str:
    assert response.status_code == code, response.content
    body = response.json()
    assert list(body) == ["error"] and body["error"]["code"] == code, body
    return body["error"]["message"]


def created(response, key: str) -> dict:
    assert response.status_code == 201, response.content
    return response.json()[key]


def ok(response, key: str) -> dict | list:
    assert response.status_code == 200, response.content
    return response.json()[key]


def names(response, key: str) -> list[str]:
    return [item["name"] for item in ok(response, key)]


def alpha() -> Project:
    return Project.objects.get(name="alpha")


def role(name: str) -> Role:
    return Role.objects.get(name=name)


@pytest.fixture
def reader(seeded) -> APIClient:
    project_user_ensure(
        project_name="alpha", username="rita", password=PASSWORD, role_name="reader"
    )
    return client_for(token_for("rita", "alpha"))


# --- domains ---------------------------------------------------------------------


def test_domain_lifecycle_and_shape(admin_api):
    domain = created(
        admin_api.post(f"{V3}/domains", {"domain": {"name": "d1", "description": "one"}}, "json"),
        "domain",
    )
    assert set(domain) == DOMAIN_KEYS
    assert domain["links"]["self"] == f"http://testserver{V3}/domains/{domain['id']}"
    assert (domain["name"], domain["description"], domain["enabled"]) == ("d1", "one", True)

    url = f"{V3}/domains/{domain['id']}"
    assert ok(admin_api.get(url), "domain") == domain
    listing = admin_api.get(f"{V3}/domains")
    assert sorted(names(listing, "domains")) == ["Default", "d1"]
    assert listing.json()["links"] == {
        "self": f"http://testserver{V3}/domains",
        "previous": None,
        "next": None,
    }
    assert names(admin_api.get(f"{V3}/domains?name=d1"), "domains") == ["d1"]

    message = error(admin_api.delete(url), 403)
    assert message == "Cannot delete a domain that is enabled, please disable it first."
    changed = ok(
        admin_api.patch(url, {"domain": {"enabled": False, "name": "d2"}}, "json"), "domain"
    )
    assert (changed["name"], changed["enabled"]) == ("d2", False)
    assert names(admin_api.get(f"{V3}/domains?enabled=false"), "domains") == ["d2"]
    assert names(admin_api.get(f"{V3}/domains?enabled=true"), "domains") == ["Default"]
    assert admin_api.delete(url).status_code == 204
    assert error(admin_api.get(url), 404) == f"Could not find domain: {domain['id']}."


def test_default_domain_can_be_neither_deleted_nor_disabled(admin_api):
    url = f"{V3}/domains/default"
    assert ok(admin_api.get(url), "domain")["name"] == "Default"
    error(admin_api.delete(url), 403)
    error(admin_api.patch(url, {"domain": {"enabled": False}}, "json"), 403)
    assert Domain.objects.get(id="default").enabled


def test_duplicate_domain_name_is_409(admin_api):
    message = error(admin_api.post(f"{V3}/domains", {"domain": {"name": "Default"}}, "json"), 409)
    assert "Duplicate entry found with name Default" in message
    assert Domain.objects.count() == 1


def test_deleting_a_domain_deletes_its_projects_and_users(admin_api):
    domain = Domain.objects.create(name="gone", enabled=False)
    project = created(
        admin_api.post(
            f"{V3}/projects", {"project": {"name": "p", "domain_id": domain.id}}, "json"
        ),
        "project",
    )
    created(
        admin_api.post(f"{V3}/users", {"user": {"name": "u", "domain_id": domain.id}}, "json"),
        "user",
    )
    assert admin_api.delete(f"{V3}/domains/{domain.id}").status_code == 204
    assert not Project.objects.filter(id=project["id"]).exists()
    assert not User.objects.filter(username="u").exists()


# --- projects --------------------------------------------------------------------


def test_project_lifecycle_and_shape(admin_api):
    body = {"project": {"name": "p1", "description": "first", "enabled": True}}
    project = created(admin_api.post(f"{V3}/projects", body, "json"), "project")
    assert set(project) == PROJECT_KEYS
    assert project["domain_id"] == project["parent_id"] == "default"
    assert (project["is_domain"], project["tags"], project["options"]) == (False, [], {})
    assert project["links"]["self"] == f"http://testserver{V3}/projects/{project['id']}"

    url = f"{V3}/projects/{project['id']}"
    assert ok(admin_api.get(url), "project") == project
    assert names(admin_api.get(f"{V3}/projects"), "projects") == ["admin", "alpha", "p1"]
    assert names(admin_api.get(f"{V3}/projects?name=p1"), "projects") == ["p1"]
    assert names(admin_api.get(f"{V3}/projects?domain_id=default&name=alpha"), "projects") == [
        "alpha"
    ]
    assert names(admin_api.get(f"{V3}/projects?domain_id=other"), "projects") == []

    changes = {"project": {"name": "p2", "description": "renamed", "enabled": False}}
    changed = ok(admin_api.patch(url, changes, "json"), "project")
    assert (changed["name"], changed["description"], changed["enabled"]) == (
        "p2",
        "renamed",
        False,
    )
    assert names(admin_api.get(f"{V3}/projects?enabled=0"), "projects") == ["p2"]
    assert admin_api.delete(url).status_code == 204
    assert error(admin_api.get(url), 404) == f"Could not find project: {project['id']}."
    error(admin_api.delete(url), 404)


def test_project_conflicts_and_bad_input(admin_api):
    before = Project.objects.count()
    message = error(admin_api.post(f"{V3}/projects", {"project": {"name": "alpha"}}, "json"), 409)
    assert message == (
        "Conflict occurred attempting to store project - "
        "Duplicate entry found with name alpha at domain ID default."
    )
    unknown = {"project": {"name": "p", "domain_id": "nowhere"}}
    assert error(admin_api.post(f"{V3}/projects", unknown, "json"), 400) == (
        "Could not find domain: nowhere."
    )
    for body in (
        {},
        {"project": "p"},
        {"project": {}},
        {"project": {"name": ""}},
        {"project": {"name": "   "}},
        {"project": {"name": 7}},
        {"project": {"name": "x" * 65}},
        {"project": {"name": "p", "enabled": "yes"}},
        {"project": {"name": "p", "is_domain": True}},
        {"project": {"name": "p", "parent_id": "some-project"}},
    ):
        error(admin_api.post(f"{V3}/projects", body, "json"), 400)
    raw = admin_api.post(f"{V3}/projects", "{nope", content_type="application/json")
    error(raw, 400)
    assert Project.objects.count() == before

    url = f"{V3}/projects/{alpha().id}"
    same = admin_api.patch(url, {"project": {"domain_id": "default", "id": alpha().id}}, "json")
    assert ok(same, "project")["domain_id"] == "default"
    assert "domain_id" in error(
        admin_api.patch(url, {"project": {"domain_id": "other"}}, "json"), 400
    )
    assert "Cannot change ID" in error(admin_api.patch(url, {"project": {"id": "x"}}, "json"), 400)
    error(admin_api.patch(url, {"project": {"name": "admin"}}, "json"), 409)
    assert alpha().name == "alpha"


def test_members_and_readers_see_only_their_own_project(api, reader):
    own = f"{V3}/projects/{alpha().id}"
    other = f"{V3}/projects/{Project.objects.get(name='admin').id}"
    for client in (api, reader):
        assert ok(client.get(own), "project")["name"] == "alpha"
        assert error(client.get(other), 403) == DENIED
        # A missing project answers like a forbidden one: no probing for ids.
        error(client.get(f"{V3}/projects/missing"), 403)
        error(client.get(f"{V3}/projects"), 403)
        error(client.post(f"{V3}/projects", {"project": {"name": "mine"}}, "json"), 403)
        error(client.patch(own, {"project": {"name": "renamed"}}, "json"), 403)
        error(client.delete(own), 403)
    assert alpha().enabled


def test_user_projects_and_auth_projects(api, admin_api):
    alice = User.objects.get(username="alice")
    admin = User.objects.get(username="admin")
    beta = Project.objects.create(name="beta")
    RoleAssignment.objects.create(user=alice, project=beta, role=role("reader"))
    Project.objects.create(name="gamma")

    own = f"{V3}/users/{alice.id}/projects"
    assert names(api.get(own), "projects") == ["alpha", "beta"]
    assert names(api.get(f"{own}?name=beta"), "projects") == ["beta"]
    assert names(admin_api.get(own), "projects") == ["alpha", "beta"]
    error(api.get(f"{V3}/users/{admin.id}/projects"), 403)
    error(admin_api.get(f"{V3}/users/missing/projects"), 404)

    assert names(api.get(f"{V3}/auth/projects"), "projects") == ["alpha", "beta"]
    beta.enabled = False
    beta.save()
    assert names(api.get(f"{V3}/auth/projects"), "projects") == ["alpha"]
    assert names(api.get(f"{own}?enabled=false"), "projects") == ["beta"]


# --- users -----------------------------------------------------------------------


def test_user_lifecycle_and_shape(admin_api):
    body = {
        "user": {
            "name": "bob",
            "password": "s3cret-pass",
            "email": "bob@example.com",
            "description": "Bob",
            "enabled": True,
            "default_project_id": alpha().id,
        }
    }
    response = admin_api.post(f"{V3}/users", body, "json")
    user = created(response, "user")
    assert "s3cret-pass" not in response.content.decode()
    assert set(user) == USER_KEYS | {"email", "description", "default_project_id"}
    assert (user["domain_id"], user["password_expires_at"], user["options"]) == (
        "default",
        None,
        {},
    )
    stored = User.objects.get(id=user["id"])
    assert stored.password != "s3cret-pass" and stored.check_password("s3cret-pass")
    assert not stored.is_staff

    url = f"{V3}/users/{user['id']}"
    assert ok(admin_api.get(url), "user") == user
    assert names(admin_api.get(f"{V3}/users"), "users") == ["admin", "alice", "bob"]
    assert names(admin_api.get(f"{V3}/users?name=bob&domain_id=default"), "users") == ["bob"]

    bare = created(admin_api.post(f"{V3}/users", {"user": {"name": "carol"}}, "json"), "user")
    assert set(bare) == USER_KEYS
    assert not User.objects.get(username="carol").has_usable_password()

    changed = ok(
        admin_api.patch(url, {"user": {"enabled": False, "name": "robert"}}, "json"), "user"
    )
    assert (changed["name"], changed["enabled"]) == ("robert", False)
    assert names(admin_api.get(f"{V3}/users?enabled=false"), "users") == ["robert"]
    assert admin_api.delete(url).status_code == 204
    assert error(admin_api.get(url), 404) == f"Could not find user: {user['id']}."


def test_user_conflicts_and_bad_input(admin_api):
    before = User.objects.count()
    assert "Duplicate entry found with name alice" in error(
        admin_api.post(f"{V3}/users", {"user": {"name": "alice"}}, "json"), 409
    )
    for body in (
        {"user": {}},
        {"user": {"name": ""}},
        {"user": {"name": "u", "password": 12345}},
        {"user": {"name": "u", "enabled": 1}},
        {"user": {"name": "u", "domain_id": "nowhere"}},
        {"user": {"name": "u", "default_project_id": "nowhere"}},
        {"user": {"name": "x" * 151}},
    ):
        error(admin_api.post(f"{V3}/users", body, "json"), 400)
    assert User.objects.count() == before
    alice = User.objects.get(username="alice")
    url = f"{V3}/users/{alice.id}"
    error(admin_api.patch(url, {"user": {"domain_id": "other"}}, "json"), 400)
    error(admin_api.patch(url, {"user": {"name": "admin"}}, "json"), 409)
    error(admin_api.patch(url, {"user": {"default_project_id": "nowhere"}}, "json"), 400)
    assert User.objects.get(id=alice.id).username == "alice"


def test_users_see_only_themselves(api, reader):
    alice = User.objects.get(username="alice")
    admin = User.objects.get(username="admin")
    shown = ok(api.get(f"{V3}/users/{alice.id}"), "user")
    assert shown["name"] == "alice" and shown["default_project_id"] == alpha().id
    for client in (api, reader):
        assert error(client.get(f"{V3}/users/{admin.id}"), 403) == DENIED
        error(client.get(f"{V3}/users/missing"), 403)
        error(client.get(f"{V3}/users"), 403)
        error(client.post(f"{V3}/users", {"user": {"name": "eve"}}, "json"), 403)
    error(api.patch(f"{V3}/users/{alice.id}", {"user": {"enabled": False}}, "json"), 403)
    error(api.delete(f"{V3}/users/{alice.id}"), 403)
    assert User.objects.get(id=alice.id).is_active


# --- token invalidation --------------------------------------------------------------


def _works(client: APIClient) -> bool:
    status = client.get(f"{V3}/auth/projects").status_code
    assert status in (200, 401)
    return status == 200


def _authenticates(username: str, project: str | None, password: str = PASSWORD) -> int:
    return (
        APIClient()
        .post(f"{V3}/auth/tokens", auth_body(username, project, password), format="json")
        .status_code
    )


def test_disabling_a_user_invalidates_their_tokens_at_once(api, admin_api):
    alice = User.objects.get(username="alice")
    unscoped = client_for(token_for_unscoped("alice"))
    assert _works(api) and _works(unscoped)
    url = f"{V3}/users/{alice.id}"
    admin_api.patch(url, {"user": {"enabled": False}}, "json")
    assert not _works(api) and not _works(unscoped)
    assert api.get("/compute/v2.1/servers").status_code == 401
    assert _authenticates("alice", "alpha") == 401
    # Re-enabling lets them in again, but the tokens revoked with the disable stay dead.
    admin_api.patch(url, {"user": {"enabled": True}}, "json")
    assert not _works(api)
    assert _authenticates("alice", "alpha") == 201


def test_a_new_password_invalidates_the_old_one_and_the_tokens(api, admin_api):
    alice = User.objects.get(username="alice")
    admin_api.patch(f"{V3}/users/{alice.id}", {"user": {"password": "n3w-pass"}}, "json")
    assert not _works(api)
    assert _authenticates("alice", "alpha") == 401
    assert _authenticates("alice", "alpha", "n3w-pass") == 201


def test_deleting_a_user_invalidates_their_tokens(api, admin_api):
    alice = User.objects.get(username="alice")
    assert admin_api.delete(f"{V3}/users/{alice.id}").status_code == 204
    assert not _works(api)
    assert not Token.objects.filter(user_id=alice.id).exists()


def test_disabling_or_deleting_a_project_invalidates_its_tokens(api, admin_api):
    url = f"{V3}/projects/{alpha().id}"
    admin_api.patch(url, {"project": {"enabled": False}}, "json")
    assert not _works(api)
    assert _authenticates("alice", "alpha") == 401
    admin_api.patch(url, {"project": {"enabled": True}}, "json")
    fresh = client_for(token_for("alice", "alpha"))
    assert _works(fresh)
    assert admin_api.delete(url).status_code == 204
    assert not _works(fresh)


def test_disabling_a_domain_invalidates_the_tokens_of_its_users(admin_api):
    domain = Domain.objects.create(name="other")
    project = Project.objects.create(name="op", domain_id=domain.id)
    user = User.objects.create(username="olga", domain_id=domain.id)
    user.set_password(PASSWORD)
    user.save()
    RoleAssignment.objects.create(user=user, project=project, role=role("member"))
    body = auth_body("olga", None)
    body["auth"]["identity"]["password"]["user"]["domain"] = {"name": "other"}
    body["auth"]["scope"] = {"project": {"name": "op", "domain": {"id": domain.id}}}
    response = APIClient().post(f"{V3}/auth/tokens", body, format="json")
    token = created(response, "token")
    assert (
        token["user"]["domain"]
        == token["project"]["domain"]
        == {
            "id": domain.id,
            "name": "other",
        }
    )
    olga = client_for(response["X-Subject-Token"])
    assert _works(olga)
    admin_api.patch(f"{V3}/domains/{domain.id}", {"domain": {"enabled": False}}, "json")
    assert not _works(olga)
    assert APIClient().post(f"{V3}/auth/tokens", body, format="json").status_code == 401


def test_a_domain_disabled_behind_the_api_is_refused_too(api):
    """Token checks do not rely on the revocation made by the API: after an edit in the
    Django admin (a model save) the next request re-reads the user's domain, although
    the token was validated, and remembered, before."""
    assert _works(api)
    domain = Domain.objects.get(id="default")
    domain.enabled = False
    domain.save()
    assert not _works(api)


def test_removing_the_last_role_invalidates_the_token(api, admin_api):
    alice = User.objects.get(username="alice")
    grants = f"{V3}/projects/{alpha().id}/users/{alice.id}/roles"
    assert admin_api.delete(f"{grants}/{role('member').id}").status_code == 204
    assert _works(api)  # still a reader
    assert api.post("/compute/v2.1/servers", {}, format="json").status_code == 403
    assert admin_api.delete(f"{grants}/{role('reader').id}").status_code == 204
    assert not _works(api)
    assert _authenticates("alice", "alpha") == 401


# --- roles and grants ----------------------------------------------------------------


def test_role_lifecycle_and_shape(admin_api, api):
    assert names(admin_api.get(f"{V3}/roles"), "roles") == ["admin", "member", "reader"]
    assert names(admin_api.get(f"{V3}/roles?name=member"), "roles") == ["member"]
    assert names(admin_api.get(f"{V3}/roles?domain_id=default"), "roles") == []
    body = {"role": {"name": "watcher", "description": "looks"}}
    watcher = created(admin_api.post(f"{V3}/roles", body, "json"), "role")
    assert set(watcher) == ROLE_KEYS
    assert (watcher["domain_id"], watcher["description"], watcher["options"]) == (
        None,
        "looks",
        {},
    )
    url = f"{V3}/roles/{watcher['id']}"
    assert ok(admin_api.get(url), "role") == watcher
    renamed = ok(admin_api.patch(url, {"role": {"name": "observer"}}, "json"), "role")
    assert renamed["name"] == "observer"
    error(admin_api.post(f"{V3}/roles", {"role": {"name": "observer"}}, "json"), 409)
    error(admin_api.post(f"{V3}/roles", {"role": {"name": "x", "domain_id": "d"}}, "json"), 400)
    error(api.get(f"{V3}/roles"), 403)
    error(api.get(url), 403)
    error(api.post(f"{V3}/roles", {"role": {"name": "mine"}}, "json"), 403)
    assert admin_api.delete(url).status_code == 204
    assert error(admin_api.get(url), 404) == f"Could not find role: {watcher['id']}."


def test_default_roles_are_immutable(admin_api):
    admin = ok(admin_api.get(f"{V3}/roles/{role('admin').id}"), "role")
    assert admin["options"] == {"immutable": True}
    assert "immutable" in error(admin_api.delete(f"{V3}/roles/{role('admin').id}"), 403)
    member = f"{V3}/roles/{role('member').id}"
    error(admin_api.patch(member, {"role": {"name": "members"}}, "json"), 403)
    described = ok(admin_api.patch(member, {"role": {"description": "Members"}}, "json"), "role")
    assert described["description"] == "Members"
    assert Role.objects.filter(name__in=["admin", "member", "reader"]).count() == 3


def test_grants(admin_api, api):
    bob = User.objects.create(username="bob")
    project, member = alpha(), role("member")
    roles = f"{V3}/projects/{project.id}/users/{bob.id}/roles"
    grant = f"{roles}/{member.id}"
    assert admin_api.head(grant).status_code == 404
    assert error(admin_api.get(grant), 404) == (
        f"Could not find role assignment with role: {member.id}, user or group: {bob.id}, "
        f"project, domain, or system: {project.id}."
    )
    assert admin_api.put(grant).status_code == 204
    assert admin_api.put(grant).status_code == 204  # again: no change
    assert admin_api.head(grant).status_code == 204
    assert admin_api.get(grant).status_code == 204
    listed = admin_api.get(roles)
    assert names(listed, "roles") == ["member"]
    assert listed.json()["links"]["self"] == f"http://testserver{roles}"
    assert RoleAssignment.objects.filter(user=bob).count() == 1

    error(api.put(f"{roles}/{role('admin').id}"), 403)
    error(api.get(roles), 403)
    error(api.delete(grant), 403)
    error(admin_api.put(f"{roles}/missing"), 404)
    error(admin_api.put(f"{V3}/projects/missing/users/{bob.id}/roles/{member.id}"), 404)
    assert error(
        admin_api.put(f"{V3}/projects/{project.id}/users/missing/roles/{member.id}"), 404
    ) == ("Could not find user: missing.")

    assert admin_api.delete(grant).status_code == 204
    error(admin_api.delete(grant), 404)
    assert names(admin_api.get(roles), "roles") == []


def test_a_granted_role_lets_the_user_in(admin_api):
    bob = created(
        admin_api.post(f"{V3}/users", {"user": {"name": "bob", "password": PASSWORD}}, "json"),
        "user",
    )
    assert _authenticates("bob", "alpha") == 401
    admin_api.put(f"{V3}/projects/{alpha().id}/users/{bob['id']}/roles/{role('member').id}")
    response = APIClient().post(f"{V3}/auth/tokens", auth_body("bob", "alpha"), format="json")
    assert {r["name"] for r in created(response, "token")["roles"]} == {"member", "reader"}


# --- role assignments ------------------------------------------------------------


def test_role_assignments(admin_api):
    alice = User.objects.get(username="alice")
    project = alpha()
    listing = admin_api.get(f"{V3}/role_assignments?user.id={alice.id}")
    assignments = ok(listing, "role_assignments")
    assert listing.json()["links"]["self"] == (
        f"http://testserver{V3}/role_assignments?user.id={alice.id}"
    )
    by_role = {a["role"]["id"]: a for a in assignments}
    assert set(by_role) == {role("member").id, role("reader").id}
    member = role("member").id
    assert by_role[member] == {
        "role": {"id": member},
        "user": {"id": alice.id},
        "scope": {"project": {"id": project.id}},
        "links": {
            "assignment": f"http://testserver{V3}/projects/{project.id}/users/{alice.id}"
            f"/roles/{member}"
        },
    }

    named = ok(
        admin_api.get(
            f"{V3}/role_assignments?scope.project.id={project.id}&role.id={member}"
            "&include_names=True"
        ),
        "role_assignments",
    )
    assert [(a["role"], a["user"], a["scope"]) for a in named] == [
        (
            {"id": member, "name": "member"},
            {"id": alice.id, "name": "alice", "domain": {"id": "default", "name": "Default"}},
            {
                "project": {
                    "id": project.id,
                    "name": "alpha",
                    "domain": {"id": "default", "name": "Default"},
                }
            },
        )
    ]
    everyone = ok(admin_api.get(f"{V3}/role_assignments"), "role_assignments")
    assert len(everyone) == RoleAssignment.objects.count() == 5
    for query in ("group.id=g", "scope.domain.id=default", "scope.system=all"):
        assert ok(admin_api.get(f"{V3}/role_assignments?{query}"), "role_assignments") == []
    error(admin_api.get(f"{V3}/role_assignments?effective&group.id=g"), 400)
    error(admin_api.get(f"{V3}/role_assignments?user.id=u&group.id=g"), 400)
    error(admin_api.get(f"{V3}/role_assignments?scope.domain.id=d&scope.project.id=p"), 400)


def test_effective_role_assignments_include_implied_roles(admin_api):
    bob = User.objects.create(username="bob")
    project, admin_role = alpha(), role("admin")
    RoleAssignment.objects.create(user=bob, project=project, role=admin_role)
    direct = ok(admin_api.get(f"{V3}/role_assignments?user.id={bob.id}"), "role_assignments")
    assert [a["role"]["id"] for a in direct] == [admin_role.id]

    effective = ok(
        admin_api.get(f"{V3}/role_assignments?user.id={bob.id}&effective&include_names=1"),
        "role_assignments",
    )
    assert [a["role"]["name"] for a in effective] == ["admin", "member", "reader"]
    implied = effective[1]
    base = f"http://testserver{V3}"
    assert implied["links"] == {
        "assignment": f"{base}/projects/{project.id}/users/{bob.id}/roles/{admin_role.id}",
        "prior_role": f"{base}/prior_role/{role('member').id}/implies/{admin_role.id}",
    }
    readers = ok(
        admin_api.get(f"{V3}/role_assignments?effective&role.id={role('reader').id}"),
        "role_assignments",
    )
    assert {a["user"]["id"] for a in readers} == set(User.objects.values_list("id", flat=True))
    assert ok(
        admin_api.get(f"{V3}/role_assignments?effective=0&role.id={role('reader').id}"),
        "role_assignments",
    ) == [
        a
        for a in ok(admin_api.get(f"{V3}/role_assignments"), "role_assignments")
        if a["role"]["id"] == role("reader").id
    ]


def test_role_assignments_are_for_admins(api, reader):
    for client in (api, reader):
        assert error(client.get(f"{V3}/role_assignments"), 403) == DENIED


def test_role_assignment_queries_do_not_grow_with_rows(admin_api, django_assert_max_num_queries):
    for index in range(10):
        project_user_ensure(
            project_name=f"p{index}", username=f"u{index}", password=PASSWORD, role_name="admin"
        )
    with django_assert_max_num_queries(12):
        everyone = admin_api.get(f"{V3}/role_assignments?effective&include_names")
    assert len(ok(everyone, "role_assignments")) == 3 * 11 + 2


# --- tokens ----------------------------------------------------------------------


def token_for_unscoped(username: str) -> str:
    response = APIClient().post(f"{V3}/auth/tokens", auth_body(username, None), format="json")
    token = created(response, "token")
    assert "project" not in token and "catalog" not in token and "roles" not in token
    return response["X-Subject-Token"]


def _rescope(token: str, scope) -> object:
    body = {"auth": {"identity": {"methods": ["token"], "token": {"id": token}}}}
    if scope is not None:
        body["auth"]["scope"] = scope
    return APIClient().post(f"{V3}/auth/tokens", body, format="json")


def test_rescope_an_unscoped_token_with_the_token_method(seeded):
    unscoped = token_for_unscoped("alice")
    original = Token.objects.get(revoked=False)
    response = _rescope(unscoped, {"project": {"id": alpha().id}})
    token = created(response, "token")
    assert token["methods"] == ["token", "password"]
    assert token["project"]["name"] == "alpha"
    assert {r["name"] for r in token["roles"]} == {"member", "reader"}
    assert {s["type"] for s in token["catalog"]} >= {"identity", "compute"}
    assert Token.objects.get(audit_id=token["audit_ids"][0]).expires_at == original.expires_at
    scoped = client_for(response["X-Subject-Token"])
    assert scoped.get("/compute/v2.1/servers").status_code == 200

    by_name = _rescope(unscoped, {"project": {"name": "alpha", "domain": {"name": "Default"}}})
    assert created(by_name, "token")["project"]["id"] == alpha().id
    again = created(_rescope(response["X-Subject-Token"], "unscoped"), "token")
    assert "project" not in again and again["methods"] == ["token", "password"]


def test_rescope_refusals(seeded):
    unscoped = token_for_unscoped("alice")
    admin_project = Project.objects.get(name="admin")
    assert error(_rescope(unscoped, {"project": {"id": admin_project.id}}), 401)
    assert error(_rescope("forged", {"project": {"id": alpha().id}}), 401)
    error(_rescope(unscoped, {"domain": {"id": "default"}}), 401)
    error(_rescope(unscoped, ["nope"]), 400)
    body = {"auth": {"identity": {"methods": ["token"], "token": {}}}}
    error(APIClient().post(f"{V3}/auth/tokens", body, format="json"), 400)
    totp = {"auth": {"identity": {"methods": ["totp"], "totp": {}}}}
    error(APIClient().post(f"{V3}/auth/tokens", totp, format="json"), 401)
    revoked = token_for("alice", "alpha")
    Token.objects.filter(revoked=False).update(revoked=True)
    error(_rescope(revoked, {"project": {"id": alpha().id}}), 401)


def test_validate_and_revoke_follow_the_token_policy(api, admin_api, reader):
    alice_token = token_for("alice", "alpha")
    admin_token = token_for("admin", "admin")
    tokens = f"{V3}/auth/tokens"

    shown = api.get(tokens, HTTP_X_SUBJECT_TOKEN=alice_token)
    assert ok(shown, "token")["user"]["name"] == "alice"
    assert shown["X-Subject-Token"] == alice_token
    assert "catalog" not in ok(
        api.get(f"{tokens}?nocatalog", HTTP_X_SUBJECT_TOKEN=alice_token), "token"
    )
    assert error(api.get(tokens, HTTP_X_SUBJECT_TOKEN=admin_token), 403) == DENIED
    error(reader.get(tokens, HTTP_X_SUBJECT_TOKEN=alice_token), 403)
    error(reader.delete(tokens, HTTP_X_SUBJECT_TOKEN=alice_token), 403)
    error(api.delete(tokens, HTTP_X_SUBJECT_TOKEN=admin_token), 403)
    assert (
        ok(admin_api.get(tokens, HTTP_X_SUBJECT_TOKEN=alice_token), "token")["project"]["name"]
        == "alpha"
    )
    assert error(admin_api.get(tokens, HTTP_X_SUBJECT_TOKEN="forged"), 404)
    error(admin_api.get(tokens), 404)

    assert admin_api.delete(tokens, HTTP_X_SUBJECT_TOKEN=alice_token).status_code == 204
    error(admin_api.get(tokens, HTTP_X_SUBJECT_TOKEN=alice_token), 404)
    error(admin_api.delete(tokens, HTTP_X_SUBJECT_TOKEN=alice_token), 404)
    assert not _works(client_for(alice_token))
    assert _works(client_for(admin_token))


# --- Django admin ----------------------------------------------------------------


def test_django_admin_pages(seeded):
    browser = Client()
    browser.force_login(User.objects.get(username="admin"))
    secret = token_for("alice", "alpha")
    token = Token.objects.get(user__username="alice")
    alice = User.objects.get(username="alice")
    pages = {
        "/admin/identity/domain/": "Default",
        "/admin/identity/domain/default/change/": "Default",
        "/admin/identity/project/": "alpha",
        f"/admin/identity/project/{alpha().id}/change/": "member",
        "/admin/identity/user/": "alice",
        f"/admin/identity/user/{alice.id}/change/": "alpha",
        "/admin/identity/user/add/": "Domain id",
        "/admin/identity/role/": "reader",
        "/admin/identity/roleassignment/": "alice",
        "/admin/identity/token/": token.audit_id,
        f"/admin/identity/token/{token.digest}/change/": token.audit_id,
    }
    for path, text in pages.items():
        response = browser.get(path)
        assert response.status_code == 200, path
        page = response.content.decode()
        assert text in page, path
        assert secret not in page
    assert browser.get("/admin/identity/token/add/").status_code == 403
    # Quotas are edited on their project's page (test_identity_admin_pages.py).
    assert browser.get("/admin/identity/quota/").status_code == 404


def test_catalog_identity_endpoint_serves_this_api(seeded):
    """Clients follow the catalog: its identity URL must be where this API answers."""
    response = APIClient().post(f"{V3}/auth/tokens", auth_body("admin", "admin"), format="json")
    catalog = created(response, "token")["catalog"]
    endpoint_ids = [e["id"] for service in catalog for e in service["endpoints"]]
    assert len(endpoint_ids) == len(set(endpoint_ids))
    (identity,) = [service for service in catalog if service["type"] == "identity"]
    urls = {e["interface"]: e["url"] for e in identity["endpoints"]}
    assert set(urls) == {"public", "internal", "admin"}
    admin = client_for(response["X-Subject-Token"])
    path = urls["public"].removeprefix("http://testserver")
    assert admin.get(path).json()["version"]["id"].startswith("v3.")
    assert names(admin.get(f"{path}/projects?name=alpha"), "projects") == ["alpha"]
