"""`GET /healthz`: is everything that is configured working? For monitoring and load balancers.

`ok` (200) only when the database answers, the AMI connection is up (when an Asterisk is
configured) and the FastAGI router listens (when configured); otherwise `degraded` (503) with the
reasons. A dropped AMI connection is normal for a few seconds (Asterisk reloads, the client
reconnects with backoff), so AMI counts as a problem only after a grace period
(`PEREZVON_AMI_HEALTH_GRACE`); until then the body says `reconnecting` but the status stays `ok`.

The public answer names states only. Error texts (they may carry the AMI user name, addresses), the
client's counters and the latest gaps in the AMI connection (`pbx_gaps`: lost at, regained at, calls
recovered from Asterisk's CDR) are for logged-in admins.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from crm import database
from crm.recovery import store as recovery_store
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
        if telephony.ami is not None and db_ok:  # the latest times perezvon was without the AMI (crm/recovery)
            body["pbx_gaps"] = [_gap(gap) for gap in await recovery_store.recent_gaps(request.app[POOL], 5)]
    status = "degraded" if problems else "ok"
    answer = {"status": status, **body}
    if problems:
        answer["problems"] = problems
    return web.json_response(answer, status=503 if problems else 200)


def _gap(gap: recovery_store.Gap) -> dict[str, Any]:
    return {"lost_at": gap.lost_at.isoformat(), "regained_at": gap.regained_at.isoformat(),
            "seconds": round(gap.seconds, 1), "calls_recovered": gap.calls_recovered,
            "calls_completed": gap.calls_completed,
            "backfilled_at": gap.backfilled_at.isoformat() if gap.backfilled_at else None, "error": gap.error}


#: What anyone may read: states, no error texts or versions.
PUBLIC_KEYS = frozenset({"db", "ami", "agi", "ami_simulated"})
