"""Click-to-call: ring the operator's own phone, then dial the customer with the shop's caller ID.

One AMI `Originate` into `asterisk-conf/`'s `[perezvon-originate]` context. perezvon picks the call id
and hands it to Asterisk as the Originate's `ChannelId`: the operator's channel is the call's first,
so its Uniqueid is the call's Linkedid, and the request row (`click_to_call`) links the call record
the tracker writes to the customer, task and order the button was pressed on.

Only the instance holding the AMI connection (web/ami_leader.py) can send the Originate. A request
that reaches another instance is written to the database there and handed over through
PostgreSQL NOTIFY (`ORIGINATE_CHANNEL`); the holder places it and answers on `RESULT_CHANNEL`, so
the button works whichever instance the load balancer picked.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from dataclasses import dataclass

from crm import customers, orders, tasks
from crm.database import Pool
from crm.errors import InvalidInput, PbxUnavailable, PhoneUnreachable
from crm.models import Manager
from crm.phones import format_phone, normalize_phone
from crm.routing.names import display_safe
from pbx_bridge.ami_actions import AmiError, Originate
from web.pg_listen import listen_forever
from web.telephony import Telephony

log = logging.getLogger(__name__)

CONTEXT = "perezvon-originate"
#: How long the operator's own phone rings before the attempt is given up (Originate's Timeout).
OPERATOR_RING_S = 30.0
ORIGINATE_CHANNEL = "perezvon_originate"
RESULT_CHANNEL = "perezvon_originate_result"
#: How long an instance without the AMI connection waits for the holder to place its request.
HANDOVER_WAIT_S = 10.0

INSERT_REQUEST = """
INSERT INTO click_to_call (linkedid, manager_id, extension, phone, customer_id, task_id, order_id)
VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id
"""


@dataclass(frozen=True)
class Placed:
    """A click-to-call Asterisk accepted: `call_id` is the Linkedid its call record will have."""

    call_id: str
    extension: str
    phone: str


@dataclass(frozen=True)
class _Request:
    linkedid: str
    extension: str
    phone: str
    caller_id: str


def caller_id(customer_name: str, e164: str) -> str:
    """What the operator's phone shows while it rings: the customer's name (phone-safe), else the number."""
    shown = display_safe(customer_name)[:40] or format_phone(e164)
    return f'"{shown}" <{e164.removeprefix("+")}>'


class ClickToCall:
    """Place calls for operators; `run()` (beside the service) serves requests handed over by other instances."""

    def __init__(self, pool: Pool, telephony: Telephony | None, dsn: str | None, *, default_region: str = "RU"
                 ) -> None:
        self._pool = pool
        self._telephony = telephony
        self._dsn = dsn
        self._region = default_region
        self._waiting: dict[str, asyncio.Future[str]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        #: Set while `run()` listens for handed-over requests and results.
        self.listening = asyncio.Event()

    async def place(self, user: Manager, phone: str | None, *, task_id: int | None = None,
                    order_id: int | None = None) -> Placed:
        """Ring `user`'s phone, then `phone` (or the customer of the task / order when no phone is given)."""
        customer_id, phone = await self._target(user, phone, task_id, order_id)
        e164 = normalize_phone(phone, self._region)
        extension = self._reachable_extension(user)
        customer = await customers.find_by_phone(self._pool, e164, default_region=self._region)
        request = _Request(linkedid=f"c2c-{uuid.uuid4().hex[:24]}", extension=extension, phone=e164,
                           caller_id=caller_id(customer.name if customer is not None else "", e164))
        await self._pool.execute(INSERT_REQUEST, request.linkedid, user.id, extension, e164,
                                 customer_id if customer_id is not None else (customer.id if customer else None),
                                 task_id, order_id)
        telephony = self._telephony
        if telephony is not None and telephony.standby:
            error = await self._hand_over(request.linkedid)
        else:
            error = await self._originate(request)
        if error:
            raise PbxUnavailable(error)
        log.info("click-to-call %s: %s rings extension %s, then %s", request.linkedid, user.login, extension,
                 format_phone(e164))
        return Placed(call_id=request.linkedid, extension=extension, phone=e164)

    async def _target(self, user: Manager, phone: str | None, task_id: int | None, order_id: int | None
                      ) -> tuple[int | None, str]:
        """The customer and number to call; the task and order must be the user's to see."""
        customer_id: int | None = None
        if task_id is not None:
            task = await tasks.get_task(self._pool, task_id, user)
            customer_id = task.customer_id
        if order_id is not None:
            order = await orders.get_order(self._pool, order_id, user)
            customer_id = customer_id or order.customer_id
        if phone:
            return customer_id, phone
        if customer_id is None:
            raise InvalidInput("give the phone to call, or a task or order with a customer")
        customer = await customers.get_customer(self._pool, customer_id, user)
        if not customer.phones:
            raise InvalidInput(f"{customer.name} has no phone number")
        return customer_id, customer.phones[0].e164

    def _reachable_extension(self, user: Manager) -> str:
        if not user.extensions:
            raise PhoneUnreachable("you have no phone extension: ask an admin to add one to your account")
        telephony = self._telephony
        if telephony is None or telephony.ami is None:
            raise PbxUnavailable("no Asterisk is configured: calls cannot be placed")
        if telephony.standby or telephony.live is None:
            return user.extensions[0]  # the holder knows which phones are registered; it places the call
        snapshot = telephony.live.snapshot()
        for extension in user.extensions:
            if extension in snapshot.registered:
                return extension
        if snapshot.complete or snapshot.unavailable:
            raise PhoneUnreachable(f"your phone ({', '.join(user.extensions)}) is not registered with the PBX: "
                                   "switch it on or check its network")
        return user.extensions[0]  # the PBX has not listed its phones yet: let Asterisk say

    async def _originate(self, request: _Request) -> str:
        """Send the Originate; '' when Asterisk queued it, else why not (also stored on the request)."""
        telephony = self._telephony
        if telephony is None or telephony.ami is None or telephony.standby:
            error = "the AMI connection is not held by this instance"
        elif telephony.ami.status.state != "connected":
            error = "the PBX is not connected (AMI down): try again in a moment"
        else:
            action = Originate(channel=f"PJSIP/{request.extension}", context=CONTEXT,
                               exten=request.phone.removeprefix("+"), caller_id=request.caller_id,
                               timeout_s=OPERATOR_RING_S, channel_id=request.linkedid,
                               variables={"PEREZVON_CLICK_TO_CALL": request.linkedid})
            try:
                await telephony.ami.send(action)
                error = ""
            except AmiError as exc:
                error = f"the PBX refused the call: {exc}"
        await self._pool.execute("UPDATE click_to_call SET state = $2, error = $3 WHERE linkedid = $1",
                                 request.linkedid, "refused" if error else "queued", error[:500])
        return error

    # --- handing requests to the instance that holds the AMI connection ----------------------------

    async def _hand_over(self, linkedid: str) -> str:
        future: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self._waiting[linkedid] = future
        try:
            await self._pool.execute("SELECT pg_notify($1, $2)", ORIGINATE_CHANNEL, linkedid)
            async with asyncio.timeout(HANDOVER_WAIT_S):
                return await future
        except TimeoutError:
            return "the instance holding the PBX connection did not answer: try again in a moment"
        finally:
            self._waiting.pop(linkedid, None)

    async def run(self) -> None:
        """Listen for handed-over requests (placed when this instance holds AMI) and for their results."""
        if self._dsn is not None:
            await listen_forever(self._dsn, {ORIGINATE_CHANNEL: self._on_request, RESULT_CHANNEL: self._on_result},
                                 ready=self.listening)

    def _on_request(self, payload: str) -> None:
        telephony = self._telephony
        if telephony is not None and telephony.ami is not None and not telephony.standby:
            task = asyncio.get_running_loop().create_task(self._place_handed_over(payload))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _place_handed_over(self, linkedid: str) -> None:
        row = await self._pool.fetchrow("SELECT c.*, cu.name AS customer_name FROM click_to_call c "
                                        "LEFT JOIN customers cu ON cu.id = c.customer_id "
                                        "WHERE c.linkedid = $1 AND c.state = 'pending'", linkedid[:64])
        if row is None:
            return
        error = await self._originate(_Request(linkedid=row["linkedid"], extension=row["extension"],
                                               phone=row["phone"],
                                               caller_id=caller_id(row["customer_name"] or "", row["phone"])))
        await self._pool.execute("SELECT pg_notify($1, $2)", RESULT_CHANNEL, f"{linkedid}\n{error}")

    def _on_result(self, payload: str) -> None:
        linkedid, _, error = payload.partition("\n")
        future = self._waiting.get(linkedid)
        if future is not None and not future.done():
            future.set_result(error)
