"""Nova-style limit/marker pagination (keyset, not offset) with a next link."""

from django.conf import settings
from django.db.models import Model, Q, QuerySet

from cloud.api.parsing import parse_int


def _limit(params) -> int:
    raw = params.get("limit")
    if raw is None:
        return settings.API_LIST_MAX_LIMIT
    return min(parse_int(raw, name="limit", minimum=0), settings.API_LIST_MAX_LIMIT)


def after(qs: QuerySet, marker: Model, column: str, descending: bool) -> QuerySet:
    """Rows that follow `marker` in an order by (column, pk), both in one direction."""
    op = "lt" if descending else "gt"
    value = getattr(marker, column)
    return qs.filter(Q(**{f"{column}__{op}": value}) | Q(**{column: value, f"pk__{op}": marker.pk}))


def paginate(qs: QuerySet, params) -> tuple[list, bool]:
    """At most `limit` rows of qs (already positioned after any marker), and whether
    more follow."""
    limit = _limit(params)
    rows = list(qs[: limit + 1])
    # limit=0 asks for no rows: an empty page with no next link (it would name no marker).
    return rows[:limit], limit > 0 and len(rows) > limit


def next_link(request, last_id: str) -> list[dict]:
    query = request.GET.copy()
    query["marker"] = last_id
    url = request.build_absolute_uri(request.path)
    return [{"rel": "next", "href": f"{url}?{query.urlencode()}"}]
