"""What a ``Dial`` step asked to ring, and how its targets and the channels they make are matched.

Asterisk sends no DialBegin for a target it cannot make a channel for (an unregistered phone, an
unreachable trunk): the ``Newexten`` that ran ``Dial`` and ``DIALSTATUS`` are all that is left. The tracker
keeps the targets of the running Dial and, when it ends, makes a leg of each target no leg answered for.
Pure string rules, kept apart from the handlers.
"""

from __future__ import annotations

from pbx_bridge.audiosocket import legs as softphone_legs
from pbx_bridge.tracker_state import CallState

#: How far apart AMI may deliver a Dial step and its callee's DialBegin: it does not order the events of
#: different channels, and the callee's DialBegin may come a moment before the caller's Newexten.
DIAL_ORDER_SLACK_S = 1.0


def parse(app_data: str) -> list[str]:
    """``PJSIP/101&PJSIP/104,20,t`` -> ``["PJSIP/101", "PJSIP/104"]`` (only TECH/RESOURCE targets)."""
    targets = (t.strip() for t in app_data.split(",", 1)[0].split("&"))
    return [t for t in targets if "/" in t]


def channel_prefix(channel_name: str) -> str:
    """``PJSIP/104-0000000a`` -> ``PJSIP/104``: the device a channel belongs to (the endpoint may hold "-");
    ``AudioSocket/<server>-<uuid>`` -> ``AudioSocket/<uuid>`` (one softphone leg)."""
    softphone = softphone_legs.device(channel_name)
    if softphone:
        return softphone
    tech, _, rest = channel_name.partition("/")
    return f"{tech}/{rest.rsplit('-', 1)[0]}" if "-" in rest else channel_name


def target_prefix(target: str) -> str:
    """The device a dial target makes channels of: ``PJSIP/104`` -> ``PJSIP/104``,
    ``PJSIP/79161110013@trunk`` -> ``PJSIP/trunk`` (its channels are ``PJSIP/trunk-0000000b``),
    ``AudioSocket/<server>/<uuid>/c(slin)`` -> ``AudioSocket/<uuid>``."""
    softphone = softphone_legs.device(target)
    if softphone:
        return softphone
    tech, _, resource = target.partition("/")
    return f"{tech}/{resource.rsplit('@', 1)[-1]}"


def dialled_number(dial_string: str) -> str | None:
    """The number in a dial string: ``PJSIP/79161110013@trunk,45,Tb(...)`` -> ``79161110013``."""
    return dial_string.split("/", 1)[-1].split("@", 1)[0].split(",", 1)[0] or None


def has_leg_for(call: CallState, target: str, asked_at: float | None) -> bool:
    """A leg for this target began with the Dial asked at `asked_at` (or a moment before: AMI's order)."""
    prefix = target_prefix(target)
    return any(channel_prefix(leg.channel) == prefix and (
        asked_at is None or leg.began_at is None or leg.began_at >= asked_at - DIAL_ORDER_SLACK_S)
        for leg in call.legs.values())
