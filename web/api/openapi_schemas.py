"""JSON Schemas (OpenAPI 3.1 dialect) of what the API sends and accepts.

Kept beside the handlers' field lists: the tests compare each request schema's
properties with the fields the handler accepts, so the two cannot drift apart.
"""

from __future__ import annotations

from typing import Any

from crm.models import CUSTOMER_KINDS, PRESENCES, ROLES, SALES_CHANNELS, TASK_KINDS, TASK_STATUSES
from web.api import customers, orders, tasks

Schema = dict[str, Any]


def ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def nullable(type_name: str, **extra: Any) -> Schema:
    return {"type": [type_name, "null"], **extra}


def obj(properties: dict[str, Schema], required: tuple[str, ...] = (), *, closed: bool = True,
        description: str = "") -> Schema:
    schema: Schema = {"type": "object", "properties": properties}
    if required:
        schema["required"] = list(required)
    if closed:
        schema["additionalProperties"] = False
    if description:
        schema["description"] = description
    return schema


def _string(max_length: int | None = None, **extra: Any) -> Schema:
    schema: Schema = {"type": "string", **extra}
    if max_length is not None:
        schema["maxLength"] = max_length
    return schema


def date_time() -> Schema:
    return {"type": "string", "format": "date-time", "description": "ISO 8601 with a time zone offset."}


#: PostgreSQL's bigint: an id above it cannot exist.
MAX_ID = 2**63 - 1
#: Text the server keeps must have something besides spaces (it trims them).
NOT_BLANK = r"\S"
#: A status code as the workflow stores it.
STATUS_CODE = {"type": "string", "pattern": "^[a-z_]{2,32}$"}


def id_schema() -> Schema:
    return {"type": "integer", "minimum": 1, "maximum": MAX_ID}


def id_ref() -> Schema:
    """An id a request names (a customer, order, manager); it may be null."""
    return {"type": ["integer", "null"], "minimum": 1, "maximum": MAX_ID}


def money_out() -> Schema:
    return {"type": "string", "pattern": r"^[0-9]+\.[0-9]{2}$", "examples": ["1990.00"]}


def money_in() -> Schema:
    return {"oneOf": [{"type": "string", "pattern": r"^\s*[0-9]{1,12}(\.[0-9]{1,2})?\s*$"},
                      {"type": "number", "minimum": 0, "maximum": 999999999999.99}],
            "description": "A decimal string (preferred) or a JSON number: 0 <= amount < 10^12, two decimals."}


def _page(item: str) -> Schema:
    return obj({"items": {"type": "array", "items": ref(item)}, "has_more": {"type": "boolean"},
                "limit": {"type": "integer"}, "offset": {"type": "integer"}},
               ("items", "has_more", "limit", "offset"), description="One window of a list.")


def _customer_fields() -> dict[str, Schema]:
    return {
        "name": _string(200, minLength=1, pattern=NOT_BLANK,
                        description="Stored as plain text; control characters are removed."),
        "kind": {"enum": list(CUSTOMER_KINDS)},
        "vip": {"type": "boolean"},
        "region": _string(100),
        "tags": {"type": "array", "items": _string(40), "maxItems": customers.MAX_TAGS},
        "responsible_manager_id": id_ref(),
        "email": _string(200),
        "phones": {"type": "array", "items": _string(64), "maxItems": customers.MAX_PHONES,
                   "description": "Numbers in any common format; stored as E.164. On PATCH the list replaces "
                                  "all phones."},
    }


def _order_item(money: Schema, *, closed: bool) -> Schema:
    return obj({"sku": _string(64), "name": _string(300, minLength=1, pattern=NOT_BLANK),
                "qty": {"type": "integer", "minimum": 1, "maximum": 100000},
                "price": money}, ("name",) if closed else ("sku", "name", "qty", "price"), closed=closed)


def _order_fields() -> dict[str, Schema]:
    return {
        "number": _string(64, minLength=1, pattern=NOT_BLANK),
        "customer_id": id_ref(),
        "customer_phone": _string(64, description="Any format; an unknown number creates the customer."),
        "customer_name": nullable("string", maxLength=200, description="Name for a customer created by phone."),
        "manager_id": id_ref(),
        "channel": {"enum": list(SALES_CHANNELS)},
        "items": {"type": "array", "items": ref("OrderItemInput"), "maxItems": 200},
        "total": money_in(),
        "currency": _string(3, pattern="^[A-Za-z]{3}$", description="ISO 4217 code."),
    }


def _pick(fields: dict[str, Schema], names: tuple[str, ...]) -> dict[str, Schema]:
    return {name: fields[name] for name in names}


