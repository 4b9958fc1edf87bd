"""Base classes that pin the number of database queries an API endpoint makes, as
NetBox's API test cases do: a list endpoint makes as many queries for ten rows as for
one (no N+1), and a show endpoint exactly its pinned number.

A subclass per endpoint names the path, the caller (a user of the seeded catalogue) and the pinned
count, and makes the rows. A request is made once before it is counted, so that
nothing cached per process (policy files, the token's first check) makes the count
depend on which test ran first.
"""

import pytest
from rest_framework.test import APIClient

from tests.helpers import token_for

LATEST = {"HTTP_OPENSTACK_API_VERSION": "compute 2.96"}


def listed(response, key: str) -> list:
    assert response.status_code == 200, response.content
    return response.json()[key]


ADMIN = ("admin", "admin")
MEMBER = ("alice", "alpha")


class _Counted:
    caller = ADMIN  # (user, project) of the seeded catalogue
    headers: dict = LATEST
    queries: int

    @pytest.fixture
    def caller_client(self, seeded) -> APIClient:
        client = APIClient()
        client.credentials(HTTP_X_AUTH_TOKEN=token_for(*self.caller))
        return client

    def get(self, client: APIClient, path: str, assert_num_queries):
        client.get(path, **self.headers)
        with assert_num_queries(self.queries):
            return client.get(path, **self.headers)


class ListQueries(_Counted):
    """`path` answers its rows under `key` in `queries` queries, with one row as with ten.

    `add(client, index)` makes one more row the caller sees; `prepare(client)` makes
    what the rows hang on (a server, for its actions) and may set `path`."""

    path: str
    key: str

    def prepare(self, client: APIClient) -> None:
        """Nothing to prepare unless the endpoint's rows hang on another object."""

    def add(self, client: APIClient, index: int) -> None:
        raise NotImplementedError

    def test_list_queries_are_pinned_and_constant_in_rows(
        self, caller_client, django_assert_num_queries
    ):
        self.prepare(caller_client)
        self.add(caller_client, 0)
        one = listed(self.get(caller_client, self.path, django_assert_num_queries), self.key)
        for index in range(1, 10):
            self.add(caller_client, index)
        ten = listed(self.get(caller_client, self.path, django_assert_num_queries), self.key)
        assert len(ten) == len(one) + 9


class ShowQueries(_Counted):
    """The path `make(client)` returns answers in `queries` queries."""

    def make(self, client: APIClient) -> str:
        raise NotImplementedError

    def test_show_queries_are_pinned(self, caller_client, django_assert_num_queries):
        path = self.make(caller_client)
        response = self.get(caller_client, path, django_assert_num_queries)
        assert response.status_code == 200, response.content
