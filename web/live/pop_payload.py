"""The screen-pop as JSON: the caller's card in the operator's language, small enough for one NOTIFY.

Pure: a `crm.screen_pop.CallerCard` in, a dict out. Everything the browser shows is text made
here (translated, times in the shop's zone, phones formatted, money with thin spaces), and the
browser puts it on the page with `textContent` only, so a hostile caller-ID name stays text.
Free text is bounded (a 10 KB caller name arrives as 80 characters), and `fit` drops the least
useful lists first when a card would not fit in PostgreSQL's 8000-byte NOTIFY payload.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, tzinfo
from typing import Any

from crm.calls import HIDDEN
from crm.models import Call, Order, Task
from crm.phones import format_phone
from crm.routing.names import display_safe
from crm.screen_pop import CallerCard
from web.live.bus import MAX_PAYLOAD

Translate = Callable[[str], str]
Money = Callable[[Any], str]

NAME_CHARS = 80
NOTE_CHARS = 160
TITLE_CHARS = 100
#: What `fit` removes, in order, until the message fits.
_TRIM_ORDER = ("notes", "calls", "latest_orders", "tasks", "open_orders")


def bounded(text: str | None, limit: int) -> str:
    """Control characters out, at most `limit` characters (an ellipsis says when cut)."""
    cleaned = "".join(ch if ch.isprintable() else " " for ch in (text or "")).strip()
    return cleaned if len(cleaned) <= limit else cleaned[: limit - 1].rstrip() + "…"


def _duration(seconds: float, _: Translate) -> str:
    minutes = int(seconds // 60)
    if minutes < 60:
        return f"{minutes} {_('min')}"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} {_('h')} {minutes} {_('min')}"
    return f"{hours // 24} {_('d')}"


def _when(value: datetime | None, zone: tzinfo) -> str:
    return "" if value is None else value.astimezone(zone).strftime("%d.%m.%Y %H:%M")


def _order(order: Order, card: CallerCard, now: datetime, _: Translate, money: Money, locale: str) -> dict[str, Any]:
    status = next((s for s in card.workflow.statuses if s.code == order.status), None)
    in_status = max(0.0, (now - order.status_changed_at).total_seconds())
    limit = status.time_limit if status is not None else None
    title = order.status if status is None else (status.title_ru if locale == "ru" else status.title_en)
    return {"id": order.id, "number": bounded(order.number, 40), "status": title,
            "total": f"{money(order.total)} {order.currency}", "in_status": _duration(in_status, _),
            "overdue": limit is not None and in_status > limit.total_seconds(), "url": f"/orders/{order.id}"}


def _task(task: Task, now: datetime, zone: tzinfo, _: Translate) -> dict[str, Any]:
    return {"id": task.id, "kind": _("task." + task.kind), "title": bounded(task.title, TITLE_CHARS),
            "due": _when(task.due_at, zone), "overdue": task.is_overdue(now)}


def _past_call(call: Call, zone: tzinfo, _: Translate) -> dict[str, Any]:
    if call.outcome == "answered":
        outcome = _("Answered")
    elif call.outcome == "missed":
        outcome = _("Missed") + (f": {_('call.' + call.reason)}" if call.reason else "")
    elif call.outcome == "lost":
        outcome = _("End not seen")
    else:
        outcome = _("In progress")
    return {"at": _when(call.started_at, zone), "direction": _("call." + call.direction),
            "outcome": outcome, "missed": call.outcome == "missed", "operator": bounded(call.manager_name, NAME_CHARS)}


def routing_reason(card: CallerCard, _: Translate) -> str:
    """Why the call came here, as words ("VIP client", "responsible manager"); '' for calls not routed by us."""
    route = card.call.route
    if route is None or not route.reason:
        return ""
    key = "route." + route.reason
    label = _(key)
    return "" if label == key else label[:1].upper() + label[1:]


def pop_message(card: CallerCard, *, state: str, locale: str, translate: Translate, money: Money, zone: tzinfo,
                now: datetime) -> dict[str, Any]:
    """The `pop` message for one operator."""
    _ = translate
    call, customer = card.call, card.customer
    number = call.customer_e164 or ""
    hidden = call.caller_presentation in HIDDEN or not call.caller
    caller = format_phone(number) if number else (_("Hidden number") if hidden else
                                                  bounded(display_safe(call.caller), 40))
    body: dict[str, Any] = {
        "type": "pop", "call": call.linkedid, "state": state, "direction": call.direction,
        "caller": caller, "caller_name": bounded(display_safe(call.caller_name or ""), NAME_CHARS),
        "reason": routing_reason(card, _), "started_at": call.started_at.timestamp(),
        "customer": None, "open_orders": [], "latest_orders": [], "tasks": [], "calls": [], "notes": [],
    }
    if customer is not None:
        body["customer"] = {
            "id": customer.id, "name": bounded(customer.name, NAME_CHARS), "vip": customer.vip,
            "responsible": bounded(customer.responsible_manager_name, NAME_CHARS), "new": card.new_contact,
            "url": f"/customers/{customer.id}", "edit_url": f"/customers/{customer.id}/edit",
            "new_order_url": f"/customers/{customer.id}/orders/new"}
        body["open_orders"] = [_order(o, card, now, _, money, locale) for o in card.open_orders[:5]]
        body["latest_orders"] = [_order(o, card, now, _, money, locale) for o in card.latest_orders
                                 if o not in card.open_orders][:5]
        body["tasks"] = [_task(t, now, zone, _) for t in card.open_tasks]
        body["calls"] = [_past_call(c, zone, _) for c in card.recent_calls]
        body["notes"] = [{"body": bounded(n.body, NOTE_CHARS), "author": bounded(n.author_name, NAME_CHARS),
                          "at": _when(n.created_at, zone)} for n in card.notes]
    return fit(body)


def fit(message: dict[str, Any], limit: int = MAX_PAYLOAD - 200) -> dict[str, Any]:
    """The message with its least useful lists emptied until its JSON is under `limit` bytes."""
    def size() -> int:
        return len(json.dumps(message, ensure_ascii=False, separators=(",", ":")).encode())

    for key in _TRIM_ORDER:
        if size() <= limit:
            break
        message[key] = []
    return message
