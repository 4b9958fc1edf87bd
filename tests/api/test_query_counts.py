"""Queries per endpoint, pinned: the main compute, identity and placement lists make as
many queries for ten rows as for one, and their show endpoints exactly their count.

A changed count fails here with the queries listed: fewer is a number to lower, more
is a query to explain (an N+1 is a list whose count moved with its rows). Rows are made
through the API where it can make them, else as the service that owns them would.
"""

import uuid

from django.db import connection
from django.utils import timezone

from cloud.hosts.models import ComputeNode
from cloud.identity.models import Project, User
from cloud.images.models import Image, ImageStatus, Visibility
from cloud.instances.management.commands.seed import TINY_IMAGE_ID
from cloud.instances.models import (
    Flavor,
    FlavorAccess,
    FlavorExtraSpec,
    Instance,
    InstanceAction,
    InstanceActionEvent,
    InstanceFault,
    Migration,
)
from tests.api.placement_client import INVENTORY, Placement
from tests.api.querycounts import LATEST, MEMBER, ListQueries, ShowQueries
from tests.helpers import create_server

V = "/compute/v2.1"
V3 = "/identity/v3"
PUBLIC_KEY = (
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl query@count"
)


def _server(client, name: str) -> str:
    return create_server(client, name)["id"]


def _failed(server_id: str) -> None:
    """The server as a build that failed everywhere leaves it: ERROR, with its fault."""
    Instance.objects.filter(uuid=server_id).update(vm_state="error", task_state=None)
    InstanceFault.objects.create(instance_uuid=server_id, code=500, message="No valid host")


def _flavor(index: int) -> Flavor:
    flavor = Flavor.objects.create(
        flavorid=f"qc-{index}", name=f"qc.{index}", memory_mb=256, vcpus=1, root_gb=1
    )
    FlavorExtraSpec.objects.create(flavor=flavor, key="hw:cpu_policy", value="shared")
    FlavorExtraSpec.objects.create(flavor=flavor, key="hw:numa_nodes", value="1")
    return flavor


def _node(index: int) -> ComputeNode:
    return ComputeNode.objects.create(
        host=f"qc-host-{index}",
        hypervisor_hostname=f"qc-host-{index}",
        hypervisor_type="QEMU",
        vcpus=4,
        memory_mb=2048,
        local_gb=10,
        last_seen_at=timezone.now(),
    )


def _hypervisor(client, index: int) -> ComputeNode:
    """A host as its heartbeats leave it: its row, its provider with inventories."""
    node = _node(index)
    Placement(client).provider(node.host, INVENTORY)
    return node


def _action(server_id: str, index: int) -> InstanceAction:
    action = InstanceAction.objects.create(
        instance_uuid=server_id,
        action="reboot",
        request_id=f"req-{uuid.uuid4()}",
        user_id="u",
        project_id=Project.objects.get(name="alpha").id,
        start_time=timezone.now(),
    )
    InstanceActionEvent.objects.create(
        action=action, event=f"compute_reboot_{index}", start_time=timezone.now(), host="h1"
    )
    return action


def _migration(server_id: str) -> Migration:
    flavor = Flavor.objects.get(flavorid="1").snapshot()
    return Migration.objects.create(
        instance_uuid=server_id,
        project_id=Project.objects.get(name="alpha").id,
        source_compute="h1",
        source_node="h1",
        dest_compute="h2",
        dest_node="h2",
        old_flavor=flavor,
        new_flavor=flavor,
        old_vm_state="active",
    )


def _image(index: int) -> Image:
    return Image.objects.create(
        name=f"qc-image-{index}",
        status=ImageStatus.ACTIVE,
        visibility=Visibility.PUBLIC,
        disk_format="qcow2",
        container_format="bare",
        size=1024,
    )


def _aggregate(client, index: int) -> dict:
    reply = client.post(
        f"{V}/os-aggregates", {"aggregate": {"name": f"qc-agg-{index}"}}, format="json"
    )
    assert reply.status_code == 200, reply.content
    aggregate = reply.json()["aggregate"]
    host = _node(index).host
    added = client.post(
        f"{V}/os-aggregates/{aggregate['id']}/action",
        {"add_host": {"host": host}},
        format="json",
    )
    assert added.status_code == 200, added.content
    return aggregate


def _server_group(client, index: int) -> dict:
    reply = client.post(
        f"{V}/os-server-groups",
        {"server_group": {"name": f"qc-group-{index}", "policy": "anti-affinity"}},
        format="json",
        **LATEST,
    )
    assert reply.status_code == 200, reply.content
    group = reply.json()["server_group"]
    server = {"name": f"qc-member-{index}", "imageRef": TINY_IMAGE_ID, "flavorRef": "1"}
    body = {"server": {**server, "networks": "none"}, "os:scheduler_hints": {"group": group["id"]}}
    member = client.post(f"{V}/servers", body, format="json", **LATEST)
    assert member.status_code == 202, member.content
    return group


def _keypair(client, index: int) -> None:
    reply = client.post(
        f"{V}/os-keypairs",
        {"keypair": {"name": f"qc-key-{index}", "public_key": PUBLIC_KEY}},
        format="json",
        **LATEST,
    )
    assert reply.status_code in (200, 201), reply.content