def schemas(error_slugs: list[str]) -> dict[str, Schema]:
    """Every named schema of the document."""
    customer_fields = _customer_fields()
    order_fields = _order_fields()
    return {
        "Error": obj({"error": {"type": "string", "enum": error_slugs, "description": "Stable machine slug."},
                      "message": {"type": "string", "description": "Human-readable explanation: English, or "
                                  "Russian with `Accept-Language: ru`."}},
                     ("error", "message")),
        "Manager": obj({
            "id": id_schema(), "login": {"type": "string"}, "display_name": {"type": "string"},
            "role": {"enum": list(ROLES)},
            "extensions": {"type": "array", "items": {"type": "string"}}, "softphone": {"type": "boolean"},
            "vip_capable": {"type": "boolean"}, "seniority": {"type": "integer"},
            "max_concurrent_calls": {"type": "integer"}, "active": {"type": "boolean"},
            "presence": {"enum": list(PRESENCES)}, "presence_changed_at": date_time(), "locale": {"type": "string"},
            "created_at": date_time()}, closed=False),
        "Phone": obj({"e164": _string(pattern=r"^\+[1-9][0-9]{6,14}$"), "label": {"type": "string"}},
                     ("e164", "label"), closed=False),
        "Customer": obj({
            "id": id_schema(), **{k: v for k, v in customer_fields.items() if k != "phones"},
            "responsible_manager_name": nullable("string"),
            "phones": {"type": "array", "items": ref("Phone")}, "created_at": date_time(), "updated_at": date_time()},
            ("id", "name", "kind", "vip", "region", "tags", "responsible_manager_id", "email", "phones",
             "created_at", "updated_at"), closed=False),
        "CustomerCreate": obj(_pick(customer_fields, customers.CUSTOMER_FIELDS), ("name",)),
        "CustomerPatch": obj(_pick(customer_fields, customers.CUSTOMER_FIELDS),
                             description="Only the fields given change."),
        "CustomerPage": _page("Customer"),
        "OrderItemInput": _order_item(money_in(), closed=True),
        "OrderItem": _order_item(money_out(), closed=False),
        "StatusChange": obj({"from_status": nullable("string"), "to_status": {"type": "string"},
                             "changed_by": nullable("integer"), "changed_by_name": nullable("string"),
                             "changed_at": date_time(), "comment": {"type": "string"}}, closed=False),
        "NextStatus": obj({"code": {"type": "string"}, "title_ru": {"type": "string"},
                           "title_en": {"type": "string"}, "is_final": {"type": "boolean"}}, closed=False),
        "Order": obj({
            "id": id_schema(), "number": {"type": "string"}, "customer_id": id_schema(),
            "customer_name": {"type": "string"},
            "manager_id": nullable("integer"), "manager_name": nullable("string"),
            "channel": {"enum": list(SALES_CHANNELS)}, "items": {"type": "array", "items": ref("OrderItem")},
            "total": money_out(), "currency": {"type": "string"}, "status": {"type": "string"},
            "status_changed_at": date_time(), "created_at": date_time(), "updated_at": date_time(),
            "history": {"type": "array", "items": ref("StatusChange"), "description": "Oldest first."},
            "next_statuses": {"type": "array", "items": ref("NextStatus"),
                              "description": "Where the workflow allows this order to move now."}},
            ("id", "number", "customer_id", "status", "items", "total", "currency", "history", "next_statuses"),
            closed=False),
        "OrderCreate": obj(_pick(order_fields, orders.CREATE_FIELDS), ("number",),
                           description="Give customer_id, or customer_phone (and customer_name)."),
        "OrderPatch": obj(_pick(order_fields, orders.PATCH_FIELDS), description="Only the fields given change."),
        "StatusChangeRequest": obj({"status": STATUS_CODE, "comment": _string(1000)}, ("status",)),
        "Task": obj({
            "id": id_schema(), "kind": {"enum": list(TASK_KINDS)}, "title": {"type": "string"},
            "customer_id": nullable("integer"), "customer_name": nullable("string"),
            "order_id": nullable("integer"), "order_number": nullable("string"), "call_id": nullable("integer"),
            "assignee_id": nullable("integer"), "assignee_name": nullable("string"),
            "due_at": nullable("string", format="date-time"), "status": {"enum": list(TASK_STATUSES)},
            "result_note": {"type": "string"}, "created_by_id": nullable("integer"), "created_at": date_time(),
            "closed_at": nullable("string", format="date-time")},
            ("id", "kind", "title", "status", "assignee_id", "due_at", "created_at"), closed=False),
        "TaskCreate": obj({
            "kind": {"enum": list(TASK_KINDS), "default": "custom"},
            "title": _string(300, minLength=1, pattern=NOT_BLANK),
            "customer_id": id_ref(), "order_id": id_ref(), "assignee_id": id_ref(),
            "due_at": nullable("string", format="date-time", description="With a time zone offset.")},
            ("title",)),
        "TaskComplete": obj({"result_note": _string(5000)}),
        "TaskPage": _page("Task"),
        "OrderSummary": obj({
            "id": id_schema(), "number": {"type": "string"}, "customer_id": id_schema(),
            "customer_name": {"type": "string"},
            "manager_id": nullable("integer"), "manager_name": nullable("string"),
            "channel": {"enum": list(SALES_CHANNELS)}, "items": {"type": "array", "items": ref("OrderItem")},
            "total": money_out(), "currency": {"type": "string"}, "status": {"type": "string"},
            "status_changed_at": date_time(), "created_at": date_time(), "updated_at": date_time()},
            ("id", "number", "customer_id", "status", "total", "currency", "status_changed_at", "updated_at"),
            closed=False, description="An order in a list (GET /api/v1/orders/{id} adds history and next statuses)."),
        "OrderPage": _page("OrderSummary"),
    }


def request_fields() -> dict[str, tuple[str, ...]]:
    """Request schema name -> the fields its handler accepts (checked by the tests)."""
    return {"CustomerCreate": customers.CUSTOMER_FIELDS, "CustomerPatch": customers.CUSTOMER_FIELDS,
            "OrderCreate": orders.CREATE_FIELDS, "OrderPatch": orders.PATCH_FIELDS,
            "StatusChangeRequest": orders.STATUS_FIELDS, "TaskCreate": tasks.CREATE_FIELDS,
            "TaskComplete": tasks.COMPLETE_FIELDS}
