"""Routing configuration an admin edits: groups and members, rules, the shop's numbers, schedules and holidays,
the urgent order statuses and the global routing settings (schedules and holidays: crm/routing/schedules.py).

Every input is validated before any SQL runs and refused with `InvalidInput` (bad value),
`NotFound` (no such row) or `Conflict` (a duplicate name / number, a group still used by rules),
so the admin pages can show the message as it is. Caps (a manager's concurrent calls) are edited
with the managers (crm/managers.py).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg

from crm.database import Connection, Pool
from crm.errors import Conflict, InvalidInput, NotFound
from crm.models import (
    CUSTOMER_KINDS,
    SALES_CHANNELS,
    STICKY_SOURCES,
    RoutingGroup,
    RoutingNumber,
    RoutingRule,
    RoutingSettings,
    StickySource,
)
from crm.routing.names import normalize_did
from crm.validation import clean_text

_QUEUE = re.compile(r"^[A-Za-z0-9_-]{0,64}$")
DEFAULT_HOURS: Mapping[int, tuple[str, str]] = {1: ("09:00", "21:00"), 2: ("09:00", "21:00"), 3: ("09:00", "21:00"),
                                                4: ("09:00", "21:00"), 5: ("09:00", "21:00"), 6: ("10:00", "18:00"),
                                                7: ("10:00", "18:00")}
MAX_POSITION = 1_000_000


def _queue(value: str, field_name: str, *, required: bool = False) -> str:
    text = value.strip()
    if not _QUEUE.match(text) or (required and not text):
        raise InvalidInput(f"{field_name}: {'1' if required else '0'}-64 latin letters, digits, '_' or '-'")
    return text


def _ring(value: int, field_name: str) -> int:
    if not isinstance(value, int) or not 5 <= value <= 300:
        raise InvalidInput(f"{field_name}: 5-300 seconds")
    return value


def did_field(value: str, *, required: bool) -> str:
    """A dialled number from a form, normalised like routing compares it (crm.routing.names.normalize_did)."""
    did = normalize_did(value)
    if value.strip() and not did:
        raise InvalidInput("number: digits expected")
    if required and not did:
        raise InvalidInput("number: required")
    return did


# ---- inputs ---------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class GroupInput:
    name: str
    queue: str = ""
    ring_timeout_s: int = 20
    member_ids: tuple[int, ...] = ()
    ring_all: bool = False

    def validated(self) -> GroupInput:
        return GroupInput(clean_text(self.name, "name", max_len=100, min_len=1), _queue(self.queue, "queue"),
                          _ring(self.ring_timeout_s, "ring timeout"), tuple(dict.fromkeys(self.member_ids)),
                          bool(self.ring_all))


@dataclass(frozen=True)
class RuleInput:
    group_id: int
    position: int = 100
    did: str = ""
    channel: str = ""
    customer_kind: str = ""
    region: str = ""
    note: str = ""

    def validated(self) -> RuleInput:
        if not isinstance(self.position, int) or not -MAX_POSITION <= self.position <= MAX_POSITION:
            raise InvalidInput(f"position: an integer between -{MAX_POSITION} and {MAX_POSITION}")
        if self.channel not in ("", *SALES_CHANNELS):
            raise InvalidInput(f"channel must be empty or one of {', '.join(SALES_CHANNELS)}")
        if self.customer_kind not in ("", *CUSTOMER_KINDS):
            raise InvalidInput(f"customer kind must be empty or one of {', '.join(CUSTOMER_KINDS)}")
        return RuleInput(self.group_id, self.position, did_field(self.did, required=False), self.channel,
                         self.customer_kind, clean_text(self.region, "region", max_len=100),
                         clean_text(self.note, "note", max_len=200))


@dataclass(frozen=True)
class NumberInput:
    did: str
    channel: str
    label: str = ""

    def validated(self) -> NumberInput:
        if self.channel not in SALES_CHANNELS:
            raise InvalidInput(f"channel must be one of {', '.join(SALES_CHANNELS)}")
        return NumberInput(did_field(self.did, required=True), self.channel,
                           clean_text(self.label, "label", max_len=100))


@dataclass(frozen=True)
class RoutingSettingsInput:
    sticky_source: StickySource = "responsible"
    default_queue: str = "sales"
    default_ring_timeout_s: int = 20

    def validated(self) -> RoutingSettingsInput:
        if self.sticky_source not in STICKY_SOURCES:
            raise InvalidInput(f"sticky source must be one of {', '.join(STICKY_SOURCES)}")
        return RoutingSettingsInput(self.sticky_source, _queue(self.default_queue, "default queue", required=True),
                                    _ring(self.default_ring_timeout_s, "default ring timeout"))


# ---- groups ---------------------------------------------------------------------------------------------------

SELECT_GROUP = """
SELECT g.*, coalesce((SELECT array_agg(gm.manager_id ORDER BY gm.manager_id) FROM routing_group_members gm
                      WHERE gm.group_id = g.id), '{}') AS member_list
