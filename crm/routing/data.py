"""Routing's database side on the hot path: load what the policy needs for one call, record what it decided.

`load_route_context` is asked on every inbound call, so it is ONE statement (one round trip): the
routing configuration (settings, active managers with extensions and groups, groups, rules,
schedules with upcoming holidays, numbers) as JSON columns, and the caller (customer by phone
primary key, their urgent open orders and latest managed order through `orders_customer`). A
router that wants less work per call caches `load_routing_config` for a second or two and passes it
as `config=`: then only the caller is read (a few index probes; the configuration with 200 managers
is most of the cost of the full statement).

`record_route_decision` writes the decision onto the call's row (keyed by Linkedid) without
touching what the call recorder (crm/calls.py) writes, in either order: the recorder never writes
the route_* columns, and this never overwrites the recorder's columns on an existing row.

The admin CRUD lives in crm/routing/config.py and crm/routing/schedules.py and is re-exported here,
so callers need only `from crm import routing_data`.
"""

from __future__ import annotations

import logging
from datetime import date, datetime
from typing import Any

from crm.calls import caller_name_of, caller_presentation, clean_raw
from crm.database import Pool
from crm.errors import InvalidInput, NotFound
from crm.models import DayHours, Holiday, RouteRecord, RoutingGroup, RoutingNumber, RoutingRule, RoutingSchedule
from crm.phones import try_normalize_phone
from crm.routing.config import (
    GroupInput,
    NumberInput,
    RoutingSettingsInput,
    RuleInput,
    create_group,
    create_rule,
    delete_group,
    delete_number,
    delete_rule,
    get_group,
    get_routing_settings,
    get_rule,
    get_urgent_statuses,
    list_groups,
    list_numbers,
    list_rules,
    save_number,
    set_group_members,
    set_urgent_statuses,
    settings_from_row,
    update_group,
    update_routing_settings,
    update_rule,
)
from crm.routing.hours import parse_hhmm
from crm.routing.policy import (
    CallerInfo,
    CallerOrder,
    ManagerCandidate,
    RouteContext,
    RouteDecision,
    RoutingConfig,
    digits_only,
    normalize_did,
)
from crm.routing.schedules import (
    ScheduleInput,
    add_holiday,
    create_schedule,
    delete_schedule,
    get_schedule,
    list_schedules,
    remove_holiday,
    update_schedule,
)
from crm.validation import strip_control_chars

log = logging.getLogger(__name__)

__all__ = [
    "GroupInput", "NumberInput", "RoutingSettingsInput", "RuleInput", "ScheduleInput", "add_holiday", "create_group",
    "create_rule", "create_schedule", "delete_group", "delete_number", "delete_rule", "delete_schedule", "get_group",
    "get_route_decision", "get_routing_settings", "get_rule", "get_schedule", "get_urgent_statuses", "list_groups",
    "list_numbers", "list_rules", "list_schedules", "load_caller", "load_route_context", "load_routing_config",
    "move_rule",
    "record_route_decision", "remove_holiday", "save_number", "set_group_members", "set_urgent_statuses",
    "update_group", "update_routing_settings", "update_rule", "update_schedule",
]

