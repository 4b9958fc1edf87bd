"""The one JSON decoder of request bodies (cloud.api.bodies) and the renderer that no
stored string can fail (cloud.api.renderers); and that every route the URL
configuration serves, whichever app adds it, uses both behind the body guard."""

import ast
import json
from pathlib import Path

import pytest
from django.conf import settings
from django.urls import URLResolver, get_resolver
from rest_framework.views import APIView

from cloud.api.bodies import InvalidBody, StrictJSONParser, loads
from cloud.api.renderers import SafeJSONRenderer

GUARD = "cloud.api.bodies.RequestBodyGuardMiddleware"
REQUEST_ID = "cloud.api.middleware.RequestIdMiddleware"


@pytest.mark.parametrize(
    "raw",
    [
        b'{"a": "\\ud800"}',
        b'{"\\udfff": 1}',
        b'["x\\ud83d"]',
        b'{"a": "\\u0000"}',
        b'{"a": NaN}',
        b'{"a": -Infinity}',
        b'{"a": 1e999}',
        b'{"a": "\xff"}',
        b'{"a": "\xed\xa0\x80"}',
        b"[" * 33 + b"]" * 33,
        b"[" * 100_000 + b"]" * 100_000,
        b'{"a": 1' + b"0" * 5000 + b"}",
        b"{",
    ],
)
def test_refused(raw):
    with pytest.raises(InvalidBody):
        loads(raw, max_depth=32)


def test_taken():
    assert loads(b'{"a": "\\ud83d\\ude00", "b": [1.5, -2, null]}', max_depth=32) == {
        "a": "😀",
        "b": [1.5, -2, None],
    }
    assert loads(b"[" * 32 + b"]" * 32, max_depth=32) is not None
    assert loads("{}", max_depth=1) == {}


def test_the_renderer_serves_a_row_with_a_lone_surrogate():
    rows = {"servers": [{"metadata": {"\ud800": "x"}}, {"name": "fine", "é": "ü"}]}
    body = SafeJSONRenderer().render(rows)
    assert json.loads(body) == rows
    # Rows without such a string are rendered as DRF does (UTF-8, not escaped).
    assert SafeJSONRenderer().render({"é": 1}) == '{"é":1}'.encode()


# --- every route is held to the guard, the parser and the renderer ------------------

CLOUD = Path(__file__).resolve().parents[2] / "cloud"
# Modules that decode JSON themselves, and why that is no request body.
JSON_DECODERS = {
    "api/bodies.py": "the decoder",
    "scheduler/query.py": "a query hint's JSON text, with the same number rules",
    "scheduler/selectors.py": "a compute node's cpu_info, from the database",
    "images/formats.py": "qemu-img info's JSON output",
}


def _views():
    """Every view of ours the URL configuration routes to (new routes included; the
    schema's and DRF's login views are third-party and take no JSON body)."""
    seen = {}
    stack = list(get_resolver().url_patterns)
    while stack:
        pattern = stack.pop()
        if isinstance(pattern, URLResolver):
            stack.extend(pattern.url_patterns)
            continue
        view = getattr(pattern.callback, "cls", None)
        if view is not None and issubclass(view, APIView) and view.__module__.startswith("cloud."):
            seen[f"{view.__module__}.{view.__name__}"] = view
    return seen


def test_the_guard_runs_before_anything_reads_a_body():
    assert settings.MIDDLEWARE[settings.MIDDLEWARE.index(GUARD) - 1] == REQUEST_ID
    assert settings.MIDDLEWARE.index(GUARD) < settings.MIDDLEWARE.index(
        "django.contrib.sessions.middleware.SessionMiddleware"
    )


def test_every_view_parses_json_strictly_and_renders_safely():
    views = _views()
    assert len(views) > 50
    bad = []
    for name, view in views.items():
        for parser in view.parser_classes:
            if "json" in parser.media_type and not issubclass(parser, StrictJSONParser):
                bad.append(f"{name}: parser {parser.__name__} (use cloud.api.bodies)")
        for renderer in view.renderer_classes:
            if renderer.format == "json" and not issubclass(renderer, SafeJSONRenderer):
                bad.append(f"{name}: renderer {renderer.__name__} (use cloud.api.renderers)")
    assert not bad, "\n".join(bad)


def test_nothing_else_decodes_json():
    bad = []
    for path in sorted(CLOUD.rglob("*.py")):
        rel = str(path.relative_to(CLOUD))
        if (
            "migrations" in path.parts
            or rel.startswith(("workers/", "netagent/", "volumeworker/"))
            or rel in JSON_DECODERS
        ):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in ("loads", "load")
                and isinstance(node.func.value, ast.Name)
                and node.func.value.id == "json"
            ):
                bad.append(f"cloud/{rel}:{node.lineno}")
    assert not bad, "decode request bodies with cloud.api.bodies.loads:\n" + "\n".join(bad)
