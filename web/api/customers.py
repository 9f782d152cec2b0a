"""Customers over the API: search (by phone in any format, name or order number), read, create, patch."""

from __future__ import annotations

from aiohttp import web

from crm import customers
from crm.customers import SEARCH_LIMIT_MAX, CustomerInput
from crm.database import Pool
from crm.errors import NotFound
from crm.models import CUSTOMER_KINDS, Customer, Manager
from crm.phones import normalize_phone
from web.api.json_io import Body, invalid, json_response, page_response, paging, path_id
from web.keys import POOL, SETTINGS, current_user

CUSTOMER_FIELDS = ("name", "kind", "vip", "region", "tags", "responsible_manager_id", "email", "phones")
MAX_PHONES = 10
MAX_TAGS = 20


def default_region(request: web.Request) -> str:
    return request.app[SETTINGS].crm.default_region


async def check_customer_ref(pool: Pool, customer_id: int, viewer: Manager, field: str = "customer_id") -> None:
    """A customer named in a request body must exist (else 422) and be visible to the caller (else 403)."""
    try:
        await customers.get_customer(pool, customer_id, viewer)
    except NotFound:
        raise invalid(f"{field}: no customer {customer_id}") from None


def customer_input(body: Body, current: Customer | None = None) -> CustomerInput:
    """The customer the body describes; fields it leaves out keep `current`'s values (PATCH)."""
    return CustomerInput(
        name=body.text("name", current.name if current else None),
        kind=body.choice("kind", CUSTOMER_KINDS, current.kind if current else "person"),
        vip=body.boolean("vip", current.vip if current else False),
        region=body.text("region", current.region if current else ""),
        tags=body.text_list("tags", current.tags if current else (), max_len=MAX_TAGS),
        responsible_manager_id=body.opt_id("responsible_manager_id",
                                           current.responsible_manager_id if current else None),
        email=body.text("email", current.email if current else ""),
        phones=body.text_list("phones", tuple(p.e164 for p in current.phones) if current else (),
                              max_len=MAX_PHONES),
    )


async def list_customers(request: web.Request) -> web.Response:
    viewer = current_user(request)
    limit, offset = paging(request, default_limit=20, max_limit=SEARCH_LIMIT_MAX)
    query = request.query.get("q", "")
    phone = request.query.get("phone")
    if phone is not None:
        if query:
            raise invalid("give q or phone, not both")
        query = normalize_phone(phone, default_region(request))
    page = await customers.search_customers(request.app[POOL], query, viewer, limit=limit, offset=offset,
                                            default_region=default_region(request))
    return page_response(page, limit, offset)


async def get_customer(request: web.Request) -> web.Response:
    customer = await customers.get_customer(request.app[POOL], path_id(request), current_user(request))
    return json_response(customer)


async def create_customer(request: web.Request) -> web.Response:
    current_user(request)
    body = await Body.read(request, CUSTOMER_FIELDS)
    customer = await customers.create_customer(request.app[POOL], customer_input(body),
                                               default_region=default_region(request))
    return json_response(customer, status=201, headers={"Location": f"/api/v1/customers/{customer.id}"})


async def patch_customer(request: web.Request) -> web.Response:
    pool = request.app[POOL]
    current = await customers.get_customer(pool, path_id(request), current_user(request))
    body = await Body.read(request, CUSTOMER_FIELDS)
    customer = await customers.update_customer(pool, current.id, customer_input(body, current),
                                               default_region=default_region(request))
    return json_response(customer)


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_get("/api/v1/customers", list_customers, allow_head=False)
    router.add_post("/api/v1/customers", create_customer)
    router.add_get(r"/api/v1/customers/{id:[0-9]+}", get_customer, allow_head=False)
    router.add_patch(r"/api/v1/customers/{id:[0-9]+}", patch_customer)