# Holidays more than two days back cannot matter to a call now, whatever the schedule's time zone.
CONFIG_COLUMNS = """
    (SELECT row_to_json(s) FROM routing_settings s) AS settings,
    (SELECT coalesce(json_agg(json_build_object(
        'id', m.id, 'name', m.display_name, 'role', m.role, 'softphone', m.softphone, 'vip', m.vip_capable,
        'seniority', m.seniority, 'cap', m.max_concurrent_calls, 'presence', m.presence,
        'since', m.presence_changed_at, 'ext', coalesce(e.list, '{}'), 'groups', coalesce(gm.list, '{}'))
        ORDER BY m.id), '[]')
     FROM managers m
     LEFT JOIN (SELECT manager_id, array_agg(extension ORDER BY extension) AS list FROM manager_extensions
                GROUP BY manager_id) e ON e.manager_id = m.id
     LEFT JOIN (SELECT manager_id, array_agg(group_id ORDER BY group_id) AS list FROM routing_group_members
                GROUP BY manager_id) gm ON gm.manager_id = m.id
     WHERE m.active) AS managers,
    (SELECT coalesce(json_agg(json_build_object(
        'id', g.id, 'name', g.name, 'queue', g.queue, 'ring', g.ring_timeout_s, 'members', coalesce(gm.list, '{}'),
        'ring_all', g.ring_all)
        ORDER BY g.id), '[]')
     FROM routing_groups g
     LEFT JOIN (SELECT group_id, array_agg(manager_id ORDER BY manager_id) AS list FROM routing_group_members
                GROUP BY group_id) gm ON gm.group_id = g.id) AS groups,
    (SELECT coalesce(json_agg(json_build_object(
        'id', r.id, 'position', r.position, 'did', r.did, 'channel', r.channel, 'kind', r.customer_kind,
        'region', r.region, 'group_id', r.group_id, 'group_name', g.name, 'note', r.note)
        ORDER BY r.position, r.id), '[]')
     FROM routing_rules r JOIN routing_groups g ON g.id = r.group_id) AS rules,
    (SELECT coalesce(json_agg(json_build_object(
        'id', s.id, 'did', s.did, 'tz', s.timezone, 'hours', s.hours, 'after', s.after_hours_target,
        'holidays', coalesce((SELECT json_agg(json_build_object('day', h.day, 'note', h.note) ORDER BY h.day)
                              FROM routing_holidays h
                              WHERE h.schedule_id = s.id AND h.day >= current_date - 2), '[]'))
        ORDER BY s.id), '[]')
     FROM routing_schedules s) AS schedules,
    (SELECT coalesce(json_agg(json_build_object('did', n.did, 'channel', n.channel, 'label', n.label)
                              ORDER BY n.did), '[]')
     FROM routing_numbers n) AS numbers
"""

CALLER_COLUMN = """
    (SELECT json_build_object(
        'id', c.id, 'name', c.name, 'kind', c.kind, 'vip', c.vip, 'region', c.region,
        'responsible', c.responsible_manager_id,
        'last_order', (SELECT json_build_object('id', o.id, 'number', o.number, 'manager_id', o.manager_id,
                                                'status', o.status)
                       FROM orders o WHERE o.customer_id = c.id AND o.manager_id IS NOT NULL
                       ORDER BY o.created_at DESC, o.id DESC LIMIT 1),
        'urgent', (SELECT coalesce(json_agg(u), '[]') FROM (
                       SELECT o.id, o.number, o.manager_id, o.status, st.title_ru, st.title_en
                       FROM orders o JOIN order_statuses st ON st.code = o.status
                       WHERE o.customer_id = c.id AND st.urgent_for_calls AND NOT st.is_final
                       ORDER BY o.status_changed_at DESC, o.id DESC LIMIT 3) u))
     FROM customer_phones p JOIN customers c ON c.id = p.customer_id WHERE p.e164 = $1) AS caller
"""

LOAD_CONTEXT = f"SELECT {CONFIG_COLUMNS}, {CALLER_COLUMN}"
LOAD_CONFIG = f"SELECT {CONFIG_COLUMNS}"
LOAD_CALLER = f"SELECT {CALLER_COLUMN}"


def _ts(value: str) -> datetime:
    return datetime.fromisoformat(value)


def _hours(raw: dict[str, Any]) -> tuple[DayHours, ...]:
    result = []
    for key, pair in sorted(raw.items()):
        opens, closes = (parse_hhmm(str(p)) for p in pair) if isinstance(pair, list) and len(pair) == 2 else (None,
                                                                                                               None)
        if key.isdigit() and 1 <= int(key) <= 7 and opens is not None and closes is not None:
            result.append(DayHours(int(key), opens, closes))
    return tuple(result)


