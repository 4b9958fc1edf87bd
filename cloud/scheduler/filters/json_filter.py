"""JsonFilter: hosts matching the `query` scheduler hint (the language is
cloud.scheduler.query's).

A Python filter: it judges the bounded candidate set the SQL query returned.
"""

from functools import lru_cache

from cloud.scheduler.filters import HostFilter
from cloud.scheduler.query import Query, QueryError, parse
from cloud.scheduler.request import HostState, Scheduling


@lru_cache(maxsize=256)
def _parsed(text: str) -> Query | QueryError | None:
    """The request's query, parsed once per process and text. The API checked it; one
    this scheduler cannot read (an API newer than it) matches no host, and the fault
    says why, rather than failing the scheduling task."""
    try:
        return parse(text)
    except QueryError as exc:
        return exc


class JsonFilter(HostFilter):
    name = "JsonFilter"

    def applies(self, ctx: Scheduling) -> bool:
        return bool(ctx.request.query) and _parsed(ctx.request.query) is not None

    def host_passes(self, host: HostState, ctx: Scheduling) -> bool:
        query = _parsed(ctx.request.query)
        return isinstance(query, Query) and query.matches(host)

    def describe(self, ctx: Scheduling) -> str:
        query = _parsed(ctx.request.query)
        if isinstance(query, Query):
            return f"did not match the query hint {query.text}"
        return f"could not be judged by the query hint {ctx.request.query} ({query})"
