"""The routing policy: where an inbound call goes, and why. Pure: no I/O, no clock (`now` is passed in).

`decide_route(context, live, now)` walks the steps below in order, skipping each that does not
apply, and returns a `RouteDecision` carrying a reason slug and a human explanation of every step
it passed ("why did this call go there"):

1. working hours / holidays of the DID's schedule (else the global one) -> `after_hours`;
2. an open order in a status flagged urgent -> that order's manager (`urgent_order`);
3. the sticky manager: the customer's responsible one, or (setting `last_order`) the manager of
   their latest order -> `responsible_manager`;
4. a VIP customer -> the most senior available VIP-capable manager (`vip`);
5. the first routing rule matching DID / sales channel / customer kind / region -> the least-loaded
   available member of its group (`did_rule`);
6. no rule -> the least-loaded available operator (`least_loaded`); nobody -> the group's queue
   (`queue`) or the default queue (`default_queue`).

A manager is *available* when active, online in the panel, with a phone Asterisk has not reported
unregistered (unknown counts as registered), and fewer active calls than their cap. The PBX side
supplies registration and load as plain inputs (`LiveState`); the CRM side as `RouteContext`
(crm/routing/data.py loads it).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from crm.models import CustomerKind, Role, RoutingGroup, RoutingNumber, RoutingRule, RoutingSchedule, RoutingSettings
from crm.phones import format_phone
from crm.routing.hours import is_open, schedule_for
from crm.routing.names import caller_display_name, digits_only, normalize_did

__all__ = ["CallerInfo", "CallerOrder", "LiveState", "ManagerCandidate", "ManagerTarget", "RouteContext",
           "RouteDecision", "RoutingConfig", "caller_display_name", "decide_route", "normalize_did", "digits_only"]

REASONS = ("after_hours", "urgent_order", "responsible_manager", "vip", "did_rule", "least_loaded", "queue",
           "default_queue")


# ---- inputs ---------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ManagerCandidate:
    """An active manager as routing sees them (inactive ones are not loaded)."""

    id: int
    display_name: str
    role: Role
    extensions: tuple[str, ...]
    softphone: bool
    vip_capable: bool
    seniority: int
    max_concurrent_calls: int
    presence: str
    presence_changed_at: datetime
    group_ids: tuple[int, ...] = ()


@dataclass(frozen=True)
class CallerOrder:
    id: int
    number: str
    manager_id: int | None
    status: str
    #: The status as people read it (Russian, English), for the explanation; the code when not loaded.
    status_titles: tuple[str, str] = ("", "")


@dataclass(frozen=True)
class CallerInfo:
    """The known customer behind the calling number."""

    customer_id: int
    name: str
    kind: CustomerKind
    vip: bool
    region: str
    responsible_manager_id: int | None
    #: The latest order that has a manager (for `sticky_source = 'last_order'`).
    last_order: CallerOrder | None = None
    #: Open orders in an `urgent_for_calls` status, most recently changed first (at most a few).
    urgent_orders: tuple[CallerOrder, ...] = ()


@dataclass(frozen=True)
class RoutingConfig:
    """Everything an admin configures; small, and safe for a router to cache for a few seconds."""

    settings: RoutingSettings
    managers: tuple[ManagerCandidate, ...] = ()
    groups: tuple[RoutingGroup, ...] = ()
    #: Ordered by position, then id.
    rules: tuple[RoutingRule, ...] = ()
    schedules: tuple[RoutingSchedule, ...] = ()
    numbers: tuple[RoutingNumber, ...] = ()


@dataclass(frozen=True)
class RouteContext:
    config: RoutingConfig
    caller: CallerInfo | None
    #: The dialled number, normalised with `normalize_did` (digits only).
    did: str
    #: The caller number as the PBX gave it (for display when unknown) and its E.164 form when it parses.
    caller_number: str
    caller_e164: str | None


@dataclass(frozen=True)
class LiveState:
    """What the PBX side knows right now."""

    #: manager id -> calls in progress (missing = 0).
    active_calls: Mapping[int, int] = field(default_factory=dict)
    #: Extensions Asterisk reports unregistered / unavailable (anything not listed counts as registered).
    unregistered: frozenset[str] = frozenset()
    #: manager id -> when their last call ended, for the longest-idle tie-break.
    last_call_end: Mapping[int, datetime] = field(default_factory=dict)


# ---- output ---------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ManagerTarget:
    """A manager to ring: all their registered extensions (and the web softphone when flagged) together."""

    manager_id: int
    display_name: str
    extensions: tuple[str, ...]
    softphone: bool
    #: The extension the web softphone answers as (the manager's first): colleagues dial, pick up and
    #: transfer to the same number, and the call record names it. None: no softphone, or no extension.
    softphone_extension: str | None = None


@dataclass(frozen=True)
class RouteDecision:
    #: Managers to ring, in order of preference (today the policy picks one; empty: go straight to `fallback`).
    targets: tuple[ManagerTarget, ...]
    ring_timeout_s: int
    #: After the targets: 'queue:NAME', or the after-hours target ('voicemail:NAME', 'dial:+NUMBER',
    #: 'playback:SOUND', 'hangup').
    fallback: str
    #: One of REASONS.
    reason: str
    #: Each step the policy passed, one line each ("why did this call go there").
    explanation: str
    customer_id: int | None
    customer_e164: str | None
    order_id: int | None
    order_number: str | None
    #: What the operator's phone shows, e.g. "Иванов И. · VIP · заказ 10234".
    caller_name: str
    #: The group whose rule matched, if any.
    group_id: int | None = None

    @property
    def after_hours(self) -> bool:
        return self.reason == "after_hours"


# ---- the policy -----------------------------------------------------------------------------------------------

_TEXT: Mapping[str, tuple[str, str]] = {
    "closed": ("Сейчас нерабочее время по {sched}: {target}.", "Outside the working hours of {sched}: {target}."),
    "open": ("Рабочее время по {sched}.", "Within the working hours of {sched}."),
    "no_schedule": ("Расписание не задано: звонки принимаются всегда.", "No schedule: calls are taken at any time."),
    "global_schedule": ("общему расписанию", "the shop's schedule"),
    "number_schedule": ("расписанию номера {number}", "the schedule of {number}"),
    "unknown": ("Номер не найден среди клиентов.", "The number belongs to no customer."),
    "known": ("Звонит клиент «{name}».", "The caller is the customer «{name}»."),
    "urgent_ok": ("У клиента срочный заказ № {order} в статусе «{status}»: звонок идёт его менеджеру {mgr}.",
                  "The customer has urgent order {order} in status «{status}»: the call goes to its manager {mgr}."),
    "urgent_no_mgr": ("У клиента срочный заказ № {order} в статусе «{status}», но у заказа нет менеджера.",
                      "The customer has urgent order {order} in status «{status}», but it has no manager."),
    "urgent_busy": ("У клиента срочный заказ № {order} в статусе «{status}», но его менеджер {mgr} сейчас "
                    "не может ответить: {why}.",
                    "The customer has urgent order {order} in status «{status}», but its manager {mgr} cannot "
                    "answer now: {why}."),
    "sticky_ok": ("{source} — {mgr}, и он свободен.", "{source} is {mgr}, who is available."),
    "sticky_busy": ("{source} — {mgr}, но сейчас не может ответить: {why}.",
                    "{source} is {mgr}, who cannot answer now: {why}."),
    "sticky_none": ("У клиента нет закреплённого менеджера.", "The customer has no manager of their own."),
    "responsible": ("Ответственный менеджер клиента", "The customer's responsible manager"),
    "last_order": ("Менеджер последнего заказа клиента", "The manager of the customer's latest order"),
    "vip_ok": ("VIP-клиент: звонок идёт самому опытному свободному VIP-менеджеру — {mgr}.",
               "VIP customer: the call goes to the most senior available VIP manager, {mgr}."),
    "vip_none": ("VIP-клиент, но свободных VIP-менеджеров сейчас нет.", "VIP customer, but no VIP manager is free."),
    "rule": ("Подошло правило маршрутизации{about}: звонок идёт группе «{group}».",
             "A routing rule matched{about}: the call goes to the group «{group}»."),
    "no_rule": ("Ни одно правило не подошло: звонок идёт всем операторам.",
                "No routing rule matched: the call goes to all operators."),
    "least_ok": ("Из свободных меньше всего занят {mgr}: звонков сейчас {load}, свободен с {idle}.",
                 "Of those available, {mgr} is the least busy: {load} calls now, free since {idle}."),
    "ring_all": ("Группа звонит всем свободным сразу: {mgrs}.",
                 "The group rings every available member at once: {mgrs}."),
    "nobody": ("Свободных менеджеров нет: звонок ждёт в очереди «{queue}».",
               "Nobody is available: the call waits in the queue «{queue}»."),
    "inactive": ("менеджер не активен или удалён", "the manager is inactive or deleted"),
    "unknown_manager": ("менеджер, которого нет среди активных", "a manager who is no longer active"),
    "presence_away": ("он отошёл", "they are away"),
    "presence_offline": ("он не в сети", "they are offline"),
    "unregistered": ("его телефон не зарегистрирован", "their phone is not registered"),
    "at_cap": ("он уже говорит ({load} из {cap} звонков)", "they are on {load} of {cap} calls"),
    "voicemail": ("голосовая почта «{name}»", "voicemail «{name}»"),
    "dial": ("переадресация на {number}", "forwarding to {number}"),
    "playback": ("сообщение «{name}»", "the message «{name}»"),
    "hangup": ("звонок завершается", "the call is ended"),
    "queue": ("очередь «{name}»", "the queue «{name}»"),
    "about_did": ("для номера {number}", "for number {number}"),
    "about_channel": ("для канала «{channel}»", "for the channel «{channel}»"),
    "about_kind": ("для клиентов-{kind}", "for {kind} customers"),
    "about_region": ("для региона «{region}»", "for the region «{region}»"),
    "about_note": ("«{note}»", "«{note}»"),
    "kind_person": ("частных лиц", "private"),
    "kind_company": ("компаний", "company"),
    "channel_site": ("сайт", "site"), "channel_landing": ("лендинг", "landing page"),
    "channel_app": ("приложение", "app"), "channel_phone": ("телефон", "phone"),
    "channel_marketplace": ("маркетплейс", "marketplace"), "channel_other": ("другое", "other"),
}


@dataclass(frozen=True)
class _Say:
    locale: str

    def __call__(self, key: str, **params: object) -> str:
        ru, en = _TEXT[key]
        return (en if self.locale == "en" else ru).format(**params)


def _phone(digits: str) -> str:
    """A DID or number as people write it (+7 495 123-45-01); the digits as they are when not a phone."""
    return format_phone("+" + digits.lstrip("+")) if digits.lstrip("+").isdigit() else digits


def _schedule_text(did: str, say: _Say) -> str:
    return say("number_schedule", number=_phone(did)) if did else say("global_schedule")


def fallback_text(target: str, say: _Say) -> str:
    """'voicemail:general' as words: «голосовая почта «general»»."""
    kind, _, value = target.partition(":")
    if kind == "dial":
        return say("dial", number=_phone(value))
    if kind in ("voicemail", "playback", "queue"):
        return say(kind, name=value)
    if target == "hangup":
        return say("hangup")
    return target


def _rule_about(rule: RoutingRule, say: _Say) -> str:
    parts = []
    if rule.note:
        parts.append(say("about_note", note=rule.note[:80]))
    if rule.did:
        parts.append(say("about_did", number=_phone(rule.did)))
    if rule.channel:
        parts.append(say("about_channel", channel=say("channel_" + rule.channel) if f"channel_{rule.channel}"
                         in _TEXT else rule.channel))
    if rule.customer_kind:
        parts.append(say("about_kind", kind=say("kind_" + rule.customer_kind) if f"kind_{rule.customer_kind}"
                         in _TEXT else rule.customer_kind))
    if rule.region:
        parts.append(say("about_region", region=rule.region[:60]))
    return (" " + ", ".join(parts)) if parts else ""


def _status_text(order: CallerOrder, say: _Say) -> str:
    ru, en = order.status_titles
    title = en if say.locale == "en" else ru
    return title or order.status


def _local_time(moment: datetime, zone_name: str) -> str:
    try:
        zone: tzinfo = ZoneInfo(zone_name)
    except (ZoneInfoNotFoundError, ValueError):
        zone = UTC
    local = moment.astimezone(zone)
    return local.strftime("%H:%M")


def _reachable_extensions(manager: ManagerCandidate, live: LiveState) -> tuple[str, ...]:
    return tuple(ext for ext in manager.extensions if ext not in live.unregistered)


def unavailable_because(manager: ManagerCandidate | None, live: LiveState, say: _Say) -> str | None:
    """Why the manager cannot take a call now, or None when they can."""
    if manager is None:
        return say("inactive")
    if manager.presence != "online":
        return say("presence_offline") if manager.presence == "offline" else say("presence_away")
    if not _reachable_extensions(manager, live) and not _softphone_extension(manager):
        return say("unregistered")
    load = live.active_calls.get(manager.id, 0)
    if load >= manager.max_concurrent_calls:
        return say("at_cap", load=load, cap=manager.max_concurrent_calls)
    return None


def _idle_since(manager: ManagerCandidate, live: LiveState) -> datetime:
    ended = live.last_call_end.get(manager.id)
    return manager.presence_changed_at if ended is None else max(ended, manager.presence_changed_at)


def _least_loaded_key(manager: ManagerCandidate, live: LiveState) -> tuple[int, datetime, int]:
    """Fewest calls in progress, then idle the longest (earliest idle-since), then the lowest id."""
    return live.active_calls.get(manager.id, 0), _idle_since(manager, live), manager.id


def _softphone_extension(manager: ManagerCandidate) -> str | None:
    """A softphone rings as the manager's first extension; without one it has no number to answer as."""
    return manager.extensions[0] if manager.softphone and manager.extensions else None


