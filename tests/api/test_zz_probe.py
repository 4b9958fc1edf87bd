from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from tests.helpers import TINY_IMAGE_ID, token_for

H = {"HTTP_OPENSTACK_API_VERSION": "compute 2.96"}


def test_probe(seeded, django_capture_on_commit_callbacks):
    c = APIClient()
    c.credentials(HTTP_X_AUTH_TOKEN=token_for("admin", "admin"))
    body = {"server": {"name": "a", "imageRef": TINY_IMAGE_ID, "flavorRef": "1", "networks": "none"}}
    c.post("/compute/v2.1/servers", body, format="json", **H)
    with CaptureQueriesContext(connection) as q:
        r = c.post("/compute/v2.1/servers", body, format="json", **H)
    print("\nPOST", r.status_code, len(q))
    for x in q.captured_queries: print("   ", x["sql"][:160])
    sid = r.json()["server"]["id"]
    with CaptureQueriesContext(connection) as q:
        r = c.delete(f"/compute/v2.1/servers/{sid}", **H)
    print("\nDELETE", r.status_code, len(q))
    for x in q.captured_queries: print("   ", x["sql"][:160])
    with CaptureQueriesContext(connection) as q:
        r = c.get(f"/compute/v2.1/servers/detail?name=a&limit=500", **H)
    print("\nGET detail", r.status_code, len(q))
    for x in q.captured_queries: print("   ", x["sql"][:160])
