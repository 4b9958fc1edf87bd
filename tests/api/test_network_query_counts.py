"""Pinned query counts of the network API's lists and shows, and of the server list
when its servers have ports: as many queries for ten rows as for one."""

from tests.api.querycounts import LATEST, MEMBER, ListQueries, ShowQueries
from tests.helpers import create_server

N = "/network/v2.0"
V = "/compute/v2.1"


def _network(client, index: int) -> str:
    made = client.post(f"{N}/networks", {"network": {"name": f"qc-{index}"}}, format="json")
    network_id = made.json()["network"]["id"]
    client.post(
        f"{N}/subnets",
        {"subnet": {"network_id": network_id, "cidr": f"10.{index}.0.0/24", "ip_version": 4}},
        format="json",
    )
    return network_id


class TestNetworkList(ListQueries):
    caller = MEMBER
    headers: dict = {}
    path = f"{N}/networks"
    key = "networks"
    queries = 2

    def add(self, client, index):
        _network(client, index)


class TestSubnetList(TestNetworkList):
    path = f"{N}/subnets"
    key = "subnets"
    queries = 1


class TestPortList(ListQueries):
    caller = MEMBER
    headers: dict = {}
    path = f"{N}/ports"
    key = "ports"
    queries = 3

    def prepare(self, client):
        self.network = _network(client, 0)

    def add(self, client, index):
        client.post(f"{N}/ports", {"port": {"network_id": self.network}}, format="json")


class TestSecurityGroupList(ListQueries):
    caller = MEMBER
    headers: dict = {}
    path = f"{N}/security-groups"
    key = "security_groups"
    queries = 3

    def prepare(self, client):
        from cloud.identity.models import Project, Quota

        project = Project.objects.get(name=MEMBER[1])
        Quota.objects.create(project=project, resource="security_group", hard_limit=-1)

    def add(self, client, index):
        client.post(
            f"{N}/security-groups", {"security_group": {"name": f"g{index}"}}, format="json"
        )


class TestNetworkShow(ShowQueries):
    caller = MEMBER
    headers: dict = {}
    queries = 2

    def make(self, client):
        return f"{N}/networks/{_network(client, 0)}"


class TestServerDetailListWithPorts(ListQueries):
    """Servers with a port each: their ports, addresses and groups in four queries, and
    their volume attachments in one more."""

    caller = MEMBER
    headers = LATEST
    path = f"{V}/servers/detail"
    key = "servers"
    queries = 6

    def prepare(self, client):
        self.network = _network(client, 0)

    def add(self, client, index):
        create_server(client, f"qc-{index}", networks=[{"uuid": self.network}])
