"""The OpenAPI document and the server agree (issue 9): schemathesis generates requests from the document
against the running app (a real HTTP server on loopback, a real PostgreSQL) and checks every answer: no 500,
status codes, content types and bodies as the document describes them. Bounded and derandomised, so a run
is repeatable and takes seconds."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import hypothesis
import schemathesis
from aiohttp import web
from aiohttp.test_utils import TestClient
from hypothesis import HealthCheck, Phase
from jsonschema import Draft202012Validator  # type: ignore[import-untyped]  # (no stubs; comes with schemathesis)
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from crm import customers, managers, orders, tasks
from crm.customers import CustomerInput
from crm.database import Pool
from crm.orders import OrderInput
from crm.tasks import TaskInput
from tests.conftest import MakeManager

Client = TestClient[web.Request, web.Application]
EXAMPLES_PER_OPERATION = 25
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


def run_schemathesis(document: dict[str, Any], base_url: str, token: str) -> list[str]:
    """Every operation of the document, EXAMPLES_PER_OPERATION generated cases each; the failures found."""
    schema = schemathesis.openapi.from_dict(document)
    failures: list[str] = []
    headers = {"Authorization": f"Bearer {token}"}
    for result in schema.get_all_operations():
        if not isinstance(result, Ok):
            failures.append(f"the document has an invalid operation: {result.err()}")
            continue
        operation = result.ok()

        @hypothesis.settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, database=None, derandomize=True,
                             phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
        @hypothesis.given(case=operation.as_strategy())
        def check(case: Any) -> None:
            response = case.call(base_url=base_url, headers=headers, timeout=30)
            case.validate_response(response, checks=CHECKS)

        try:
            check()
        except (Exception, BaseExceptionGroup) as exc:  # each operation's first failure, reported together
            failures.append(f"{operation.label}: {type(exc).__name__}: {str(exc)[:1500]}")
    return failures


async def test_the_api_agrees_with_its_document(client: Client, pool: Pool, make_manager: MakeManager) -> None:
    head = await make_manager("supervisor")
    customer = await customers.create_customer(pool, CustomerInput(name="Иванов", phones=("+79161234567",)))
    order = await orders.create_order(pool, OrderInput(number="S-1", customer_id=customer.id, items=(
        {"name": "Чайник", "qty": 1, "price": "4590"},)), head.id)
    await tasks.create_task(pool, TaskInput(kind="callback", title="Перезвонить", customer_id=customer.id,
                                            order_id=order.id), head.id)
    token = await managers.create_api_token(pool, head.id, "schemathesis")
    document = await (await client.get("/api/v1/openapi.json")).json()
    base_url = str(client.make_url("/")).rstrip("/")  # the document's paths start with /api/v1
    failures = await asyncio.to_thread(run_schemathesis, document, base_url, token)
    assert not failures, "\n\n".join(failures)


def _validate(schema: dict[str, Any], value: Any) -> bool:
    return bool(Draft202012Validator(schema).is_valid(value))


async def test_the_document_refuses_what_the_server_refuses(client: Client) -> None:
    """Values the server always refuses, which the document used to allow (found by schemathesis)."""
    doc = await (await client.get("/api/v1/openapi.json")).json()
    parts = doc["components"]
    schemas = parts["schemas"]
    resolved = {"$defs": schemas}

    def schema_of(name: str, field: str) -> dict[str, Any]:
        return {**resolved, **_inline(schemas[name]["properties"][field])}

    assert not _validate(parts["parameters"]["Id"]["schema"], 0)
    assert not _validate(parts["parameters"]["Id"]["schema"], 2**63)
    assert not _validate(schema_of("StatusChangeRequest", "status"), "")
    assert not _validate(schema_of("TaskCreate", "title"), "   ")
    assert not _validate(schema_of("TaskCreate", "order_id"), 81401890695847493632)
    assert not _validate(schema_of("OrderCreate", "total"), "1000000000000")
    assert not _validate(schema_of("OrderCreate", "total"), 1e12)
    assert _validate(schema_of("OrderCreate", "total"), "999999999999.99")
    tasks_get = doc["paths"]["/api/v1/tasks"]["get"]["parameters"]
    assignee = next(p for p in tasks_get if p.get("name") == "assignee")["schema"]
    assert not _validate(assignee, "0") and _validate(assignee, "me") and _validate(assignee, "42")


def _inline(schema: dict[str, Any]) -> dict[str, Any]:
    """`#/components/schemas/X` references rewritten to `#/$defs/X` for a standalone validator."""
    return dict(json.loads(json.dumps(schema).replace("#/components/schemas/", "#/$defs/")))
