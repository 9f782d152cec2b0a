"""Outgoing webhooks: signed deliveries through the job queue, retried, once per event; the admin page."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from crm import customers, orders, webhooks
from crm.customers import CustomerInput
from crm.database import Pool
from crm.orders import OrderInput
from tests.conftest import MakeManager, csrf_from, login
from web.api.openapi import WEBHOOK_FIELDS
from web.jobs import webhooks as webhook_jobs
from web.jobs.queue import JobEnvironment
from web.jobs.runtime import job_app
from web.live.bus import LocalBus
from web.live.hub import LiveHub

Client = TestClient[web.Request, web.Application]


@dataclass
class Receiver:
    """The shop's endpoint: answers `status`, keeps what it got."""

    status: int = 200
    got: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    url: str = ""

    async def handle(self, request: web.Request) -> web.Response:
        self.got.append((dict(request.headers), await request.read()))
        return web.Response(status=self.status)


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    sink = Receiver()
    app = web.Application()
    app.router.add_post("/hook", sink.handle)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    sink.url = str(server.make_url("/hook"))
    try:
        yield sink
    finally:
        await server.close()


def test_every_event_is_documented() -> None:
    assert set(WEBHOOK_FIELDS) == set(webhooks.EVENTS)


async def test_a_delivery_is_signed_sent_once_and_retried_when_refused(pool: Pool, db_dsn: str,
                                                                       receiver: Receiver) -> None:
    endpoint, secret = await webhooks.create_endpoint(pool, receiver.url, ("call.missed", "callback.done"))
    assert endpoint.events == ("call.missed", "callback.done")
    app = job_app(db_dsn)
    env = {"env": JobEnvironment(pool, LocalBus(LiveHub()))}
    async with app.open_async():
        for _ in range(2):  # written twice (a resync): one delivery
            await webhook_jobs.emit(app, pool, "call.missed", "missed:1800000600.1",
                                    {"call": "1800000600.1", "number": "+79161110003", "reason": "no_answer"})
        await webhook_jobs.emit(app, pool, "call.ringing", "ringing:x", {"call": "x"})  # not subscribed
        await app.run_worker_async(wait=False, install_signal_handlers=False, queues=["checks"],
                                   additional_context=env)
    [(headers, body)] = receiver.got
    assert headers["X-Perezvon-Event"] == "call.missed" and headers["X-Perezvon-Event-Id"] == "missed:1800000600.1"
    expected = hmac.new(secret.encode(), f"{headers['X-Perezvon-Timestamp']}.".encode() + body,
                        hashlib.sha256).hexdigest()
    assert headers["X-Perezvon-Signature"] == f"sha256={expected}"
    assert b'"reason":"no_answer"' in body
    [delivery] = await webhooks.recent_deliveries(pool)
    assert delivery.delivered_at is not None and delivery.status == 200 and delivery.attempts == 1

    receiver.status = 503
    [refused_id] = await webhooks.record_event(pool, "callback.done", "callback-done:7", {"task_id": 7})
    with pytest.raises(webhook_jobs.DeliveryFailed):
        await webhook_jobs.deliver(pool, refused_id)
    refused = await webhooks.get_delivery(pool, refused_id)
    assert refused is not None and (refused.delivered_at, refused.error, refused.attempts) == (None, "HTTP 503", 1)
    assert await webhooks.pending(pool) == [refused_id]  # the minutely sweep tries again
    receiver.status = 204
    assert await webhook_jobs.deliver(pool, refused_id)
    assert await webhooks.pending(pool) == []


async def test_an_order_status_change_is_an_event(client: Client, pool: Pool, make_manager: MakeManager,
                                                  receiver: Receiver) -> None:
    await webhooks.create_endpoint(pool, receiver.url, ("order.status_changed",))
    customer = await customers.create_customer(pool, CustomerInput(name="Клиент", phones=("+79161110099",)))
    order = await orders.create_order(pool, OrderInput(number="10900", customer_id=customer.id, total="1"), None)
    csrf = await login(client, await make_manager("supervisor"))
    moved = await client.post(f"/api/v1/orders/{order.id}/status", json={"status": "confirmed"},
                              headers={"X-CSRF-Token": csrf})
    assert moved.status == 200
    [delivery] = await webhooks.recent_deliveries(pool)
    assert delivery.event == "order.status_changed"
    assert (delivery.payload["number"], delivery.payload["from"], delivery.payload["to"]) == ("10900", "new",
                                                                                              "confirmed")


async def test_admins_add_endpoints_and_see_the_secret_once(client: Client, make_manager: MakeManager,
                                                            receiver: Receiver) -> None:
    await login(client, await make_manager("operator"))
    assert (await client.get("/settings/webhooks")).status == 403
    await login(client, await make_manager("admin"))
    csrf = await csrf_from(client, "/settings/webhooks")
    page = await (await client.post("/settings/webhooks", data={"_csrf": csrf, "url": receiver.url,
                                                                 "events": ["call.missed", "alert.raised"]})).text()
    assert 'class="webhook-secret"' in page and receiver.url in page
    assert 'class="webhook-secret"' not in await (await client.get("/settings/webhooks")).text()
    bad = await client.post("/settings/webhooks", data={"_csrf": csrf, "url": "ftp://x", "events": ["call.missed"]})
    assert bad.status == 422