def _target(manager: ManagerCandidate, live: LiveState) -> ManagerTarget:
    return ManagerTarget(manager.id, manager.display_name, _reachable_extensions(manager, live), manager.softphone,
                         _softphone_extension(manager))


def match_rule(config: RoutingConfig, did: str, caller: CallerInfo | None) -> RoutingRule | None:
    """The first rule (by position, then id) whose non-empty fields all match the call."""
    channel = next((n.channel for n in config.numbers if n.did == did), "")
    kind = caller.kind if caller else ""
    region = caller.region.strip().casefold() if caller else ""
    for rule in sorted(config.rules, key=lambda r: (r.position, r.id)):
        if rule.did and rule.did != did:
            continue
        if rule.channel and rule.channel != channel:
            continue
        if rule.customer_kind and rule.customer_kind != kind:
            continue
        if rule.region and rule.region.strip().casefold() != region:
            continue
        return rule
    return None


def _sticky(caller: CallerInfo, settings: RoutingSettings) -> tuple[int | None, str]:
    """The sticky manager's id and which source named them; `last_order` falls back to the responsible one."""
    if settings.sticky_source == "last_order" and caller.last_order and caller.last_order.manager_id is not None:
        return caller.last_order.manager_id, "last_order"
    return caller.responsible_manager_id, "responsible"


