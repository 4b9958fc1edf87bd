"""The Django admin of flavors: the list with each flavor's spec count, and the change
page with its extra specs and access list inline, both editable."""

from cloud.instances.models import Flavor, FlavorAccess, FlavorExtraSpec


def _flavor() -> Flavor:
    flavor = Flavor.objects.create(
        flavorid="adm", name="adm.flavor", memory_mb=512, vcpus=1, root_gb=1, is_public=False
    )
    FlavorExtraSpec.objects.create(flavor=flavor, key="hw:cpu_policy", value="dedicated")
    FlavorAccess.objects.create(flavor=flavor, project_id="p-one")
    return flavor


def test_the_flavor_list_and_page_show_specs_and_access(client, admin_user):
    client.force_login(admin_user)
    flavor = _flavor()
    listing = client.get("/admin/instances/flavor/")
    assert listing.status_code == 200 and "adm.flavor" in listing.content.decode()
    found = client.get("/admin/instances/flavor/?q=hw:cpu_policy").content.decode()
    assert "adm.flavor" in found
    page = client.get(f"/admin/instances/flavor/{flavor.pk}/change/")
    text = page.content.decode()
    assert page.status_code == 200
    assert 'name="specs-0-key"' in text and 'value="hw:cpu_policy"' in text
    assert 'value="dedicated"' in text
    assert 'name="access-0-project_id"' in text and 'value="p-one"' in text


def test_specs_and_access_are_edited_inline(client, admin_user):
    client.force_login(admin_user)
    flavor = _flavor()
    spec = flavor.specs.get()
    access = flavor.access.get()
    form = {
        "flavorid": "adm",
        "name": "adm.flavor",
        "memory_mb": "512",
        "vcpus": "1",
        "root_gb": "1",
        "ephemeral_gb": "0",
        "swap": "0",
        "rxtx_factor": "1.0",
        "description": "",
        "specs-TOTAL_FORMS": "2",
        "specs-INITIAL_FORMS": "1",
        "specs-0-id": str(spec.pk),
        "specs-0-flavor": str(flavor.pk),
        "specs-0-key": "hw:cpu_policy",
        "specs-0-value": "shared",
        "specs-1-flavor": str(flavor.pk),
        "specs-1-key": "hw:numa_nodes",
        "specs-1-value": "2",
        "access-TOTAL_FORMS": "2",
        "access-INITIAL_FORMS": "1",
        "access-0-id": str(access.pk),
        "access-0-flavor": str(flavor.pk),
        "access-0-project_id": "p-one",
        "access-0-DELETE": "on",
        "access-1-flavor": str(flavor.pk),
        "access-1-project_id": "p-two",
    }
    response = client.post(f"/admin/instances/flavor/{flavor.pk}/change/", form)
    assert response.status_code == 302, response.content.decode()[:2000]
    assert flavor.extra_specs == {"hw:cpu_policy": "shared", "hw:numa_nodes": "2"}
    assert list(flavor.access.values_list("project_id", flat=True)) == ["p-two"]