def _config(row: Any) -> RoutingConfig:
    managers = tuple(ManagerCandidate(
        id=m["id"], display_name=m["name"], role=m["role"], extensions=tuple(m["ext"]), softphone=m["softphone"],
        vip_capable=m["vip"], seniority=m["seniority"], max_concurrent_calls=m["cap"], presence=m["presence"],
        presence_changed_at=_ts(m["since"]), group_ids=tuple(m["groups"])) for m in row["managers"])
    groups = tuple(RoutingGroup(g["id"], g["name"], g["queue"], g["ring"], tuple(g["members"]), g["ring_all"])
                   for g in row["groups"])
    rules = tuple(RoutingRule(r["id"], r["position"], r["did"], r["channel"], r["kind"], r["region"], r["group_id"],
                              r["group_name"], r["note"]) for r in row["rules"])
    schedules = tuple(RoutingSchedule(
        id=s["id"], did=s["did"], timezone=s["tz"], hours=_hours(s["hours"]), after_hours_target=s["after"],
        holidays=tuple(Holiday(date.fromisoformat(h["day"]), h["note"]) for h in s["holidays"]))
        for s in row["schedules"])
    numbers = tuple(RoutingNumber(n["did"], n["channel"], n["label"]) for n in row["numbers"])
    return RoutingConfig(settings_from_row(row["settings"]), managers, groups, rules, schedules, numbers)


def _order(raw: dict[str, Any]) -> CallerOrder:
    return CallerOrder(raw["id"], raw["number"], raw["manager_id"], raw["status"],
                       (raw.get("title_ru") or "", raw.get("title_en") or ""))


def _caller(raw: dict[str, Any] | None) -> CallerInfo | None:
    if raw is None:
        return None
    return CallerInfo(
        customer_id=raw["id"], name=raw["name"], kind=raw["kind"], vip=raw["vip"], region=raw["region"],
        responsible_manager_id=raw["responsible"],
        last_order=_order(raw["last_order"]) if raw["last_order"] else None,
        urgent_orders=tuple(_order(o) for o in raw["urgent"]))


async def load_routing_config(pool: Pool) -> RoutingConfig:
    """The whole routing configuration in one query (cacheable by a router for a few seconds)."""
    row = await pool.fetchrow(LOAD_CONFIG)
    assert row is not None
    return _config(row)


async def load_caller(pool: Pool, e164: str | None) -> CallerInfo | None:
    """The customer owning this E.164 number with their urgent open orders and latest managed order."""
    if e164 is None:
        return None
    raw: dict[str, Any] | None = await pool.fetchval(LOAD_CALLER, e164)
    return _caller(raw)


def caller_e164_of(caller_number: str, default_region: str = "RU") -> str | None:
    """The caller's E.164 number when the PBX's caller number parses as one ('anonymous' does not)."""
    text = strip_control_chars(caller_number).strip()[:64]
    return try_normalize_phone(text, default_region) if text else None


async def load_route_context(pool: Pool, caller_number: str, did: str, *, default_region: str = "RU",
                             config: RoutingConfig | None = None) -> RouteContext:
    """Everything `decide_route` needs for one inbound call, in one round trip.

    `caller_number` and `did` are raw, as the PBX gave them; the DID is normalised with
    `normalize_did` and the caller number to E.164 (an unparsable one means an unknown caller).
    With `config` (a router's cached `load_routing_config`), only the caller is read: the
    configuration is the bulk of the work with hundreds of managers.
    """
    e164 = caller_e164_of(caller_number, default_region)
    if config is None:
        row = await pool.fetchrow(LOAD_CONTEXT, e164)
        assert row is not None
        config, caller = _config(row), _caller(row["caller"])
    else:
        caller = await load_caller(pool, e164)
    return RouteContext(config=config, caller=caller, did=normalize_did(did, default_region),
                        caller_number=strip_control_chars(caller_number).strip()[:64], caller_e164=e164)


# ---- the decision on the call row ------------------------------------------------------------------------------

# A new row is a placeholder the recorder completes (its ON CONFLICT overwrites direction, caller,
# did and started_at from the PBX); an existing row keeps every recorder column. The customer is
# the first one linked; the order is routing's when it named one (an urgent order), since the
# recorder's own guess ("latest open order") only fills an empty order_id. The first decision on a call
# is final: a later route request with the same Linkedid (a replay, or a forged one) changes nothing.
RECORD_DECISION = """
INSERT INTO calls (linkedid, direction, caller, did, started_at, customer_id, customer_e164, order_id,
                   route_reason, route_targets, route_fallback, route_explain, route_manager_id, routed_at,
                   caller_name, caller_presentation)
VALUES ($1, 'inbound', $2, $3, $4, $5, $6, $7, $8, $9, $10, $11,
        (SELECT id FROM managers WHERE id = $12), $4, $13, $14)
ON CONFLICT (linkedid) DO UPDATE SET
    caller_name = EXCLUDED.caller_name, caller_presentation = EXCLUDED.caller_presentation,
    customer_id = coalesce(calls.customer_id, EXCLUDED.customer_id),
    customer_e164 = coalesce(calls.customer_e164, EXCLUDED.customer_e164),
    order_id = coalesce(EXCLUDED.order_id, calls.order_id),
    route_reason = EXCLUDED.route_reason, route_targets = EXCLUDED.route_targets,
    route_fallback = EXCLUDED.route_fallback, route_explain = EXCLUDED.route_explain,
    route_manager_id = EXCLUDED.route_manager_id, routed_at = EXCLUDED.routed_at
WHERE calls.route_reason = ''
"""


