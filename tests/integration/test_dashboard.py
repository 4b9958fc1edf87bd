"""The admin dashboard in a real browser (Debian's headless chromium, driven through
chromium-driver by selenium) on real data: servers booted on real workers, the
capacity bars and charts drawn with the numbers the API reports (placement usages
and inventories), a screenshot taken; and the operator actions (disable a host with
a reason, evacuate a down host, reset a state) through the API's services, recorded
as instance actions."""

import os
import shutil
from pathlib import Path

import pytest
from rest_framework.test import APIClient

from cloud.instances.models import Instance, InstanceAction
from tests.helpers import PASSWORD, create_server, show, wait_status
from tests.integration.conftest import HOSTS, wait_for

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--window-size=1400,2400",
]


@pytest.fixture
def browser():
    if not (shutil.which(CHROMIUM) and shutil.which(CHROMEDRIVER)):
        pytest.skip("chromium and chromium-driver (deploy/bootstrap.sh --dev installs them)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in FLAGS:
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


def _login(browser, base: str) -> None:
    from selenium.webdriver.common.by import By

    browser.get(f"{base}/admin/login/?next=/admin/")
    browser.find_element(By.NAME, "username").send_keys("admin")
    browser.find_element(By.NAME, "password").send_keys(PASSWORD)
    browser.find_element(By.CSS_SELECTOR, "input[type=submit]").click()
    wait_for(lambda: "/admin/login" not in browser.current_url, 20, message="admin login")


# Pixels painted on a chart's canvas (alpha not 0).
PAINTED = """
const canvas = document.getElementById(arguments[0]);
if (!canvas.width || !canvas.height) return 0;
const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
let painted = 0;
for (let i = 3; i < data.length; i += 4) { if (data[i] > 0) painted++; }
return painted;
"""

# A capacity chart's bars of one host: the data, and where the used and free bars end
# against where the x axis puts zero, the used amount and the capacity.
BARS = """
const c = Chart.getChart('capacity-' + arguments[0]);
const i = c.data.labels.indexOf(arguments[1]);
const used = c.data.datasets[0].data[i], free = c.data.datasets[1].data[i];
const x = c.scales.x;
return {
    data: [used, free],
    bars: c.getDatasetMeta(0).data.length,
    used_end: c.getDatasetMeta(0).data[i].x,
    free_end: c.getDatasetMeta(1).data[i].x,
    zero_at: x.getPixelForValue(0),
    used_at: x.getPixelForValue(used),
    capacity_at: x.getPixelForValue(used + free),
};
"""


def _placement(admin_client: APIClient, host: str) -> tuple[dict, dict]:
    version = {"HTTP_OPENSTACK_API_VERSION": "placement 1.20"}
    (provider,) = admin_client.get(f"/placement/resource_providers?name={host}", **version).json()[
        "resource_providers"
    ]
    base = f"/placement/resource_providers/{provider['uuid']}"
    usages = admin_client.get(f"{base}/usages", **version).json()["usages"]
    inventories = admin_client.get(f"{base}/inventories", **version).json()["inventories"]
    capacity = {
        rc: int((inv["total"] - inv["reserved"]) * inv["allocation_ratio"])
        for rc, inv in inventories.items()
    }
    return usages, capacity


def test_dashboard_draws_the_numbers_the_api_reports(admin_client, live_server, browser, tmp_path):
    from selenium.webdriver.common.by import By

    servers = [create_server(admin_client, f"dash-{i}", flavor="2" if i else "1") for i in range(3)]
    for server in servers:
        assert wait_status(admin_client, server["id"], {"ACTIVE"}, timeout=60)["status"] == "ACTIVE"
    # And a build that fails: no host has the room (8 GB; the hosts have 2.5 GB each, the
    # quota allows it), a failure per minute and its fault.
    huge = admin_client.post(
        "/compute/v2.1/flavors",
        {"flavor": {"name": "dash-huge", "ram": 8192, "vcpus": 1, "disk": 1, "id": "dash-huge"}},
        format="json",
    )
    assert huge.status_code == 200, huge.content
    doomed = create_server(admin_client, "dash-doomed", flavor="dash-huge")
    fault = wait_status(admin_client, doomed["id"], {"ERROR"}, timeout=60)["fault"]

    _login(browser, live_server.url)
    link = browser.find_element(By.CSS_SELECTOR, "#operators-dashboard-link a")
    link.click()
    wait_for(
        lambda: browser.execute_script(
            "return typeof Chart !== 'undefined' && !!Chart.getChart('builds')"
        ),
        20,
        message="the dashboard's charts drawn",
    )
    # The screenshot is kept where STRATUS_SCREENSHOTS says (CI keeps it as an artifact).
    shots = Path(os.environ.get("STRATUS_SCREENSHOTS") or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    png = browser.get_screenshot_as_png()
    (shots / "stratus-dashboard.png").write_bytes(png)
    assert png.startswith(b"\x89PNG") and len(png) > 20_000

    # Every chart is drawn: its canvas has a size and pixels painted on it.
    for chart in ("by-state", "by-project", "builds", "queues", "capacity-VCPU"):
        painted = browser.execute_script(PAINTED, chart)
        assert painted > 500, f"the {chart} chart is blank ({painted} pixels painted)"

    for host in HOSTS:
        usages, capacity = _placement(admin_client, host)
        for rc in ("VCPU", "MEMORY_MB", "DISK_GB"):
            # The bar chart of that class: used and free stacked per host, as placement
            # says, and drawn so: the used bar ends where the axis puts `used`, the free
            # bar where it puts the capacity.
            drawn = browser.execute_script(BARS, rc, host)
            assert drawn["data"] == [usages[rc], capacity[rc] - usages[rc]], (host, rc)
            assert drawn["bars"] == len(HOSTS)
            assert abs(drawn["used_end"] - drawn["used_at"]) < 1.5, (host, rc, drawn)
            assert abs(drawn["free_end"] - drawn["capacity_at"]) < 1.5, (host, rc, drawn)
            assert (drawn["used_end"] > drawn["zero_at"]) == (usages[rc] > 0), (host, rc, drawn)
            cell = browser.find_element(
                By.CSS_SELECTOR, f'tr[data-host="{host}"] td.usage[data-resource-class="{rc}"]'
            )
            assert cell.find_element(By.CSS_SELECTOR, ".used").text == str(usages[rc])
            assert cell.find_element(By.CSS_SELECTOR, ".capacity").text == str(capacity[rc])
            meter = cell.find_element(By.TAG_NAME, "meter")
            assert float(meter.get_attribute("value")) == usages[rc]
        assert browser.find_element(
            By.CSS_SELECTOR, f'tr[data-host="{host}"] td.host-state'
        ).text.startswith("up")

    # Instances by state, and the builds of the last minutes, as the API lists them.
    listed = admin_client.get("/compute/v2.1/servers/detail?all_tenants=1").json()["servers"]
    active = sum(1 for s in listed if s["status"] == "ACTIVE")
    by_state = browser.execute_script(
        "const c = Chart.getChart('by-state');"
        "return c.data.datasets[0].data[c.data.labels.indexOf('active')];"
    )
    assert by_state == active
    builds, failures = browser.execute_script(
        "return Chart.getChart('builds').data.datasets.map(d => d.data.reduce((a, b) => a + b, 0));"
    )
    assert builds == InstanceAction.objects.filter(action="create").count() == 4
    assert failures == 1
    # The fault that failed it, as the API shows it, with its count.
    (row,) = [
        r
        for r in browser.find_elements(By.CSS_SELECTOR, "#faults tbody tr")
        if fault["message"] in r.text
    ]
    assert row.find_elements(By.TAG_NAME, "td")[1].text == "1"
    # Instances by project, as the API lists them per tenant.
    per_project = {}
    for s in listed:
        per_project[s["tenant_id"]] = per_project.get(s["tenant_id"], 0) + 1
    drawn = browser.execute_script(
        "const c = Chart.getChart('by-project');"
        "return Object.fromEntries(c.data.labels.map((l, i) => [l, c.data.datasets[0].data[i]]));"
    )
    assert drawn == per_project
    assert browser.find_element(By.ID, "hosts-up").text == str(len(HOSTS))
    queues = browser.execute_script("return Chart.getChart('queues').data.labels;")
    assert {"conductor", "scheduler", *(f"compute.{h}" for h in HOSTS)} <= set(queues)


def _force_down(admin_client: APIClient, host: str, down: bool) -> None:
    services = admin_client.get("/compute/v2.1/os-services").json()["services"]
    (service,) = [s for s in services if s["host"] == host]
    response = admin_client.put(
        f"/compute/v2.1/os-services/{service['id']}", {"forced_down": down}, format="json"
    )
    assert response.status_code == 200, response.content


def test_operator_actions_go_through_the_apis_services(admin_client, live_server, browser):
    from selenium.webdriver.common.by import By

    _login(browser, live_server.url)
    host = sorted(HOSTS)[0]
    browser.get(f"{live_server.url}/admin/dashboard/")
    row = browser.find_element(By.CSS_SELECTOR, f'tr[data-host="{host}"]')
    row.find_element(By.NAME, "reason").send_keys("disk replacement")
    row.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    wait_for(lambda: "disabled" in browser.page_source, 20, message="host disabled")
    services = admin_client.get("/compute/v2.1/os-services").json()["services"]
    (service,) = [s for s in services if s["host"] == host]
    assert (service["status"], service["disabled_reason"]) == ("disabled", "disk replacement")
    row = browser.find_element(By.CSS_SELECTOR, f'tr[data-host="{host}"]')
    assert row.find_element(By.CSS_SELECTOR, "td.host-disabled").text == (
        "disabled: disk replacement"
    )
    row.find_element(By.XPATH, ".//button[text()='Enable']").click()
    wait_for(
        lambda: (
            admin_client.get("/compute/v2.1/os-services").json()["services"][0]["status"]
            == "enabled"
            and all(
                s["status"] == "enabled"
                for s in admin_client.get("/compute/v2.1/os-services").json()["services"]
            )
        ),
        20,
        message="host enabled again",
    )

    # Evacuate a host that is down: its servers are rebuilt elsewhere (the API's service).
    server = create_server(admin_client, "evacuee", availability_zone=f"nova:{host}")
    assert wait_status(admin_client, server["id"], {"ACTIVE"}, timeout=60)["status"] == "ACTIVE"
    assert show(admin_client, server["id"])["OS-EXT-SRV-ATTR:host"] == host
    _force_down(admin_client, host, True)
    try:
        browser.get(f"{live_server.url}/admin/dashboard/")
        row = browser.find_element(By.CSS_SELECTOR, f'tr[data-host="{host}"]')
        row.find_element(By.XPATH, ".//button[text()='Evacuate']").click()
        wait_for(
            lambda: (
                (show(admin_client, server["id"]) or {}).get("OS-EXT-SRV-ATTR:host") != host
                and show(admin_client, server["id"])["status"] == "ACTIVE"
            ),
            60,
            message="evacuated",
        )
    finally:
        _force_down(admin_client, host, False)
    evacuation = InstanceAction.objects.get(instance_uuid=server["id"], action="evacuate")
    assert evacuation.request_id.startswith("req-") and evacuation.user_id

    # Reset the state of a server stuck mid-task, from the oldest-transitions table.
    Instance.objects.filter(uuid=server["id"]).update(task_state="rebooting")
    browser.get(f"{live_server.url}/admin/dashboard/")
    stuck = browser.find_element(By.ID, "stuck")
    assert server["id"] in stuck.text and "rebooting" in stuck.text
    stuck.find_element(By.XPATH, ".//button[text()='Reset']").click()
    wait_for(lambda: show(admin_client, server["id"])["status"] == "ERROR", 20, message="reset")
    assert show(admin_client, server["id"])["OS-EXT-STS:task_state"] is None
    actions = admin_client.get(f"/compute/v2.1/servers/{server['id']}/os-instance-actions").json()[
        "instanceActions"
    ]
    assert "resetState" in {a["action"] for a in actions}
