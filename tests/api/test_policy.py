"""Policy: rule defaults per role, an operator's policy.yaml overriding them (re-read on
change), denials logged by rule name and never named in the response."""

import io
import logging
import os

import yaml
from django.core.management import call_command
from rest_framework.test import APIClient

from cloud.identity.policies import list_rules
from cloud.identity.services import project_user_ensure
from cloud.instances.management.commands.seed import TINY_IMAGE_ID
from cloud.instances.models import Instance
from tests.helpers import PASSWORD, token_for

SERVERS = "/compute/v2.1/servers"


def client_for(username: str, project: str, role: str) -> APIClient:
    project_user_ensure(project_name=project, username=username, password=PASSWORD, role_name=role)
    client = APIClient()
    client.credentials(HTTP_X_AUTH_TOKEN=token_for(username, project))
    return client


def boot(client: APIClient):
    body = {
        "server": {"name": "vm", "imageRef": TINY_IMAGE_ID, "flavorRef": "1", "networks": "none"}
    }
    return client.post(SERVERS, body, format="json")


def test_reader_reads_but_cannot_act(api, caplog):
    server = boot(api).json()["server"]
    reader = client_for("rita", "alpha", "reader")
    assert reader.get(SERVERS).status_code == 200
    assert reader.get(f"{SERVERS}/{server['id']}").status_code == 200
    with caplog.at_level(logging.INFO, logger="cloud.identity.policy"):
        refused = boot(reader)
    assert refused.status_code == 403
    assert refused.json() == {
        "forbidden": {
            "code": 403,
            "message": "You are not authorized to perform the requested action.",
        }
    }
    assert "os_compute_api:servers:create" in caplog.text
    assert reader.delete(f"{SERVERS}/{server['id']}").status_code == 403
    assert Instance.objects.filter(deleted=False).count() == 1


def test_unscoped_token_cannot_use_the_compute_api(seeded):
    response = APIClient().post(
        "/identity/v3/auth/tokens",
        {
            "auth": {
                "identity": {
                    "methods": ["password"],
                    "password": {
                        "user": {"name": "alice", "domain": {"id": "default"}, "password": PASSWORD}
                    },
                }
            }
        },
        format="json",
    )
    assert response.status_code == 201
    client = APIClient()
    client.credentials(HTTP_X_AUTH_TOKEN=response["X-Subject-Token"])
    assert client.get(SERVERS).status_code == 403
    assert boot(client).status_code == 403
    assert not Instance.objects.exists()


def test_policy_file_overrides_defaults_and_is_reread(api, settings, tmp_path):
    policy_file = tmp_path / "policy.yaml"
    policy_file.write_text(yaml.safe_dump({"os_compute_api:servers:index": "role:admin"}))
    settings.POLICY_FILE = str(policy_file)
    refused = api.get(SERVERS)
    assert refused.status_code == 403
    assert "servers:index" not in refused.content.decode()
    assert api.get(f"{SERVERS}/detail").status_code == 200

    policy_file.write_text(yaml.safe_dump({"os_compute_api:servers:index": "@"}))
    later = os.stat(policy_file).st_mtime + 5
    os.utime(policy_file, (later, later))
    assert api.get(SERVERS).status_code == 200


def test_missing_policy_file_means_defaults(api, settings, tmp_path):
    settings.POLICY_FILE = str(tmp_path / "absent.yaml")
    assert api.get(SERVERS).status_code == 200


def test_policy_sample_lists_every_rule_with_its_default():
    out = io.StringIO()
    call_command("policy_sample", stdout=out)
    uncommented = "\n".join(
        line[1:] for line in out.getvalue().splitlines() if line.startswith('#"')
    )
    rules = yaml.safe_load(uncommented)
    assert rules == {rule.name: rule.check_str for rule in list_rules()}
    assert rules["os_compute_api:servers:create"] == "rule:project_member_or_admin"