def _project(client, index: int) -> dict:
    reply = client.post(f"{V3}/projects", {"project": {"name": f"qc-project-{index}"}}, "json")
    assert reply.status_code == 201, reply.content
    return reply.json()["project"]


def _user(client, index: int) -> dict:
    reply = client.post(f"{V3}/users", {"user": {"name": f"qc-user-{index}"}}, "json")
    assert reply.status_code == 201, reply.content
    return reply.json()["user"]


def _assignment(client, index: int) -> None:
    project, user = _project(client, index), _user(client, index)
    roles = client.get(f"{V3}/roles?name=member").json()["roles"]
    grant = client.put(f"{V3}/projects/{project['id']}/users/{user['id']}/roles/{roles[0]['id']}")
    assert grant.status_code == 204, grant.content


# --- servers ---------------------------------------------------------------------------


class TestServerList(ListQueries):
    caller = MEMBER
    path = f"{V}/servers"
    key = "servers"
    queries = 1

    def add(self, client, index):
        _server(client, f"qc-{index}")


class TestServerDetailList(TestServerList):
    """Every other server in ERROR, with its fault: the faults come in one query."""

    path = f"{V}/servers/detail"
    # The servers' ports (cloud.network) come in one query (and three prefetches when
    # any server has ports: tests/api/test_network_query_counts.py), and their volume
    # attachments in one more (cloud.instances.volume_attach.servers_volumes).
    queries = 4

    def add(self, client, index):
        server_id = _server(client, f"qc-{index}")
        if index % 2 == 0:
            _failed(server_id)


class TestServerShow(ShowQueries):
    caller = MEMBER
    # With its volume attachments (one query).
    queries = 5

    def make(self, client):
        return f"{V}/servers/{_server(client, 'qc')}"


# --- flavors, key pairs, images --------------------------------------------------------


class TestFlavorList(ListQueries):
    caller = MEMBER
    path = f"{V}/flavors"
    key = "flavors"
    queries = 1

    def add(self, client, index):
        _flavor(index)


class TestFlavorDetailList(TestFlavorList):
    """From 2.61 with their extra specs: one query for the specs of every row."""

    path = f"{V}/flavors/detail"
    queries = 2


class TestFlavorShow(ShowQueries):
    caller = MEMBER
    queries = 2

    def make(self, client):
        return f"{V}/flavors/{_flavor(0).flavorid}"


class TestFlavorExtraSpecList(ListQueries):
    caller = MEMBER
    key = "extra_specs"
    queries = 2

    def prepare(self, client):
        self.path = f"{V}/flavors/{_flavor(0).flavorid}/os-extra_specs"

    def add(self, client, index):
        FlavorExtraSpec.objects.create(
            flavor=Flavor.objects.get(flavorid="qc-0"), key=f"k{index}", value="v"
        )


class TestFlavorExtraSpecShow(ShowQueries):
    caller = MEMBER
    queries = 2

    def make(self, client):
        return f"{V}/flavors/{_flavor(0).flavorid}/os-extra_specs/hw:cpu_policy"


class TestFlavorAccessList(ListQueries):
    """The flavor with its specs (one shared read of a flavor), then its access rows."""

    key = "flavor_access"
    queries = 3

    def prepare(self, client):
        self.flavor = Flavor.objects.create(
            flavorid="qc-private", name="qc.private", memory_mb=256, vcpus=1, is_public=False
        )
        self.path = f"{V}/flavors/{self.flavor.flavorid}/os-flavor-access"

    def add(self, client, index):
        FlavorAccess.objects.create(flavor=self.flavor, project_id=f"qc-project-{index}")


class TestServerMetadataList(ShowQueries):
    caller = MEMBER
    queries = 1

    def make(self, client):
        metadata = {f"k{index}": "v" for index in range(10)}
        return f"{V}/servers/{create_server(client, 'qc', metadata=metadata)['id']}/metadata"


class TestServerMetadataShow(ShowQueries):
    caller = MEMBER
    queries = 1

    def make(self, client):
        return f"{V}/servers/{create_server(client, 'qc', metadata={'k': 'v'})['id']}/metadata/k"


class TestKeypairList(ListQueries):
    caller = MEMBER
    path = f"{V}/os-keypairs"
    key = "keypairs"
    queries = 1

    def add(self, client, index):
        _keypair(client, index)


class TestKeypairShow(ShowQueries):
    caller = MEMBER
    queries = 1

    def make(self, client):
        _keypair(client, 0)
        return f"{V}/os-keypairs/qc-key-0"


class TestImageList(ListQueries):
    caller = MEMBER
    path = "/image/v2/images"
    key = "images"
    queries = 1

    def add(self, client, index):
        _image(index)


class TestImageShow(ShowQueries):
    caller = MEMBER
    queries = 1

    def make(self, client):
        return f"/image/v2/images/{TINY_IMAGE_ID}"


# --- hosts: hypervisors, services, aggregates ------------------------------------------


