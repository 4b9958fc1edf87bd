"""The Django admin as the operator's identity dashboard: a project's role assignments,
quota limits and usage against them, and users' key pairs."""

from cloud.identity.models import KeyPair, Project, Quota


def test_project_page_shows_assignments_limits_and_usage(client, admin_user):
    client.force_login(admin_user)
    project = Project.objects.create(name="research")
    Quota.objects.create(project=project, resource="instances", hard_limit=7)
    KeyPair.objects.create(
        user=admin_user, name="laptop", public_key="ssh-ed25519 AAAA", fingerprint="aa:bb"
    )
    page = client.get(f"/admin/identity/project/{project.pk}/change/")
    assert page.status_code == 200
    text = page.content.decode()
    assert "Usage against quotas" in text
    assert "<b>instances</b>: 0 used of 7" in text
    assert "<b>cores</b>: 0 used of" in text
    assert 'name="quotas-0-hard_limit"' in text and 'value="7"' in text
    assert "role assignments" in text.lower()

    keypairs = client.get("/admin/identity/keypair/")
    assert keypairs.status_code == 200 and "laptop" in keypairs.content.decode()
    assert client.get("/admin/identity/project/add/").status_code == 200
