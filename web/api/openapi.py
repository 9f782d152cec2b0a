"""The OpenAPI 3.1 document of /api/v1, built from Python data and served publicly.

The document is the API's contract for shop integrations: every route, its parameters,
request and response schemas, the bearer scheme, and every error slug a client may see
(gathered from `crm.errors`, `web.errors.HTTP_SLUGS` and the API's own `ApiError`s, so a
new error class shows up here without editing this file). A test checks that the
routes the application registers and the paths documented here are the same set.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from crm.errors import CrmError
from crm.models import SALES_CHANNELS
from web.api import calls_openapi
from web.api.json_io import API_ERRORS, MAX_ID, MAX_OFFSET, json_response
from web.api.openapi_schemas import Schema, ref, schemas
from web.errors import HTTP_SLUGS

OPENAPI_VERSION = "3.1.0"
API_VERSION = "1.0.0"


def crm_error_classes(cls: type[CrmError] = CrmError) -> list[type[CrmError]]:
    found = [cls]
    for sub in cls.__subclasses__():
        found.extend(crm_error_classes(sub))
    return found


def error_slugs() -> dict[str, set[int]]:
    """Every slug the API may answer with, and the HTTP statuses it comes with."""
    slugs: dict[str, set[int]] = {}
    for cls in crm_error_classes():
        slugs.setdefault(cls.slug, set()).add(cls.http_status)
    for status, slug in HTTP_SLUGS.items():
        slugs.setdefault(slug, set()).add(status)
    for slug, status in API_ERRORS:
        slugs.setdefault(slug, set()).add(status)
    slugs.setdefault("http-error", set())  # any other HTTP error status
    return slugs


def _error(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": ref("Error")}}}


def _ok(description: str, schema: Schema, *, created: bool = False) -> dict[str, Any]:
    response: dict[str, Any] = {"description": description, "content": {"application/json": {"schema": schema}}}
    if created:
        response["headers"] = {"Location": {"description": "URL of the new record.",
                                            "schema": {"type": "string"}}}
    return response


def _body(schema: str, *, required: bool = True) -> dict[str, Any]:
    return {"required": required, "content": {"application/json": {"schema": ref(schema)}}}


def _query(name: str, description: str, schema: Schema) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "description": description, "schema": schema}


def _paging(max_limit: int, default: int) -> list[dict[str, Any]]:
    return [_query("limit", "Page size.", {"type": "integer", "minimum": 1, "maximum": max_limit, "default": default}),
            _query("offset", "Rows to skip.", {"type": "integer", "minimum": 0, "maximum": MAX_OFFSET, "default": 0})]


ID_PARAM = "#/components/parameters/Id"


def _op(op_id: str, summary: str, responses: dict[str, Any], *, body: dict[str, Any] | None = None,
        params: list[dict[str, Any]] | None = None, errors: tuple[str, ...] = (), tag: str = "") -> dict[str, Any]:
    operation: dict[str, Any] = {"operationId": op_id, "summary": summary, "tags": [tag] if tag else []}
    if params:
        operation["parameters"] = params
    if body is not None:
        operation["requestBody"] = body
    all_responses = dict(responses)
    all_responses["401"] = {"$ref": "#/components/responses/Unauthorized"}
    for code in errors:
        all_responses[code] = {"$ref": f"#/components/responses/E{code}"}
    all_responses["default"] = {"$ref": "#/components/responses/Error"}
    operation["responses"] = all_responses
    return operation


def _paths() -> dict[str, Any]:
    body_errors = ("400", "413", "415", "422")
    id_param = [{"$ref": ID_PARAM}]
    return {
        "/api/v1/me": {"get": _op("getMe", "The manager the token (or session) belongs to.",
                                  {"200": _ok("The caller.", ref("Manager"))}, tag="session")},
        "/api/v1/customers": {
            "get": _op("listCustomers", "Search customers (role-scoped), newest first.",
                       {"200": _ok("A page of customers.", ref("CustomerPage"))}, tag="customers", errors=("422",),
                       params=[_query("q", "Name words, a phone in any format, or an order number.",
                                      {"type": "string", "maxLength": 200}),
                               _query("phone", "A phone number in any format, e.g. `8 (916) 123-45-67`; "
                                      "an unparseable one gives 422 `invalid-phone`. Not together with `q`.",
                                      {"type": "string", "maxLength": 64}),
                               *_paging(100, 20)]),
            "post": _op("createCustomer", "Create a customer.",
                        {"201": _ok("Created.", ref("Customer"), created=True)}, tag="customers",
                        body=_body("CustomerCreate"), errors=(*body_errors, "409")),
        },
        "/api/v1/customers/{id}": {
            "parameters": id_param,
            "get": _op("getCustomer", "One customer.", {"200": _ok("The customer.", ref("Customer"))},
                       tag="customers", errors=("403", "404")),
            "patch": _op("patchCustomer", "Change some fields of a customer.",
                         {"200": _ok("The updated customer.", ref("Customer"))}, tag="customers",
                         body=_body("CustomerPatch"), errors=(*body_errors, "403", "404", "409")),
        },
        "/api/v1/orders": {
            "get": _op("listOrders", "Find orders, newest first; with `updated_since`, oldest change first (sync).",
                       {"200": _ok("A page of orders.", ref("OrderPage"))}, tag="orders", errors=("422",),
                       params=[_query("number", "The order number, exactly.", {"type": "string", "maxLength": 64}),
                               _query("status", "A status code of the workflow.",
                                      {"type": "string", "pattern": "^[A-Za-z0-9_]{1,32}$"}),
                               _query("manager", "The order's manager: an id, `me`, or `none` (unassigned).",
                                      {"type": "string", "pattern": "^([0-9]+|me|none)$"}),
                               _query("customer", "The customer's id.", {"type": "integer", "minimum": 1}),
                               _query("channel", "The sales channel.", {"enum": list(SALES_CHANNELS)}),
                               _query("from", "Created on or after this day (shop's time zone).",
                                      {"type": "string", "format": "date"}),
                               _query("to", "Created on or before this day (shop's time zone).",
                                      {"type": "string", "format": "date"}),
                               _query("updated_since", "Changed at or after this moment (ISO 8601).",
                                      {"type": "string"}),
                               _query("overdue", "Only open orders past their status's time limit.",
                                      {"type": "boolean"}),
                               *_paging(200, 50)]),
            "post": _op("createOrder", "Create an order; an unknown customer phone creates the customer too.",
                        {"201": _ok("Created.", ref("Order"), created=True)}, tag="orders",
                        body=_body("OrderCreate"), errors=(*body_errors, "403", "409")),
        },
        "/api/v1/orders/{id}": {
            "parameters": id_param,
            "get": _op("getOrder", "One order with its status history and allowed next statuses.",
                       {"200": _ok("The order.", ref("Order"))}, tag="orders", errors=("403", "404")),
            "patch": _op("patchOrder", "Change manager, channel, items, total or currency (not the status).",
                         {"200": _ok("The updated order.", ref("Order"))}, tag="orders",
                         body=_body("OrderPatch"), errors=(*body_errors, "403", "404")),
        },
        "/api/v1/orders/{id}/status": {
            "parameters": id_param,
            "post": _op("changeOrderStatus", "Move the order to another status, if the workflow allows it.",
                        {"200": _ok("The order in its new status.", ref("Order"))}, tag="orders",
                        body=_body("StatusChangeRequest"), errors=(*body_errors, "403", "404", "409")),
        },
        "/api/v1/reports/missed-calls": {
            "get": _op("missedCallsReport", "The head of sales' audit of missed calls and callbacks for a range of "
                       "days (supervisors and admins): totals, reasons, per number / channel / manager, callback "
                       "speed, the never-called-back list.",
                       {"200": _ok("The figures.", {"type": "object"})}, tag="reports", errors=("403",),
                       params=[_query("from", "First day (shop's time zone); default: 6 days before `to`.",
                                      {"type": "string", "format": "date"}),
                               _query("to", "Last day; default: today.", {"type": "string", "format": "date"})]),
        },
        "/api/v1/reports/self-checks": {
            "get": _op("selfCheckReport", "The latest self-check calls (supervisors and admins): perezvon calling "
                       "the shop's own number through the trunk; whether it was answered, after how long, and what "
                       "became of a missed one's callback.",
                       {"200": _ok("The runs, newest first.", {"type": "object"})}, tag="reports", errors=("403",)),
        },
        "/api/v1/search/transcripts": {
            "get": _op("searchTranscripts", "What was said in calls: full-text search over the transcripts of the "
                       "recordings the caller may play (Russian and English word forms; web-search syntax: words, "
                       "\"a phrase\", -word). Each hit is one segment, with the moment in the recording.",
                       {"200": _ok("Segments, newest call first.", {"type": "object"})}, tag="calls",
                       errors=("422",),
                       params=[_query("q", "What to look for (1 to 200 characters).", {"type": "string"}),
                               _query("since", "Only calls started at or after this moment (ISO 8601 with offset).",
                                      {"type": "string", "format": "date-time"}),
                               *_paging(200, 50)]),
        },
        "/api/v1/tasks": {
            "get": _op("listTasks", "Tasks the caller may see: open and overdue first.",
                       {"200": _ok("A page of tasks.", ref("TaskPage"))}, tag="tasks", errors=("422",),
                       params=[_query("assignee", "A manager id, `me`, or `none` (unassigned).",
                                      {"type": "string", "pattern": "^([1-9][0-9]{0,17}|me|none)$"}),
                               _query("status", "Only tasks in this status.", ref("TaskStatus")),
                               _query("kind", "Only tasks of this kind.", ref("TaskKind")),
                               *_paging(200, 50)]),
            "post": _op("createTask", "Create a task.", {"201": _ok("Created.", ref("Task"), created=True)},
                        tag="tasks", body=_body("TaskCreate"), errors=(*body_errors, "403")),
        },
        "/api/v1/tasks/{id}": {
            "parameters": id_param,
            "get": _op("getTask", "One task.", {"200": _ok("The task.", ref("Task"))}, tag="tasks",
                       errors=("403", "404")),
        },
        "/api/v1/tasks/{id}/complete": {
            "parameters": id_param,
            "post": _op("completeTask", "Close an open task as done, with a result note; closing twice is 409.",
                        {"200": _ok("The closed task.", ref("Task"))}, tag="tasks",
                        body=_body("TaskComplete", required=False), errors=(*body_errors, "403", "404", "409")),
        },
        "/api/v1/openapi.json": {
            "get": {"operationId": "getOpenApi", "summary": "This document (public).", "tags": ["session"],
                    "security": [], "responses": {"200": _ok("The OpenAPI document.", {"type": "object"})}},
        },
    }


WEBHOOK_FIELDS: dict[str, dict[str, Any]] = {
    "call.ringing": {"call": {"type": "string"}, "extension": {"type": ["string", "null"]},
                     "number": {"type": ["string", "null"]}},
    "call.answered": {"call": {"type": "string"}, "extension": {"type": ["string", "null"]},
                      "number": {"type": ["string", "null"]}},
    "call.missed": {"call": {"type": "string"}, "number": {"type": ["string", "null"]}, "reason": {"type": "string"}},
    "callback.created": {"task_id": {"type": "integer"}, "call": {"type": "string"}},
    "callback.done": {"task_id": {"type": "integer"}, "call": {"type": "string"}, "outcome": {"enum": ["reached"]}},
    "alert.raised": {"alert_id": {"type": "integer"}, "level": {"type": "integer"}, "message": {"type": "string"},
                     "task_id": {"type": ["integer", "null"]}, "order_id": {"type": "integer"}},
    "order.status_changed": {"order_id": {"type": "integer"}, "number": {"type": "string"},
                             "from": {"type": "string"}, "to": {"type": "string"},
                             "at": {"type": "string", "format": "date-time"}},
}


def _webhooks() -> dict[str, Any]:
    """What perezvon POSTs to the endpoints an admin registers (Settings → Webhooks)."""
    out: dict[str, Any] = {}
    for event, fields in WEBHOOK_FIELDS.items():
        schema = {"type": "object", "required": ["event", "id"],
                  "properties": {"event": {"const": event},
                                 "id": {"type": "string", "description": "The event's id: the same on every retry."},
                                 **fields}}
        out[event] = {"post": {
            "summary": f"`{event}`, signed: `X-Perezvon-Signature: sha256=HMAC-SHA256(secret, TIMESTAMP.BODY)` with "
                       "`X-Perezvon-Timestamp`; retried with backoff until answered 2xx.",
            "requestBody": {"required": True, "content": {"application/json": {"schema": schema}}},
            "responses": {"200": {"description": "Taken (any 2xx)."}}}}
    return out


def _responses() -> dict[str, Any]:
    return {
        "Unauthorized": _error("No, invalid or revoked credentials (`unauthorized`)."),
        "E400": _error("The body is not valid JSON (`invalid-json`)."),
        "E403": _error("The record belongs to another manager (`access-denied`), or a session call lacks its "
                       "CSRF token (`forbidden`)."),
        "E404": _error("No such record (`not-found`)."),
        "E409": _error("Conflict: `phone-taken`, `duplicate-order-number`, `forbidden-transition`, "
                       "`phone-unreachable`, `conflict`."),
        "E413": _error("The body is too large (`payload-too-large`)."),
        "E415": _error("The body is not `application/json` (`unsupported-media-type`)."),
        "E422": _error("A field is missing, of the wrong type or out of range (`invalid-input`, `invalid-phone`, "
                       "`unknown-field`)."),
        "Error": _error("Any other error."),
    }


def build_document() -> dict[str, Any]:
    slugs = error_slugs()
    slug_lines = "\n".join(f"- `{slug}`" + (f" ({', '.join(map(str, sorted(codes)))})" if codes else "")
                           for slug, codes in sorted(slugs.items()))
    components_schemas = schemas(sorted(slugs))
    components_schemas["TaskStatus"] = {"enum": components_schemas["Task"]["properties"]["status"]["enum"]}
    components_schemas["TaskKind"] = {"enum": components_schemas["Task"]["properties"]["kind"]["enum"]}
    components_schemas.update(calls_openapi.schemas())
    return {
        "openapi": OPENAPI_VERSION,
        "info": {
            "title": "perezvon API", "version": API_VERSION,
            "description": (
                "The contact centre's order CRM over JSON. Authenticate with `Authorization: Bearer <token>` "
                "(tokens are created per manager); the caller's role scopes what it sees: operators see their "
                "own and unassigned customers and tasks, supervisors and admins see everything. Datetimes are "
                "ISO 8601 with a time zone; money is a decimal string. Lists answer "
                "`{items, has_more, limit, offset}`. Errors answer `{\"error\": slug, \"message\": text}` "
                "with one of these slugs (HTTP status):\n\n" + slug_lines),
        },
        "servers": [{"url": "/"}],
        "security": [{"bearerAuth": []}, {"sessionCookie": []}],
        "tags": [
            {"name": "customers"}, {"name": "orders"}, {"name": "tasks"}, {"name": "calls"}, {"name": "reports"},
            {"name": "session"}],
        "paths": {**_paths(), **calls_openapi.paths()},
        "webhooks": _webhooks(),
        "components": {
            "securitySchemes": {
                "bearerAuth": {"type": "http", "scheme": "bearer", "description": "An API token (`pzv_...`)."},
                "sessionCookie": {"type": "apiKey", "in": "cookie", "name": "perezvon_session",
                                  "description": "The panel's session; unsafe methods also need `X-CSRF-Token`."},
            },
            "parameters": {"Id": {"name": "id", "in": "path", "required": True,
                                  "schema": {"type": "integer", "minimum": 1, "maximum": MAX_ID}}},
            "schemas": components_schemas,
            "responses": _responses(),
        },
    }


async def openapi_json(request: web.Request) -> web.Response:
    return json_response(build_document())


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_get("/api/v1/openapi.json", openapi_json, allow_head=False)
