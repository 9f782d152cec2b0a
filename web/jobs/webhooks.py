"""Delivering webhooks: a signed POST per delivery, retried by the job queue until the receiver says 2xx.

Headers: `X-Perezvon-Event`, `X-Perezvon-Event-Id` (the same on every retry: receivers drop repeats),
`X-Perezvon-Timestamp` (Unix seconds) and `X-Perezvon-Signature: sha256=HEX`, the HMAC-SHA256 of
`TIMESTAMP.BODY` with the endpoint's secret. A receiver recomputes it and refuses old timestamps.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from datetime import datetime

import aiohttp
import procrastinate
from procrastinate.exceptions import AlreadyEnqueued

from crm import webhooks
from crm.database import Pool

log = logging.getLogger(__name__)

TIMEOUT_S = 10.0


def signature(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"sha256={mac}"


class DeliveryFailed(Exception):
    """The receiver did not take it (not 2xx, or unreachable): the job is retried."""


async def deliver(pool: Pool, delivery_id: int) -> bool:
    """POST one delivery; True when delivered now, False when there was nothing to do; raises to retry."""
    delivery = await webhooks.get_delivery(pool, delivery_id)
    if delivery is None or delivery.delivered_at is not None or delivery.attempts >= webhooks.MAX_ATTEMPTS:
        return False
    body = json.dumps(delivery.payload, ensure_ascii=False, separators=(",", ":")).encode()
    now = int(time.time())
    headers = {"Content-Type": "application/json", "User-Agent": "perezvon-webhooks",
               "X-Perezvon-Event": delivery.event, "X-Perezvon-Event-Id": delivery.event_id,
               "X-Perezvon-Timestamp": str(now), "X-Perezvon-Signature": signature(delivery.secret, now, body)}
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=TIMEOUT_S)) as http, \
                http.post(delivery.url, data=body, headers=headers, allow_redirects=False) as response:
            status = response.status
    except (aiohttp.ClientError, TimeoutError, OSError) as exc:
        await webhooks.record_attempt(pool, delivery_id, status=None, error=repr(exc), delivered=False)
        raise DeliveryFailed(f"{delivery.url}: {exc!r}") from exc
    ok = 200 <= status < 300
    await webhooks.record_attempt(pool, delivery_id, status=status, error="" if ok else f"HTTP {status}",
                                  delivered=ok)
    if not ok:
        raise DeliveryFailed(f"{delivery.url}: HTTP {status}")
    return True


async def emit_retry(app: procrastinate.App | None, delivery_id: int) -> None:
    """Queue another try of an undelivered delivery (the minutely sweep); one waiting job per delivery."""
    if app is None:
        return
    try:
        await app.configure_task("deliver_webhook", queueing_lock=f"webhook:{delivery_id}").defer_async(
            delivery_id=delivery_id)
    except AlreadyEnqueued:
        pass


async def emit(app: procrastinate.App | None, pool: Pool, event: str, event_id: str,
               payload: dict[str, object]) -> None:
    """Record the event for every subscribed endpoint and queue its deliveries (the minutely sweep sends
    any that could not be queued)."""
    try:
        ids = await webhooks.record_event(pool, event, event_id, payload)
    except Exception:
        log.exception("webhook event %s %s could not be recorded", event, event_id)
        return
    for delivery_id in ids:
        try:
            await emit_retry(app, delivery_id)
        except Exception:
            log.exception("webhook delivery %d could not be queued (the sweep will send it)", delivery_id)


async def order_status_changed(app: procrastinate.App | None, pool: Pool, order_id: int, number: str,
                               from_status: str, to_status: str, at: datetime) -> None:
    """The `order.status_changed` event of one move through the workflow."""
    await emit(app, pool, "order.status_changed", f"order-status:{order_id}:{to_status}:{int(at.timestamp())}",
               {"order_id": order_id, "number": number, "from": from_status, "to": to_status, "at": at.isoformat()})
