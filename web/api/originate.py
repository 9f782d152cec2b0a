"""`POST /api/v1/calls/originate`: click-to-call for the panel's call buttons and for integrations.

The caller is the logged-in manager (session + CSRF header, or a bearer token): their own phone
rings first, then the customer is dialled with the shop's caller ID. `phone` may be left out when
`task_id` or `order_id` names a customer with a phone. Answered 202 with the call id: the call's
progress then arrives on the panel's live connection, and its record (`GET /api/v1/calls`) carries
the task and order it was placed from.
"""

from __future__ import annotations

from aiohttp import web

from web.api.json_io import Body, json_response
from web.click_to_call import ClickToCall
from web.keys import current_user

FIELDS = ("phone", "task_id", "order_id")
CLICK_TO_CALL = web.AppKey("click_to_call", ClickToCall)


async def originate(request: web.Request) -> web.Response:
    user = current_user(request)
    body = await Body.read(request, FIELDS)
    placed = await request.app[CLICK_TO_CALL].place(user, body.opt_text("phone"), task_id=body.opt_id("task_id"),
                                                    order_id=body.opt_id("order_id"))
    return json_response({"call_id": placed.call_id, "extension": placed.extension, "phone": placed.phone,
                          "state": "ringing_you"}, status=202)


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_post("/api/v1/calls/originate", originate)
