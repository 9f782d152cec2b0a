"""The contract between the dialplan (asterisk-conf/extensions.conf) and the FastAGI router.

One source of truth for the names both sides use: the AGI script name, the channel variables
the router sets, and the variables the dialplan passes in. A test reads extensions.conf and
checks it uses exactly these names, so the dialplan and the router cannot drift apart.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

#: `AGI(agi://HOST:PORT/route,...)`: the script name the router answers.
ROUTE_SCRIPT = "route"

#: Variables the router sets with `SET VARIABLE` (the dialplan reads them after the AGI).
VAR_TARGETS = "ROUTE_TARGETS"          # e.g. "PJSIP/101&PJSIP/102" (Dial() syntax), may be empty
VAR_RING_TIMEOUT = "RING_TIMEOUT"      # seconds for Dial()
VAR_FALLBACK = "ROUTE_FALLBACK"  # queue:sales, voicemail:general, dial:+79160000000, playback:SOUND, hangup

#: The kinds of fallback the dialplan's fallback subroutine understands (`KIND:ARGUMENT`, or `hangup`).
FALLBACK_KINDS = ("queue", "voicemail", "dial", "playback", "hangup")
VAR_REASON = "ROUTE_REASON"            # slug: responsible_manager, vip, urgent_order, did_rule, least_loaded, ...
VAR_CUSTOMER_ID = "ROUTE_CUSTOMER_ID"  # CRM customer id, or empty
VAR_CALLER_NAME = "CALLERID(name)"     # what the operator's phone shows

#: Variables the dialplan sets before the AGI and passes as AGI arguments.
VAR_DID = "DID"                        # the dialled shop number (set in from-trunk)
ARG_LINKEDID = 1                       # agi_arg_1: ${CHANNEL(linkedid)}
ARG_DID = 2                            # agi_arg_2: ${DID}
ARG_SECRET = 3                         # agi_arg_3: the shared secret (PEREZVON_AGI_SECRET), when one is set

#: What the dialplan checks when the AGI server was unreachable (Asterisk sets it).
AGISTATUS = "AGISTATUS"


@dataclass(frozen=True)
class RouteRequest:
    """What Asterisk told us about the call (from the AGI environment and arguments)."""

    caller_number: str
    caller_name: str
    did: str
    uniqueid: str
    linkedid: str
    channel: str
    restricted: bool = False  # agi_callingpres says the caller hid the number


@dataclass(frozen=True)
class RouteAnswer:
    """Where the call goes; each field becomes one `SET VARIABLE`."""

    targets: tuple[str, ...]   # dial strings in order, e.g. ("PJSIP/101",) or ("PJSIP/101", "PJSIP/102") for ring-all
    ring_timeout_s: int
    fallback: str
    reason: str
    customer_id: int | None = None
    caller_name: str | None = None

    def variables(self) -> list[tuple[str, str]]:
        """The (name, value) pairs to set, in the order the dialplan expects them."""
        pairs = [(VAR_TARGETS, "&".join(self.targets)), (VAR_RING_TIMEOUT, str(self.ring_timeout_s)),
                 (VAR_FALLBACK, self.fallback), (VAR_REASON, self.reason),
                 (VAR_CUSTOMER_ID, "" if self.customer_id is None else str(self.customer_id))]
        if self.caller_name:
            pairs.append((VAR_CALLER_NAME, self.caller_name))
        return pairs


class Router(Protocol):
    """Asked once per inbound call by the FastAGI server; implemented in the composition root."""

    async def route(self, request: RouteRequest) -> RouteAnswer: ...