def decide_route(context: RouteContext, live: LiveState, now: datetime, *, locale: str = "ru") -> RouteDecision:
    """Where the call goes and why; see the module docstring for the steps."""
    say = _Say(locale)
    config, caller, settings = context.config, context.caller, context.config.settings
    managers = {m.id: m for m in config.managers}
    urgent = caller.urgent_orders[0] if caller and caller.urgent_orders else None
    rule = match_rule(config, context.did, caller)
    group = next((g for g in config.groups if rule and g.id == rule.group_id), None)
    queue = group.queue if group and group.queue else settings.default_queue
    lines: list[str] = []

    def decide(reason: str, targets: tuple[ManagerTarget, ...] = (), fallback: str | None = None,
               order: CallerOrder | None = urgent) -> RouteDecision:
        return RouteDecision(
            targets=targets, ring_timeout_s=group.ring_timeout_s if group else settings.default_ring_timeout_s,
            fallback=fallback or f"queue:{queue}", reason=reason, explanation="\n".join(lines),
            customer_id=caller.customer_id if caller else None, customer_e164=context.caller_e164,
            order_id=order.id if order else None, order_number=order.number if order else None,
            caller_name=caller_display_name(caller, context.caller_number, context.caller_e164,
                                            order_number=order.number if order else None),
            group_id=group.id if group else None)

    # 1. Working hours.
    schedule = schedule_for(config.schedules, context.did)
    zone_name = schedule.timezone if schedule is not None else "Europe/Moscow"
    if schedule is None:
        lines.append(say("no_schedule"))
    elif not is_open(schedule, now):
        lines.append(say("closed", sched=_schedule_text(schedule.did, say),
                         target=fallback_text(schedule.after_hours_target, say)))
        return decide("after_hours", fallback=schedule.after_hours_target)
    else:
        lines.append(say("open", sched=_schedule_text(schedule.did, say)))
    if caller is None:
        lines.append(say("unknown"))
    else:
        lines.append(say("known", name=caller.name[:60]))
        # 2. Order-aware: an open order in an urgent status goes to its manager.
        for order in caller.urgent_orders:
            if order.manager_id is None:
                lines.append(say("urgent_no_mgr", order=order.number, status=_status_text(order, say)))
                continue
            manager = managers.get(order.manager_id)
            why = unavailable_because(manager, live, say)
            name = manager.display_name if manager else say("unknown_manager")
            status = _status_text(order, say)
            if why is None and manager is not None:
                lines.append(say("urgent_ok", order=order.number, status=status, mgr=name))
                return decide("urgent_order", (_target(manager, live),), order=order)
            lines.append(say("urgent_busy", order=order.number, status=status, mgr=name, why=why))
        # 3. Sticky: the responsible manager (or the latest order's).
        sticky_id, source = _sticky(caller, settings)
        if sticky_id is None:
            lines.append(say("sticky_none"))
        else:
            manager = managers.get(sticky_id)
            why = unavailable_because(manager, live, say)
            name = manager.display_name if manager else say("unknown_manager")
            if why is None and manager is not None:
                lines.append(say("sticky_ok", source=say(source), mgr=name))
                return decide("responsible_manager", (_target(manager, live),))
            lines.append(say("sticky_busy", source=say(source), mgr=name, why=why))
        # 4. VIP: the most senior available VIP-capable manager.
        if caller.vip:
            vips = [m for m in config.managers if m.vip_capable and unavailable_because(m, live, say) is None]
            if vips:
                best = min(vips, key=lambda m: (-m.seniority, *_least_loaded_key(m, live)))
                lines.append(say("vip_ok", mgr=best.display_name))
                return decide("vip", (_target(best, live),))
            lines.append(say("vip_none"))
    # 5. Rules pick a group; 6. the least-loaded available member (or operator), else the queue.
    if rule is not None:
        lines.append(say("rule", about=_rule_about(rule, say), group=group.name if group else rule.group_name))
        members = set(group.member_ids) if group else set()
        pool = [m for m in config.managers if m.id in members]
    else:
        lines.append(say("no_rule"))
        pool = [m for m in config.managers if m.role == "operator"]
    free = [m for m in pool if unavailable_because(m, live, say) is None]
    if free and group is not None and group.ring_all:
        together = sorted(free, key=lambda m: _least_loaded_key(m, live))
        lines.append(say("ring_all", mgrs=", ".join(m.display_name for m in together)))
        return decide("did_rule", tuple(_target(m, live) for m in together))
    if free:
        best = min(free, key=lambda m: _least_loaded_key(m, live))
        load, idle, _ = _least_loaded_key(best, live)
        lines.append(say("least_ok", mgr=best.display_name, load=load, idle=_local_time(idle, zone_name)))
        return decide("did_rule" if rule else "least_loaded", (_target(best, live),))
    lines.append(say("nobody", queue=queue))
    return decide("queue" if group and group.queue else "default_queue")
