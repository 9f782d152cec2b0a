"""The notices' tables: what the admin set (texts, quiet hours) and the log of every notice and its fate."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from crm.database import Connection, Pool
from crm.errors import InvalidInput
from crm.notices.policy import QuietHours
from crm.notices.text import MISSED_PLACEHOLDERS, STATUS_PLACEHOLDERS, clean_template, placeholders
from crm.validation import clean_text

NoticeKind = Literal["missed_call", "order_status"]
NoticeState = Literal["queued", "held", "sent", "failed", "skipped"]
#: Tries per notice (the job's retries and the minutely sweep together); then it is marked failed.
MAX_ATTEMPTS = 8


@dataclass(frozen=True)
class NoticeConfig:
    """What an admin edits on the notices page."""

    shop_name: str = ""
    quiet: QuietHours = QuietHours()
    missed_enabled: bool = False
    missed_template: str = "Мы пропустили ваш звонок и перезвоним в течение {minutes} мин."
    #: Status code -> its template; a status without one sends no notice.
    templates: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Notice:
    id: int
    cause: str
    kind: NoticeKind
    to_phone: str
    body: str
    state: NoticeState
    error: str
    attempts: int
    held_until: datetime | None
    gateway: str
    task_id: int | None
    order_id: int | None
    created_at: datetime
    attempted_at: datetime | None
    sent_at: datetime | None


async def load_config(pool: Pool | Connection) -> NoticeConfig:
    row = await pool.fetchrow("SELECT * FROM notice_settings")
    templates = {r["status"]: r["template"] for r in await pool.fetch("SELECT status, template FROM notice_templates")}
    if row is None:
        return NoticeConfig(templates=templates)
    return NoticeConfig(row["shop_name"], QuietHours(row["quiet_start"], row["quiet_end"], row["quiet_enabled"]),
                        row["missed_enabled"], row["missed_template"], templates)


def checked(config: NoticeConfig, statuses: tuple[str, ...]) -> NoticeConfig:
    """`config` cleaned for saving, or InvalidInput naming the first problem (nothing is saved then)."""
    shop = clean_text(config.shop_name, "shop name", max_len=100)
    if config.quiet.enabled and config.quiet.start == config.quiet.end:
        raise InvalidInput("quiet hours: the start and the end must differ")
    missed = clean_template(config.missed_template, "missed call", MISSED_PLACEHOLDERS)
    if not missed:
        raise InvalidInput("notice template (missed call): required")
    templates: dict[str, str] = {}
    for code, template in config.templates.items():
        if code not in statuses:
            raise InvalidInput(f"unknown order status {code[:40]!r}")
        if cleaned := clean_template(template, code, STATUS_PLACEHOLDERS):
            templates[code] = cleaned
    used = [missed] if config.missed_enabled else []
    if not shop and any("shop" in placeholders(t) for t in [*used, *templates.values()]):
        raise InvalidInput("shop name: required when a template uses {shop}")
    return NoticeConfig(shop, config.quiet, config.missed_enabled, missed, templates)


async def save_config(pool: Pool, config: NoticeConfig) -> NoticeConfig:
    """Check and store the whole page at once: the settings and every status's template."""
    async with pool.acquire() as conn, conn.transaction():
        statuses = tuple(r["code"] for r in await conn.fetch("SELECT code FROM order_statuses"))
        clean = checked(config, statuses)
        await conn.execute(
            """UPDATE notice_settings SET shop_name = $1, quiet_enabled = $2, quiet_start = $3, quiet_end = $4,
                   missed_enabled = $5, missed_template = $6, updated_at = now()""",
            clean.shop_name, clean.quiet.enabled, clean.quiet.start, clean.quiet.end, clean.missed_enabled,
            clean.missed_template)
        await conn.execute("DELETE FROM notice_templates WHERE NOT (status = ANY($1::text[]))", list(clean.templates))
        for code, template in clean.templates.items():
            await conn.execute(
                """INSERT INTO notice_templates (status, template) VALUES ($1, $2)
                   ON CONFLICT (status) DO UPDATE SET template = EXCLUDED.template, updated_at = now()
                   WHERE notice_templates.template <> EXCLUDED.template""", code, template)
        # Held notices are weighed again against the new quiet hours (the sweep sends or holds them).
        await conn.execute("UPDATE customer_notices SET state = 'queued', held_until = NULL WHERE state = 'held'")
    return clean