FROM routing_groups g
"""


def _group(row: asyncpg.Record) -> RoutingGroup:
    return RoutingGroup(row["id"], row["name"], row["queue"], row["ring_timeout_s"], tuple(row["member_list"]),
                        row["ring_all"])


async def list_groups(pool: Pool) -> list[RoutingGroup]:
    return [_group(r) for r in await pool.fetch(SELECT_GROUP + " ORDER BY g.name, g.id")]


async def get_group(pool: Pool, group_id: int) -> RoutingGroup:
    row = await pool.fetchrow(SELECT_GROUP + " WHERE g.id = $1", group_id)
    if row is None:
        raise NotFound(f"no routing group {group_id}")
    return _group(row)


async def _set_members(conn: Connection, group_id: int, manager_ids: tuple[int, ...]) -> None:
    found = await conn.fetchval("SELECT count(*) FROM managers WHERE id = ANY($1::bigint[])", list(manager_ids))
    if found != len(manager_ids):
        raise InvalidInput("members: unknown manager")
    await conn.execute("DELETE FROM routing_group_members WHERE group_id = $1", group_id)
    await conn.execute("INSERT INTO routing_group_members (group_id, manager_id) SELECT $1, unnest($2::bigint[])",
                       group_id, list(manager_ids))


async def create_group(pool: Pool, data: GroupInput) -> RoutingGroup:
    data = data.validated()
    async with pool.acquire() as conn, conn.transaction():
        try:
            group_id = await conn.fetchval(
                "INSERT INTO routing_groups (name, queue, ring_timeout_s, ring_all) VALUES ($1, $2, $3, $4) "
                "RETURNING id", data.name, data.queue, data.ring_timeout_s, data.ring_all)
        except asyncpg.UniqueViolationError as exc:
            raise Conflict(f"a group named {data.name!r} exists") from exc
        await _set_members(conn, group_id, data.member_ids)
    return await get_group(pool, group_id)


async def update_group(pool: Pool, group_id: int, data: GroupInput) -> RoutingGroup:
    """Replace the group's fields and its member list."""
    data = data.validated()
    async with pool.acquire() as conn, conn.transaction():
        try:
            updated = await conn.fetchval(
                "UPDATE routing_groups SET name = $2, queue = $3, ring_timeout_s = $4, ring_all = $5 WHERE id = $1 "
                "RETURNING id", group_id, data.name, data.queue, data.ring_timeout_s, data.ring_all)
        except asyncpg.UniqueViolationError as exc:
            raise Conflict(f"a group named {data.name!r} exists") from exc
        if updated is None:
            raise NotFound(f"no routing group {group_id}")
        await _set_members(conn, group_id, data.member_ids)
    return await get_group(pool, group_id)


async def set_group_members(pool: Pool, group_id: int, manager_ids: Sequence[int]) -> RoutingGroup:
    async with pool.acquire() as conn, conn.transaction():
        if await conn.fetchval("SELECT id FROM routing_groups WHERE id = $1 FOR UPDATE", group_id) is None:
            raise NotFound(f"no routing group {group_id}")
        await _set_members(conn, group_id, tuple(dict.fromkeys(manager_ids)))
    return await get_group(pool, group_id)


async def delete_group(pool: Pool, group_id: int) -> None:
    """Delete a group; refused while a rule still sends calls to it."""
    try:
        result = await pool.execute("DELETE FROM routing_groups WHERE id = $1", group_id)
    except (asyncpg.ForeignKeyViolationError, asyncpg.RestrictViolationError) as exc:
        raise Conflict("the group is used by routing rules: delete or change them first") from exc
    if result.endswith(" 0"):
        raise NotFound(f"no routing group {group_id}")


# ---- rules ----------------------------------------------------------------------------------------------------

SELECT_RULE = "SELECT r.*, g.name AS group_name FROM routing_rules r JOIN routing_groups g ON g.id = r.group_id"


def _rule(row: asyncpg.Record) -> RoutingRule:
    return RoutingRule(row["id"], row["position"], row["did"], row["channel"], row["customer_kind"], row["region"],
                       row["group_id"], row["group_name"], row["note"])


async def list_rules(pool: Pool) -> list[RoutingRule]:
    """Rules in the order they are tried."""
    return [_rule(r) for r in await pool.fetch(SELECT_RULE + " ORDER BY r.position, r.id")]


async def get_rule(pool: Pool, rule_id: int) -> RoutingRule:
    row = await pool.fetchrow(SELECT_RULE + " WHERE r.id = $1", rule_id)
    if row is None:
        raise NotFound(f"no routing rule {rule_id}")
    return _rule(row)


