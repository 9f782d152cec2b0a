"""A click-to-call's progress as the operator sees it, from the call facts of the call it placed.

"Ringing you" (the operator's own phone rings first), "calling the customer" (they picked up; the
trunk leg is being dialled), "connected", or how it failed: the customer was busy, did not answer,
could not be reached, or the operator did not pick up their own phone.
"""

from __future__ import annotations

from pbx_bridge import call_facts as cf

RINGING_YOU = "ringing_you"
CALLING_CUSTOMER = "calling_customer"
CONNECTED = "connected"
BUSY = "busy"
NO_ANSWER = "no_answer"
FAILED = "failed"
YOU_DID_NOT_ANSWER = "you_did_not_answer"
#: Outcomes the final "ended" message keeps as its title (a connected call shows its talk time instead).
FAILURES = frozenset({BUSY, NO_ANSWER, FAILED, YOU_DID_NOT_ANSWER})


def progress_of(fact: cf.CallFact) -> str | None:
    """The progress a fact of a click-to-call call shows; None for facts that change nothing."""
    match fact:
        case cf.LegRinging():
            return RINGING_YOU if fact.extension else CALLING_CUSTOMER
        case cf.LegAnswered():
            return CALLING_CUSTOMER if fact.extension else CONNECTED
        case cf.LegEnded() if fact.dial_status.upper() != "ANSWER":
            if fact.extension:
                return YOU_DID_NOT_ANSWER
            return {"BUSY": BUSY, "NOANSWER": NO_ANSWER}.get(fact.dial_status.upper(), FAILED)
        case _:
            return None