def _notice(r: Any) -> Notice:
    return Notice(r["id"], r["cause"], r["kind"], r["to_phone"], r["body"], r["state"], r["error"], r["attempts"],
                  r["held_until"], r["gateway"], r["task_id"], r["order_id"], r["created_at"], r["attempted_at"],
                  r["sent_at"])


async def record(pool: Pool, cause: str, kind: NoticeKind, to_phone: str, body: str, *,
                 task_id: int | None = None, order_id: int | None = None) -> int | None:
    """A queued notice for `cause`; None when that cause has one already (it is never sent twice)."""
    notice_id = await pool.fetchval(
        """INSERT INTO customer_notices (cause, kind, to_phone, body, task_id, order_id)
           VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (cause) DO NOTHING RETURNING id""",
        cause[:100], kind, to_phone, body, task_id, order_id)
    return None if notice_id is None else int(notice_id)


async def get(pool: Pool, notice_id: int) -> Notice | None:
    row = await pool.fetchrow("SELECT * FROM customer_notices WHERE id = $1", notice_id)
    return None if row is None else _notice(row)


async def by_cause(pool: Pool, cause: str) -> Notice | None:
    row = await pool.fetchrow("SELECT * FROM customer_notices WHERE cause = $1", cause)
    return None if row is None else _notice(row)


async def hold(pool: Pool, notice_id: int, until: datetime) -> None:
    await pool.execute("UPDATE customer_notices SET state = 'held', held_until = $2 "
                       "WHERE id = $1 AND state IN ('queued', 'held')", notice_id, until)


async def skip(pool: Pool, notice_id: int, reason: str) -> None:
    await pool.execute("UPDATE customer_notices SET state = 'skipped', error = $2 "
                       "WHERE id = $1 AND state IN ('queued', 'held')", notice_id, reason[:1000])


async def callback_open(pool: Pool, task_id: int) -> bool:
    """Whether the callback a missed-call notice promises is still to be made."""
    return bool(await pool.fetchval("SELECT status = 'open' FROM tasks WHERE id = $1", task_id))


async def record_attempt(pool: Pool, notice_id: int, at: datetime, *, gateway: str, error: str = "") -> NoticeState:
    """One try's result: sent (no error), else queued for the next try, or failed after the last; the new state."""
    state = await pool.fetchval(
        """UPDATE customer_notices SET attempts = attempts + 1, attempted_at = $2, gateway = $3, error = $4,
               held_until = NULL,
               sent_at = CASE WHEN $4 = '' THEN $2 ELSE sent_at END,
               state = CASE WHEN $4 = '' THEN 'sent' WHEN attempts + 1 >= $5 THEN 'failed' ELSE 'queued' END
           WHERE id = $1 RETURNING state""", notice_id, at, gateway[:20], error[:1000], MAX_ATTEMPTS)
    return "sent" if state == "sent" else "queued" if state == "queued" else "failed"


async def due(pool: Pool, now: datetime, limit: int = 200) -> list[int]:
    """Notices to (re)send at `now`: queued ones, and held ones whose quiet hours are over."""
    rows = await pool.fetch(
        """SELECT id FROM customer_notices
           WHERE state = 'queued' OR (state = 'held' AND held_until <= $1) ORDER BY id LIMIT $2""", now, limit)
    return [int(r["id"]) for r in rows]


async def recent(pool: Pool, limit: int = 50) -> list[Notice]:
    rows = await pool.fetch("SELECT * FROM customer_notices ORDER BY created_at DESC, id DESC LIMIT $1", limit)
    return [_notice(r) for r in rows]
