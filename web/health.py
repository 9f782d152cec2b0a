"""`GET /healthz`: is everything that is configured working? For monitoring and load balancers.

`ok` (200) only when the database answers, the AMI connection is up (when an Asterisk is
configured) and the FastAGI router listens (when configured); otherwise `degraded` (503) with the
reasons. A dropped AMI connection is normal for a few seconds (Asterisk reloads, the client
reconnects with backoff), so AMI counts as a problem only after a grace period
(`PEREZVON_AMI_HEALTH_GRACE`); until then the body says `reconnecting` but the status stays `ok`.

The public answer names states only. Error texts (they may carry the AMI user name, addresses) and
the client's counters are for logged-in admins.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from crm import database
from web.keys import POOL, SETTINGS, TELEPHONY, USER


async def healthz(request: web.Request) -> web.Response:
    db_ok = await database.ping(request.app[POOL])
    telephony = request.app.get(TELEPHONY)
    problems: list[str] = [] if db_ok else ["database unreachable"]
    body: dict[str, Any] = {"db": "ok" if db_ok else "unreachable"}
    if telephony is None:
        body["ami"] = "disabled"
    else:
        grace_s = request.app[SETTINGS].ami.health_grace_s
        body.update(telephony.health())
        problems += telephony.problems(grace_s)
    user = request.get(USER)
    if user is None or user.role != "admin":
        body = {key: value for key, value in body.items() if key in PUBLIC_KEYS}
    elif telephony is not None:
        if telephony.ami is not None:
            body["ami_status"] = telephony.ami.status.as_dict()
        if telephony.live is not None:  # which desk phones Asterisk says are registered, as routing sees it
            body["phones_registered"] = sorted(telephony.live.snapshot().registered)
    status = "degraded" if problems else "ok"
    answer = {"status": status, **body}
    if problems:
        answer["problems"] = problems
    return web.json_response(answer, status=503 if problems else 200)


#: What anyone may read: states, no error texts or versions.
PUBLIC_KEYS = frozenset({"db", "ami", "agi", "ami_simulated"})
