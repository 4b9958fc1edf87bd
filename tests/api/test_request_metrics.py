"""/metrics counts every response, those the middlewares answer themselves included: a
body the guard refuses (413, 400) is counted under the route its path names, a path no
pattern takes under "unmatched"; read with the Prometheus client's own parser."""

import json

from django.test import override_settings
from prometheus_client.parser import text_string_to_metric_families

V = "/compute/v2.1"
LATEST = {"HTTP_OPENSTACK_API_VERSION": "compute 2.96"}


def _requests(admin_api) -> dict[tuple[str, str, str], float]:
    response = admin_api.get("/metrics")
    assert response.status_code == 200, response.content
    (family,) = [
        f
        for f in text_string_to_metric_families(response.content.decode())
        if f.name == "stratus_http_requests"
    ]
    return {
        (s.labels["method"], s.labels["route"], s.labels["status"]): s.value
        for s in family.samples
        if s.name == "stratus_http_requests_total"
    }


def _counted(before: dict, after: dict, key: tuple[str, str, str]) -> float:
    return after.get(key, 0) - before.get(key, 0)


@override_settings(API_MAX_BODY_BYTES=4096)
def test_the_body_guards_refusals_are_counted_under_their_route(api, admin_api):
    before = _requests(admin_api)
    big = json.dumps({"server": {"name": "x", "metadata": {"k": "v" * 5000}}})
    assert api.post(f"{V}/servers", big, content_type="application/json", **LATEST).status_code == (
        413
    )
    deep = '{"server": ' + "[" * 100 + "]" * 100 + "}"
    assert api.post(f"{V}/servers", deep, content_type="application/json").status_code == 400
    assert api.get(f"{V}/servers/{'0' * 8}/no-such-thing").status_code == 404
    after = _requests(admin_api)

    assert _counted(before, after, ("POST", "compute/v2.1/servers", "413")) == 1
    assert _counted(before, after, ("POST", "compute/v2.1/servers", "400")) == 1
    assert _counted(before, after, ("GET", "unmatched", "404")) == 1
    # The scrape before this one is counted as well: nothing escapes the count.
    assert _counted(before, after, ("GET", "metrics", "200")) == 1
