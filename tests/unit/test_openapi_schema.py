"""The OpenAPI document (/api/schema/) describes every route the URL configuration
serves with each method its view answers, no request body as an untyped object, and
the error responses in each API's OpenStack shape; and `@body` validates with the
very schema it documents."""

import re

import pytest
from django.urls import URLResolver, get_resolver, resolve
from drf_spectacular.generators import SchemaGenerator
from rest_framework.test import APIRequestFactory
from rest_framework.views import APIView

from cloud.api.errors import BadRequest
from cloud.api.schema import body, obj, string, wrapped

METHODS = ("get", "post", "put", "patch", "delete")


@pytest.fixture(scope="module")
def document():
    return SchemaGenerator().get_schema(request=None, public=True)


def _routes():
    """(route, method) of every method of every API view of ours the URLs reach."""
    stack = [(pattern, "") for pattern in get_resolver().url_patterns]
    while stack:
        pattern, prefix = stack.pop()
        if isinstance(pattern, URLResolver):
            stack.extend((p, prefix + str(pattern.pattern)) for p in pattern.url_patterns)
            continue
        view = getattr(pattern.callback, "cls", None)
        if view is None or not issubclass(view, APIView):
            continue
        if not view.__module__.startswith("cloud."):
            continue
        for method in METHODS:
            if hasattr(view, method) and method in view.http_method_names:
                yield prefix + str(pattern.pattern), method


def _operations(document):
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method in METHODS:
                yield path, method, operation


def test_every_route_and_method_is_in_the_schema(document):
    documented = set()
    for path, method, _ in _operations(document):
        match = resolve(re.sub(r"\{[^}]+\}", "x1", path))
        documented.add((match.route.rstrip("/"), method))
    routes = set(_routes())
    assert len(routes) > 150
    missing = sorted(f"{m.upper()} {r}" for r, m in routes if (r.rstrip("/"), m) not in documented)
    assert not missing, "routes missing from the OpenAPI schema:\n" + "\n".join(missing)


def _untyped(schema, components) -> bool:
    if "$ref" in schema:
        schema = components[schema["$ref"].rsplit("/", 1)[1]]
    return (
        schema.get("type") == "object"
        and not schema.get("properties")
        and not any(k in schema for k in ("anyOf", "oneOf", "allOf", "additionalProperties"))
        or schema.get("additionalProperties") == {}
        and not schema.get("properties")
    )


def test_no_request_body_is_an_untyped_object(document):
    components = document["components"]["schemas"]
    untyped = []
    for path, method, operation in _operations(document):
        for media, content in operation.get("requestBody", {}).get("content", {}).items():
            if media == "application/octet-stream":
                continue
            if _untyped(content["schema"], components):
                untyped.append(f"{method.upper()} {path} ({media})")
    assert not untyped, "request bodies typed as any object:\n" + "\n".join(untyped)


def test_every_operation_documents_its_errors_in_its_apis_shape(document):
    for path, method, operation in _operations(document):
        responses = operation["responses"]
        for code in ("400", "401", "403", "404"):
            assert code in responses, f"{method.upper()} {path}: no {code}"
        schema = responses["404"]["content"]["application/json"]["schema"]
        if path.startswith("/network"):
            assert "NeutronError" in schema["properties"]
        elif path.startswith("/placement"):
            assert "errors" in schema["properties"]
        elif path.startswith("/identity"):
            assert "error" in schema["properties"]
        else:
            assert schema["maxProperties"] == 1


def test_body_validates_with_the_schema_it_documents():
    schema = wrapped("thing", obj({"name": string(min_length=1)}, "name"))

    class View(APIView):
        @body(schema)
        def post(self, request):
            return "called"

    factory = APIRequestFactory()
    view = View()

    def call(data):
        request = view.initialize_request(factory.post("/compute/v2.1/x", data, format="json"))
        return View.post(view, request)

    assert call({"thing": {"name": "a"}}) == "called"
    for bad in ({"thing": {}}, {"thing": {"name": ""}}, {"thing": {"name": "a", "x": 1}}):
        with pytest.raises(BadRequest, match="Invalid input for field/attribute"):
            call(bad)
    with pytest.raises(BadRequest, match="'thing' is a required property"):
        call({})
    assert View.post.kwargs["schema"] is not None
