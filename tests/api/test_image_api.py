"""Glance v2 subset: discovery, list filters, show."""

from rest_framework.test import APIClient

from cloud.images.models import Image
from cloud.instances.management.commands.seed import TINY_IMAGE_ID


def test_image_discovery_is_anonymous(db):
    response = APIClient().get("/image")
    assert response.status_code == 300
    current = [v for v in response.json()["versions"] if v["status"] == "CURRENT"]
    assert current[0]["links"][0]["href"] == "http://testserver/image/v2/"


def test_list_and_show(api):
    Image.objects.create(
        name="private", status="active", visibility="private", owner="someone-else"
    )
    images = api.get("/image/v2/images").json()["images"]
    assert [i["name"] for i in images] == ["tiny"]
    by_name = api.get("/image/v2/images?name=tiny").json()["images"]
    assert by_name[0]["id"] == TINY_IMAGE_ID
    by_ids = api.get(f"/image/v2/images?id=in:{TINY_IMAGE_ID}").json()["images"]
    assert len(by_ids) == 1
    shown = api.get(f"/image/v2/images/{TINY_IMAGE_ID}").json()
    assert shown["status"] == "active" and shown["visibility"] == "public"
    hidden = Image.objects.get(name="private")
    assert api.get(f"/image/v2/images/{hidden.id}").status_code == 404
    assert api.get("/image/v2/images/garbage").status_code == 404
    assert api.get("/image/v2/images?id=in:garbage").status_code == 400
