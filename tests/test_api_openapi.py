"""The OpenAPI document: public, valid 3.1, and in step with the routes and the handlers' fields."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from web.api.json_io import API_ERRORS
from web.api.openapi import build_document, crm_error_classes
from web.api.openapi_schemas import request_fields
from web.errors import HTTP_SLUGS

Client = TestClient[web.Request, web.Application]
METHODS = ("get", "post", "put", "patch", "delete")


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [r for value in node.values() for r in _refs(value)]
    if isinstance(node, list):
        return [r for value in node for r in _refs(value)]
    return []


async def test_document_is_public_json_openapi_31(client: Client) -> None:
    response = await client.get("/api/v1/openapi.json")
    assert response.status == 200 and response.content_type == "application/json"
    document = await response.json()
    assert document["openapi"].startswith("3.1.")
    assert document["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http", "scheme": "bearer", "description": "An API token (`pzv_...`)."}


async def test_every_api_route_is_documented_and_vice_versa(client: Client) -> None:
    registered = set()
    for route in client.app.router.routes():
        path = route.resource.canonical if route.resource is not None else ""
        if path.startswith("/api/v1") and route.method.lower() in METHODS:
            registered.add((route.method.lower(), path))
    documented = {(method, path) for path, item in build_document()["paths"].items()
                  for method in item if method in METHODS}
    assert registered == documented
    assert len(registered) >= 13


def test_request_schemas_list_exactly_the_fields_handlers_accept() -> None:
    document_schemas = build_document()["components"]["schemas"]
    for name, fields in request_fields().items():
        assert set(document_schemas[name]["properties"]) == set(fields), name
        assert document_schemas[name]["additionalProperties"] is False


def test_error_slugs_cover_crm_http_and_api_errors() -> None:
    slugs = set(build_document()["components"]["schemas"]["Error"]["properties"]["error"]["enum"])
    crm_slugs = {cls.slug for cls in crm_error_classes()}
    assert {"phone-taken", "duplicate-order-number", "forbidden-transition", "access-denied"} <= crm_slugs
    assert crm_slugs | set(HTTP_SLUGS.values()) | {slug for slug, _ in API_ERRORS} <= slugs


def test_every_reference_resolves() -> None:
    document = build_document()
    for pointer in _refs(document):
        node: Any = document
        assert pointer.startswith("#/"), pointer
        for part in pointer[2:].split("/"):
            node = node[part]
        assert isinstance(node, dict), pointer


def test_document_passes_the_openapi_validator() -> None:
    validator = pytest.importorskip("openapi_spec_validator")
    validator.validate(build_document())