async def _save_rule(pool: Pool, rule_id: int | None, data: RuleInput) -> RoutingRule:
    data = data.validated()
    args = (data.position, data.did, data.channel, data.customer_kind, data.region, data.group_id, data.note)
    try:
        if rule_id is None:
            rule_id = await pool.fetchval(
                """INSERT INTO routing_rules (position, did, channel, customer_kind, region, group_id, note)
                   VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id""", *args)
        elif await pool.fetchval(
                """UPDATE routing_rules SET position = $2, did = $3, channel = $4, customer_kind = $5, region = $6,
                       group_id = $7, note = $8 WHERE id = $1 RETURNING id""", rule_id, *args) is None:
            raise NotFound(f"no routing rule {rule_id}")
    except asyncpg.ForeignKeyViolationError as exc:
        raise InvalidInput(f"group: no routing group {data.group_id}") from exc
    assert rule_id is not None
    return await get_rule(pool, rule_id)


async def create_rule(pool: Pool, data: RuleInput) -> RoutingRule:
    return await _save_rule(pool, None, data)


async def update_rule(pool: Pool, rule_id: int, data: RuleInput) -> RoutingRule:
    return await _save_rule(pool, rule_id, data)


async def delete_rule(pool: Pool, rule_id: int) -> None:
    if (await pool.execute("DELETE FROM routing_rules WHERE id = $1", rule_id)).endswith(" 0"):
        raise NotFound(f"no routing rule {rule_id}")



# ---- numbers (DIDs) -------------------------------------------------------------------------------------------

async def list_numbers(pool: Pool) -> list[RoutingNumber]:
    rows = await pool.fetch("SELECT did, channel, label FROM routing_numbers ORDER BY did")
    return [RoutingNumber(r["did"], r["channel"], r["label"]) for r in rows]


async def save_number(pool: Pool, data: NumberInput) -> RoutingNumber:
    """Add the number or change its channel and label."""
    data = data.validated()
    await pool.execute(
        """INSERT INTO routing_numbers (did, channel, label) VALUES ($1, $2, $3)
           ON CONFLICT (did) DO UPDATE SET channel = EXCLUDED.channel, label = EXCLUDED.label""",
        data.did, data.channel, data.label)
    return RoutingNumber(data.did, data.channel, data.label)


async def delete_number(pool: Pool, did: str) -> None:
    if (await pool.execute("DELETE FROM routing_numbers WHERE did = $1", normalize_did(did))).endswith(" 0"):
        raise NotFound(f"no number {did[:20]!r}")


# ---- settings and urgent statuses -----------------------------------------------------------------------------

def settings_from_row(row: Mapping[str, Any] | asyncpg.Record) -> RoutingSettings:
    return RoutingSettings(row["sticky_source"], row["default_queue"], row["default_ring_timeout_s"])


async def get_routing_settings(pool: Pool) -> RoutingSettings:
    row = await pool.fetchrow("SELECT * FROM routing_settings")
    assert row is not None
    return settings_from_row(row)


async def update_routing_settings(pool: Pool, data: RoutingSettingsInput) -> RoutingSettings:
    data = data.validated()
    await pool.execute(
        "UPDATE routing_settings SET sticky_source = $1, default_queue = $2, default_ring_timeout_s = $3",
        data.sticky_source, data.default_queue, data.default_ring_timeout_s)
    return await get_routing_settings(pool)


async def get_urgent_statuses(pool: Pool) -> list[str]:
    """Order status codes that make a call about an open order urgent, in workflow order."""
    rows = await pool.fetch("SELECT code FROM order_statuses WHERE urgent_for_calls ORDER BY position, code")
    return [r["code"] for r in rows]


async def set_urgent_statuses(pool: Pool, codes: Sequence[str]) -> list[str]:
    """Flag exactly these statuses urgent; final statuses (no open order can be in them) are refused."""
    wanted = sorted(set(codes))
    async with pool.acquire() as conn, conn.transaction():
        rows = await conn.fetch("SELECT code, is_final FROM order_statuses WHERE code = ANY($1::text[])", wanted)
        known = {r["code"]: r["is_final"] for r in rows}
        unknown = [c for c in wanted if c not in known]
        if unknown:
            raise InvalidInput(f"unknown order status {unknown[0][:32]!r}")
        final = [c for c in wanted if known[c]]
        if final:
            raise InvalidInput(f"status {final[0]!r} is final: no open order can be in it")
        await conn.execute("UPDATE order_statuses SET urgent_for_calls = (code = ANY($1::text[]))", wanted)
    return await get_urgent_statuses(pool)


async def new_contacts_go_to_operator(pool: Pool) -> bool:
    """Whether a contact made for a call becomes the responsible customer of that call's operator."""
    return bool(await pool.fetchval("SELECT new_contact_owner = 'answered' FROM routing_settings"))


async def set_new_contacts_go_to_operator(pool: Pool, yes: bool) -> None:
    await pool.execute("UPDATE routing_settings SET new_contact_owner = $1", "answered" if yes else "none")
