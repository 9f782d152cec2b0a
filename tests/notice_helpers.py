"""Customer-notice tests' parts: the shop's SMS gateway as a real HTTP server on loopback, a fixed clock."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestServer

from crm.database import Pool
from web.jobs.notice_delivery import NoticeEnvironment
from web.jobs.queue import JobEnvironment
from web.live.bus import LocalBus
from web.live.hub import LiveHub
from web.notice_settings import NoticeSettings

SECRET = "notice-gateway-secret-0123456789"
ZONE = "Europe/Moscow"
#: Monday 2 March 2026, 12:00 in Moscow (UTC+3 all year): well outside the default quiet hours.
NOON = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@dataclass
class SmsGateway:
    """The shop's gateway: answers `status`, keeps every request it got."""

    status: int = 200
    got: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    url: str = ""

    async def handle(self, request: web.Request) -> web.Response:
        self.got.append((dict(request.headers), await request.read()))
        return web.Response(status=self.status, text="" if self.status < 300 else "number blocked <b>x</b>")

    def bodies(self) -> list[dict[str, Any]]:
        return [json.loads(body) for _, body in self.got]

    def signature_ok(self, index: int = 0) -> bool:
        headers, body = self.got[index]
        expected = hmac.new(SECRET.encode(), f"{headers['X-Perezvon-Timestamp']}.".encode() + body,
                            hashlib.sha256).hexdigest()
        return headers["X-Perezvon-Signature"] == f"sha256={expected}"


@contextlib.asynccontextmanager
async def running_gateway() -> AsyncIterator[SmsGateway]:
    gateway = SmsGateway()
    app = web.Application()
    app.router.add_post("/sms", gateway.handle)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    gateway.url = str(server.make_url("/sms"))
    try:
        yield gateway
    finally:
        await server.close()


def webhook_settings(url: str) -> NoticeSettings:
    return NoticeSettings(gateway="webhook", webhook_url=url, webhook_secret=SECRET)


def job_context(pool: Pool, url: str, now: datetime = NOON) -> dict[str, object]:
    """The worker's additional context: notices through the webhook gateway at `url`, the clock fixed at `now`."""
    notices = NoticeEnvironment(webhook_settings(url), ZONE, clock=lambda: now)
    return {"env": JobEnvironment(pool, LocalBus(LiveHub()), notices=notices)}
