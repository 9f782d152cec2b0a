"""The caller's card an operator sees while their phone rings (the screen-pop), and who is being rung.

The pop must be on screen before the operator answers, so it is one small read of what the card
shows in full: the customer (or the contact just made for an unknown number), why routing sent the
call here, open and latest orders with their status and time in it, open tasks (callbacks first),
the last calls and notes. It is read after the call record holds the ringing leg (web/live), so
the customer linked to the call — new contacts included — is already there.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from crm import calls, customers, orders, tasks
from crm.database import Pool
from crm.errors import NotFound
from crm.models import Call, Customer, Note, Order, Task
from crm.routing.names import PLACEHOLDER_PREFIX
from crm.workflow import StatusWorkflow

LATEST_ORDERS = 5
OPEN_TASKS = 5
RECENT_CALLS = 5
NOTES = 3


@dataclass(frozen=True)
class CallerCard:
    """Everything the pop shows for one call; `customer` is None for a hidden or unparsable number."""

    call: Call
    customer: Customer | None
    open_orders: tuple[Order, ...]
    latest_orders: tuple[Order, ...]
    open_tasks: tuple[Task, ...]
    recent_calls: tuple[Call, ...]
    notes: tuple[Note, ...]
    workflow: StatusWorkflow

    @property
    def new_contact(self) -> bool:
        """The contact was made by the call recorder for an unknown number: the pop offers rename / new order."""
        return self.customer is not None and self.customer.name.startswith(PLACEHOLDER_PREFIX)


# The operators a live call is ringing or talking to now: their panels show its pop after a reconnect.
LIVE_POPS_SQL = """
SELECT DISTINCT ON (c.id) c.linkedid, l.answered_at IS NOT NULL AS answered
FROM calls c JOIN call_legs l ON l.call_id = c.id
WHERE c.outcome IS NULL AND l.manager_id = $1 AND l.ended_at IS NULL
ORDER BY c.id, l.answered_at DESC NULLS LAST
"""

MANAGER_OF_LEG_SQL = """
SELECT l.manager_id FROM call_legs l JOIN calls c ON c.id = l.call_id
WHERE c.linkedid = $1 AND l.channel = $2
"""


async def caller_card(pool: Pool, linkedid: str, workflow: StatusWorkflow | None = None) -> CallerCard | None:
    """The pop of a call (None when the call is not recorded: nothing to show yet).

    Access is the call's: whoever the call rings sees its caller, even a customer they are not
    responsible for, since they are about to talk to them. `workflow`: the order statuses, when
    the caller keeps them (they change rarely; one query less per pop).
    """
    call = await calls.get_call(pool, linkedid)
    if call is None:
        return None
    workflow = workflow or await orders.load_workflow(pool)
    if call.customer_id is None:
        return CallerCard(call, None, (), (), (), (), (), workflow)
    try:
        customer = await customers.get_customer(pool, call.customer_id)
    except NotFound:
        return CallerCard(call, None, (), (), (), (), (), workflow)
    customer_orders, open_tasks, recent, notes = await asyncio.gather(
        orders.list_customer_orders(pool, customer.id, limit=50),
        tasks.open_customer_tasks(pool, customer.id, limit=OPEN_TASKS),
        calls.list_customer_calls(pool, customer.id, limit=RECENT_CALLS + 1),
        customers.list_notes(pool, customer.id))
    finals = {s.code for s in workflow.statuses if s.is_final}
    return CallerCard(
        call=call, customer=customer,
        open_orders=tuple(o for o in customer_orders if o.status not in finals),
        latest_orders=tuple(customer_orders[:LATEST_ORDERS]),
        open_tasks=tuple(open_tasks),
        recent_calls=tuple(c for c in recent if c.linkedid != linkedid)[:RECENT_CALLS],
        notes=tuple(notes[:NOTES]), workflow=workflow)


async def live_pops(pool: Pool, manager_id: int) -> list[tuple[str, bool]]:
    """(linkedid, answered) of the live calls ringing or connected to this manager now."""
    rows = await pool.fetch(LIVE_POPS_SQL, manager_id)
    return [(r["linkedid"], r["answered"]) for r in rows]


async def manager_of_leg(pool: Pool, linkedid: str, channel: str) -> int | None:
    """The manager a recorded leg rang (the extension's owner when it rang), None for a trunk leg."""
    value = await pool.fetchval(MANAGER_OF_LEG_SQL, linkedid, channel[:200])
    return None if value is None else int(value)


async def click_to_call_requester(pool: Pool, linkedid: str) -> int | None:
    """The manager who placed this click-to-call (None: an Originate perezvon did not send)."""
    value = await pool.fetchval("SELECT manager_id FROM click_to_call WHERE linkedid = $1", linkedid[:64])
    return None if value is None else int(value)