async def record_route_decision(pool: Pool, linkedid: str, decision: RouteDecision, *, at: datetime,
                                caller_number: str = "", did: str = "", dial: str | None = None,
                                caller_name: str = "", restricted: bool = False) -> None:
    """Store the decision on the call keyed by `linkedid`, before or after the recorder's facts.

    `at` is when the decision was made (the `now` given to the policy); `caller_number` / `did`
    fill a placeholder row when the recorder has not written the call yet; `dial` is the dial
    string the router answered (default: the targets' extensions joined with '&'). `caller_name` and
    `restricted` are the caller's identity as the network sent it (the AGI environment has it raw,
    before the router renames the caller for the operator's phone).
    """
    key = clean_raw(linkedid)
    if not key:
        return
    targets = dial if dial is not None else "&".join(e for t in decision.targets for e in t.extensions)
    first = decision.targets[0].manager_id if decision.targets else None
    await pool.execute(
        RECORD_DECISION, key, clean_raw(caller_number), digits_only(did)[:20], at, decision.customer_id,
        decision.customer_e164, decision.order_id, decision.reason, clean_raw(targets, 500),
        clean_raw(decision.fallback, 200), strip_control_chars(decision.explanation, multiline=True)[:4000], first,
        caller_name_of(caller_name, caller_number),
        caller_presentation(caller_number, restricted=restricted) if caller_number or restricted else "")


async def get_route_decision(pool: Pool, linkedid: str) -> RouteRecord | None:
    """What routing decided for the call, for the journal's "why did this call go there"; None if not routed."""
    row = await pool.fetchrow(
        """SELECT c.linkedid, c.route_reason, c.route_manager_id, m.display_name AS manager_name, c.route_targets,
                  c.route_fallback, c.route_explain, c.routed_at
           FROM calls c LEFT JOIN managers m ON m.id = c.route_manager_id
           WHERE c.linkedid = $1 AND c.route_reason <> ''""", linkedid)
    if row is None:
        return None
    return RouteRecord(linkedid=row["linkedid"], reason=row["route_reason"], manager_id=row["route_manager_id"],
                       manager_name=row["manager_name"], targets=row["route_targets"], fallback=row["route_fallback"],
                       explanation=row["route_explain"], routed_at=row["routed_at"])


# ---- rule order (the routing admin page's up / down buttons) --------------------------------------------------

MOVE_RULES = """
UPDATE routing_rules r SET position = n.pos * 10
FROM unnest($1::bigint[]) WITH ORDINALITY AS n(id, pos)
WHERE r.id = n.id
"""


async def move_rule(pool: Pool, rule_id: int, step: int) -> list[RoutingRule]:
    """Move a rule one place earlier (`step` -1) or later (+1) in the order rules are tried.

    All rules are renumbered 10, 20, 30... in their new order under a row lock, so equal positions
    (where the order would silently depend on ids) cannot survive a move, and two admins moving
    rules at once see one move after the other. Returns the rules in their new order.
    """
    if step not in (-1, 1):
        raise InvalidInput("step: -1 or 1")
    async with pool.acquire() as conn, conn.transaction():
        ids: list[int] = [r["id"] for r in await conn.fetch(
            "SELECT id FROM routing_rules ORDER BY position, id FOR UPDATE")]
        if rule_id not in ids:
            raise NotFound(f"no routing rule {rule_id}")
        here = ids.index(rule_id)
        there = here + step
        if 0 <= there < len(ids):
            ids[here], ids[there] = ids[there], ids[here]
            await conn.execute(MOVE_RULES, ids)
    return await list_rules(pool)