class TestHypervisorList(ListQueries):
    path = f"{V}/os-hypervisors"
    key = "hypervisors"
    queries = 1

    def add(self, client, index):
        _hypervisor(client, index)


class TestHypervisorDetailList(TestHypervisorList):
    path = f"{V}/os-hypervisors/detail"
    queries = 3


class TestHypervisorShow(ShowQueries):
    queries = 4

    def make(self, client):
        return f"{V}/os-hypervisors/{_hypervisor(client, 0).uuid}?with_servers=true"


class TestServiceList(ListQueries):
    path = f"{V}/os-services"
    key = "services"
    queries = 1

    def add(self, client, index):
        _node(index)


class TestAggregateList(ListQueries):
    path = f"{V}/os-aggregates"
    key = "aggregates"
    queries = 2

    def add(self, client, index):
        _aggregate(client, index)


class TestAggregateShow(ShowQueries):
    queries = 2

    def make(self, client):
        return f"{V}/os-aggregates/{_aggregate(client, 0)['id']}"


# --- server groups, instance actions, migrations ---------------------------------------


class TestServerGroupList(ListQueries):
    caller = MEMBER
    path = f"{V}/os-server-groups"
    key = "server_groups"
    queries = 2

    def add(self, client, index):
        _server_group(client, index)


class TestServerGroupShow(ShowQueries):
    caller = MEMBER
    queries = 2

    def make(self, client):
        return f"{V}/os-server-groups/{_server_group(client, 0)['id']}"


class TestInstanceActionList(ListQueries):
    caller = MEMBER
    key = "instanceActions"
    queries = 2

    def prepare(self, client):
        self.server_id = _server(client, "qc")
        self.path = f"{V}/servers/{self.server_id}/os-instance-actions"

    def add(self, client, index):
        _action(self.server_id, index)


class TestInstanceActionShow(ShowQueries):
    queries = 3

    def make(self, client):
        server_id = _server(client, "qc")
        action = _action(server_id, 0)
        for index in range(1, 5):
            InstanceActionEvent.objects.create(
                action=action, event=f"step_{index}", start_time=timezone.now()
            )
        return f"{V}/servers/{server_id}/os-instance-actions/{action.request_id}"


class TestMigrationList(ListQueries):
    path = f"{V}/os-migrations"
    key = "migrations"
    queries = 2

    def prepare(self, client):
        self.server_id = _server(client, "qc")

    def add(self, client, index):
        _migration(self.server_id)


# --- identity ----------------------------------------------------------------------------


class TestProjectList(ListQueries):
    path = f"{V3}/projects"
    key = "projects"
    headers = {}
    queries = 1

    def add(self, client, index):
        _project(client, index)


class TestProjectShow(ShowQueries):
    headers = {}
    queries = 1

    def make(self, client):
        return f"{V3}/projects/{_project(client, 0)['id']}"


class TestUserList(ListQueries):
    path = f"{V3}/users"
    key = "users"
    headers = {}
    queries = 1

    def add(self, client, index):
        _user(client, index)


class TestUserShow(ShowQueries):
    headers = {}
    queries = 1

    def make(self, client):
        return f"{V3}/users/{User.objects.get(username='alice').id}"


class TestRoleAssignmentList(ListQueries):
    path = f"{V3}/role_assignments?include_names=true"
    key = "role_assignments"
    headers = {}
    queries = 2

    def add(self, client, index):
        _assignment(client, index)


# --- placement ---------------------------------------------------------------------------


class TestResourceProviderList(ListQueries):
    path = "/placement/resource_providers"
    key = "resource_providers"
    headers = {"HTTP_OPENSTACK_API_VERSION": "placement 1.39"}
    queries = 1

    def add(self, client, index):
        Placement(client).provider(f"qc-rp-{index}", INVENTORY)


class TestResourceProviderShow(ShowQueries):
    headers = {"HTTP_OPENSTACK_API_VERSION": "placement 1.39"}
    queries = 1

    def make(self, client):
        provider = Placement(client).provider("qc-rp", INVENTORY)
        return f"/placement/resource_providers/{provider['uuid']}"


# --- writes on the boot path ---------------------------------------------------------------


def test_a_server_create_is_pinned_in_queries(api, django_assert_num_queries):
    """POST /servers with no network and no metadata: the image, the flavor and its extra
    specs; then the instance, its request spec, action and event; then the quota check:
    the limits as read, and in a limited project (the defaults limit every one) the
    project's lock, the limits again under it and one count of instances, cores and RAM.
    In a project without limits the check confirms them under the shared lock instead
    (its savepoint, the lock, the limits again, the release), and counts nothing."""
    create_server(api, "warm")  # the token's first check, the policy files
    with django_assert_num_queries(13):
        create_server(api, "limited")
    project = Project.objects.get(name="alpha")
    for resource in ("instances", "cores", "ram"):
        project.quotas.create(resource=resource, hard_limit=-1)
    # (SQLite has no shared row lock: it takes the exclusive one, and counts nothing.)
    with django_assert_num_queries(14 if connection.vendor == "postgresql" else 12):
        create_server(api, "unlimited")
