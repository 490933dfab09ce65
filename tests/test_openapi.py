"""The OpenAPI document: served, valid OpenAPI 3.1, and in step with the routes.

The fuzz test that checks the server's answers against it is ``test_openapi_fuzz.py``.
"""

from __future__ import annotations

import re

import schemathesis

from pichr_appliance.api.operations import RAW, operation_of
from pichr_appliance.app import create_app
from pichr_appliance.openapi import build_document, routes
from pichr_appliance.schemas.auth import ProfileBody, SignupBody
from pichr_appliance.testing import make_settings

# Every JSON request body an operation declares.
PYDANTIC_BODIES = tuple(
    {
        op.body
        for _, _, handler in routes()
        if (op := operation_of(handler)) and op.body not in (None, RAW)
    }
)

HTTP_METHODS = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}
SANIC_PARAM = re.compile(r"<([A-Za-z_][A-Za-z0-9_]*)(?::[^>]*)?>")


def route_operations(app) -> set[tuple[str, str]]:
    """(method, path) of every API route Sanic has (the web interface's HTML pages and
    assets are not operations), with ``<name:str>`` written ``{name}``."""
    out = set()
    for route in app.router.routes:
        if getattr(route.handler, "__pichr_page__", False):
            continue
        path = "/" + SANIC_PARAM.sub(r"{\1}", route.path).lstrip("/")
        for method in route.methods:
            out.add((method.lower(), path))
    return out


def document_operations(document) -> set[tuple[str, str]]:
    """(method, path) of every operation the document describes."""
    return {
        (method, path)
        for path, item in document["paths"].items()
        for method in item
        if method in HTTP_METHODS
    }


def test_every_route_is_documented_and_every_operation_is_a_route(tmp_path):
    settings = make_settings(tmp_path / "data")
    app = create_app(settings, name="pichr_openapi_routes")
    routes = route_operations(app)
    documented = document_operations(build_document(settings))
    assert routes - documented == set(), "routes missing from the OpenAPI document"
    assert documented - routes == set(), "documented operations that are not routes"
    # The document's path parameters are the handlers' parameter names.
    for path in {p for _, p in documented}:
        names = re.findall(r"{(\w+)}", path)
        for method, item in build_document(settings)["paths"][path].items():
            declared = {p["name"] for p in item.get("parameters", []) if p.get("in") == "path"}
            assert declared == set(names), (method, path)


def test_document_is_served_valid_and_not_rate_limited(pichr_client):
    r = pichr_client.get("/api/v1/openapi.json")
    assert r.status == 200
    assert r.headers["content-type"].startswith("application/json")
    assert "x-ratelimit-limit" not in r.headers  # exempt, like health
    doc = r.json
    assert doc["openapi"] == "3.1.0"
    assert doc["info"]["version"] == pichr_client.app.ctx.version
    schemathesis.openapi.from_dict(doc).validate()  # raises on an invalid document
    assert doc["servers"] == [{"url": pichr_client.runtime.settings.public_url}]


def test_request_bodies_are_the_pydantic_models(tmp_path):
    doc = build_document(make_settings(tmp_path / "data"))
    schemas = doc["components"]["schemas"]
    for model in PYDANTIC_BODIES:
        own = model.model_json_schema()
        documented = schemas[model.__name__]
        assert set(documented["properties"]) == set(own["properties"]), model.__name__
        assert documented.get("required", []) == own.get("required", []), model.__name__
    # The service-level rules are added on top of the model's own constraints.
    signup = schemas[SignupBody.__name__]["properties"]
    assert signup["password"]["minLength"] == 8 and signup["password"]["maxLength"] == 1024
    assert schemas[ProfileBody.__name__]["properties"]["username"]["pattern"]


def test_rate_limit_headers_follow_the_settings(tmp_path):
    on = build_document(make_settings(tmp_path / "a"))
    off = build_document(make_settings(tmp_path / "b", {"rate_limits": {"enabled": False}}))
    assert on["components"]["headers"]["X-RateLimit-Limit"]["required"] is True
    assert off["components"]["headers"]["X-RateLimit-Limit"]["required"] is False
    files = on["paths"]["/api/v1/files"]["get"]["responses"]
    assert "X-RateLimit-Limit" in files["200"]["headers"]
    assert files["429"] == {"$ref": "#/components/responses/Error429"}
    image = on["paths"]["/i/{name}"]["get"]["responses"]["200"]
    assert not any(h.startswith("X-RateLimit") for h in image["headers"])
    for path in ("/health", "/api/v1/health", "/api/v1/openapi.json"):
        assert "429" not in on["paths"][path]["get"]["responses"]


def test_security_schemes(tmp_path):
    doc = build_document(make_settings(tmp_path / "data"))
    schemes = doc["components"]["securitySchemes"]
    assert schemes["bearerJwt"] == {**schemes["bearerJwt"], "type": "http", "scheme": "bearer"}
    assert schemes["apiKey"]["scheme"] == "bearer" and "pk_" in schemes["apiKey"]["bearerFormat"]
    paths = doc["paths"]
    assert paths["/api/v1/api-keys"]["get"]["security"] == [{"bearerJwt": []}]  # session only
    assert {"apiKey": []} in paths["/api/v1/files"]["get"]["security"]
    assert {} in paths["/api/v1/files/public"]["get"]["security"]  # anonymous allowed
    assert paths["/api/v1/auth/login"]["post"]["security"] == []
