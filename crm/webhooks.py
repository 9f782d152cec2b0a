"""Outgoing webhooks: the endpoints an admin registers, and one delivery per event and endpoint.

An event is recorded here (a row per subscribed endpoint, keyed by the event's id so recording it twice
sends it once); the job queue delivers it (web/jobs/webhooks.py) with an HMAC-SHA256 signature and
retries. The payloads carry ids and plain values, never markup.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from crm.database import Pool
from crm.errors import InvalidInput, NotFound

EVENTS = ("call.ringing", "call.answered", "call.missed", "callback.created", "callback.done", "alert.raised",
          "order.status_changed")
MAX_ATTEMPTS = 8


@dataclass(frozen=True)
class Endpoint:
    id: int
    url: str
    events: tuple[str, ...]
    active: bool
    created_at: datetime


@dataclass(frozen=True)
class Delivery:
    id: int
    endpoint_id: int
    url: str
    secret: str
    event_id: str
    event: str
    payload: dict[str, Any]
    attempts: int
    status: int | None
    error: str
    delivered_at: datetime | None
    created_at: datetime


def _check_url(url: str) -> str:
    url = url.strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc or len(url) > 500:
        raise InvalidInput("webhook URL: an http:// or https:// address")
    return url


async def create_endpoint(pool: Pool, url: str, events: tuple[str, ...]) -> tuple[Endpoint, str]:
    """A new endpoint and its signing secret (shown once)."""
    chosen = tuple(e for e in EVENTS if e in events)
    if not chosen:
        raise InvalidInput("choose at least one event")
    secret = secrets.token_urlsafe(32)
    row = await pool.fetchrow("INSERT INTO webhook_endpoints (url, secret, events) VALUES ($1, $2, $3) RETURNING *",
                              _check_url(url), secret, list(chosen))
    assert row is not None
    return Endpoint(row["id"], row["url"], tuple(row["events"]), row["active"], row["created_at"]), secret


async def list_endpoints(pool: Pool) -> list[Endpoint]:
    rows = await pool.fetch("SELECT * FROM webhook_endpoints ORDER BY id")
    return [Endpoint(r["id"], r["url"], tuple(r["events"]), r["active"], r["created_at"]) for r in rows]


async def set_active(pool: Pool, endpoint_id: int, active: bool) -> None:
    done = await pool.fetchval("UPDATE webhook_endpoints SET active = $2 WHERE id = $1 RETURNING id",
                               endpoint_id, active)
    if done is None:
        raise NotFound(f"no webhook endpoint {endpoint_id}")


async def record_event(pool: Pool, event: str, event_id: str, payload: dict[str, Any]) -> list[int]:
    """Deliveries for every active endpoint that wants `event`; the ids of the new ones (none when known)."""
    if event not in EVENTS:
        raise ValueError(f"unknown webhook event {event!r}")
    body = {"event": event, "id": event_id, **payload}
    rows = await pool.fetch(
        """INSERT INTO webhook_deliveries (endpoint_id, event_id, event, payload)
           SELECT e.id, $1, $2, $3::jsonb FROM webhook_endpoints e WHERE e.active AND $2 = ANY(e.events)
           ON CONFLICT (endpoint_id, event_id) DO NOTHING RETURNING id""",
        event_id[:100], event, json.dumps(body, ensure_ascii=False, default=str))
    return [int(r["id"]) for r in rows]


SELECT_DELIVERY = """
SELECT d.*, e.url, e.secret FROM webhook_deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id
"""


def _delivery(r: Any) -> Delivery:
    payload = r["payload"] if isinstance(r["payload"], dict) else json.loads(r["payload"])
    return Delivery(r["id"], r["endpoint_id"], r["url"], r["secret"], r["event_id"], r["event"], payload,
                    r["attempts"], r["status"], r["error"], r["delivered_at"], r["created_at"])


async def get_delivery(pool: Pool, delivery_id: int) -> Delivery | None:
    row = await pool.fetchrow(SELECT_DELIVERY + " WHERE d.id = $1", delivery_id)
    return None if row is None else _delivery(row)


async def record_attempt(pool: Pool, delivery_id: int, *, status: int | None, error: str, delivered: bool) -> None:
    await pool.execute(
        "UPDATE webhook_deliveries SET attempts = attempts + 1, status = $2, error = $3, "
        "delivered_at = CASE WHEN $4 THEN now() ELSE delivered_at END WHERE id = $1",
        delivery_id, status, error[:1000], delivered)


async def pending(pool: Pool, limit: int = 100) -> list[int]:
    """Undelivered deliveries still worth a try (the minutely sweep's work)."""
    rows = await pool.fetch(
        "SELECT d.id FROM webhook_deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id "
        "WHERE d.delivered_at IS NULL AND d.attempts < $1 AND e.active ORDER BY d.id LIMIT $2", MAX_ATTEMPTS, limit)
    return [int(r["id"]) for r in rows]


async def recent_deliveries(pool: Pool, limit: int = 50) -> list[Delivery]:
    rows = await pool.fetch(SELECT_DELIVERY + " ORDER BY d.created_at DESC, d.id DESC LIMIT $1", limit)
    return [_delivery(r) for r in rows]
