"""What the router needs to know about operators right now: calls in progress and registered phones.

Pure state, no I/O, no clock: it is fed call facts (as a :class:`~pbx_bridge.call_facts.CallFactSink`,
beside the call records) and AMI events (beside the tracker), and answered from memory in
microseconds, so a route decision never waits on a query for it.

* **Load**: an operator is busy with a call from the moment their phone rings (a ringing phone is
  taken, so two calls at once are not both sent to it) until their leg or the call ends; the operator
  who places an outbound or internal call is busy in it too. Counted per call, not per leg.
* **Idle since**: when the operator's last call ended (the event's time), for "longest idle" ties.
* **Registration**: ``DeviceStateChange`` for ``PJSIP/<ext>`` (``UNAVAILABLE``/``INVALID`` = not
  registered, any other known state = registered), ``ContactStatus`` (an endpoint with no
  reachable contact left is unavailable) and ``ContactList`` items. Whatever came last wins.
* **Resync**: Asterisk reports states only when they change, so after every AMI login the client
  asks for all of them (``DeviceStateList``, ``PJSIPShowContacts``). ``FullyBooted`` (a fresh login
  or a PBX restart) forgets what was known and drops the calls, as the tracker does; once
  ``DeviceStateListComplete`` arrives the view is *complete*: an extension Asterisk did not list
  is not a phone it can ring. Until then (no AMI at all, or a user not allowed to ask) an
  extension we heard nothing about is *unknown* and treated as available: routing must not stop.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass

from pbx_bridge import ami_events as ev
from pbx_bridge import call_facts as cf

logger = logging.getLogger(__name__)

_UNAVAILABLE_STATES = frozenset({"UNAVAILABLE", "INVALID"})
_AVAILABLE_STATES = frozenset({"NOT_INUSE", "INUSE", "BUSY", "RINGING", "RINGINUSE", "ONHOLD"})
_CONTACT_GONE = frozenset({"Removed", "Unreachable"})
_CONTACT_UP = frozenset({"Created", "Reachable", "Updated", "NonQualified"})
#: A listed contact whose qualify has not run yet ("Unknown") is registered all the same.
_CONTACT_LISTED_UP = frozenset({"Reachable", "NonQualified", "Unknown"})
#: The key of the operator who started an outbound/internal call (they have no leg of their own).
_ORIGIN = "<origin>"
_DEVICE_TECHS = ("PJSIP/", "SIP/")


@dataclass(frozen=True, slots=True)
class LoadSnapshot:
    """A consistent copy for one route decision."""

    active_calls: Mapping[str, int]
    unavailable: frozenset[str]
    registered: frozenset[str]
    idle_since: Mapping[str, float]
    #: Asterisk listed every device since the last login: unknown extensions are not reachable.
    complete: bool = False

    def calls_of(self, extension: str) -> int:
        return self.active_calls.get(extension, 0)

    def is_available(self, extension: str) -> bool:
        """Registered; before a complete device list, also when nothing is known (see the module docstring)."""
        if extension in self.registered or extension in self.unavailable:
            return extension in self.registered
        return reachable(None, self.complete)


def reachable(registered: bool | None, complete: bool) -> bool:
    """The one rule: what Asterisk said wins; unknown counts as reachable until its list was complete."""
    return registered if registered is not None else not complete


def device_extension(device: str) -> str | None:
    """``PJSIP/101`` -> ``101``; queues, Local channels and anything else -> None."""
    for tech in _DEVICE_TECHS:
        if device.startswith(tech):
            name = device[len(tech):]
            return name if name and "/" not in name else None
    return None


class LiveLoad:
    """Fed by call facts (``on_fact``) and AMI events (``on_event``); read by the router."""

    def __init__(self) -> None:
        #: call id -> {leg channel (or the origin marker): operator extension}
        self._calls: dict[str, dict[str, str]] = {}
        self._idle_since: dict[str, float] = {}
        #: extension -> True (registered) / False (unavailable); absent = unknown
        self._registered: dict[str, bool] = {}
        #: endpoint -> URIs of its contacts that are up
        self._contacts: dict[str, set[str]] = {}
        #: Asterisk's DeviceStateList answered since the last FullyBooted
        self._complete = False

    # --- inputs ------------------------------------------------------------------------------

    def on_fact(self, fact: cf.CallFact) -> None:
        if isinstance(fact, cf.CallStarted):
            if fact.direction in (cf.Direction.OUTBOUND, cf.Direction.INTERNAL) and fact.caller:
                self._calls.setdefault(fact.call_id, {})[_ORIGIN] = fact.caller
        elif isinstance(fact, cf.LegRinging | cf.LegAnswered):
            if fact.extension:
                self._calls.setdefault(fact.call_id, {})[fact.channel] = fact.extension
        elif isinstance(fact, cf.LegEnded):
            legs = self._calls.get(fact.call_id)
            if legs is not None and fact.channel in legs:
                self._ended(legs.pop(fact.channel), fact.at)
        elif isinstance(fact, cf.CallEnded | cf.CallLost):
            for extension in self._calls.pop(fact.call_id, {}).values():
                self._ended(extension, fact.at)
        elif isinstance(fact, cf.LiveCallsResynced):
            for call_id in [c for c in self._calls if c not in fact.live_call_ids]:
                for extension in self._calls.pop(call_id).values():
                    self._ended(extension, fact.at)

    def on_event(self, event: ev.AmiEvent) -> None:
        if isinstance(event, ev.DeviceStateChange):
            extension = device_extension(event.device)
            if extension is None:
                return
            if event.state in _UNAVAILABLE_STATES:
                self._set_registered(extension, False)
            elif event.state in _AVAILABLE_STATES:
                self._set_registered(extension, True)
        elif isinstance(event, ev.ContactStatus):
            endpoint = event.endpoint_name or event.aor
            if not endpoint:
                return
            contacts = self._contacts.setdefault(endpoint, set())
            if event.contact_status in _CONTACT_GONE:
                contacts.discard(event.uri)
                if not contacts:
                    self._set_registered(endpoint, False)
            elif event.contact_status in _CONTACT_UP:
                contacts.add(event.uri)
                self._set_registered(endpoint, True)
        elif isinstance(event, ev.ContactListItem):
            endpoint = event.endpoint_name or event.aor
            if endpoint and event.status in _CONTACT_LISTED_UP:
                self._contacts.setdefault(endpoint, set()).add(event.uri)
                self._set_registered(endpoint, True)
        elif isinstance(event, ev.DeviceStateListComplete):
            self._complete = True
            logger.info("device states resynchronised: %d registered, %d unavailable",
                        sum(self._registered.values()), sum(not up for up in self._registered.values()))
        elif isinstance(event, ev.FullyBooted):
            if self._calls:
                logger.info("FullyBooted: forgetting %d calls in progress until resync", len(self._calls))
            self._calls.clear()
            # States seen before this login may be stale (a phone unregistered meanwhile): ask again.
            self._registered.clear()
            self._contacts.clear()
            self._complete = False

    def _ended(self, extension: str, at: float | None) -> None:
        if at is not None:
            self._idle_since[extension] = max(at, self._idle_since.get(extension, at))

    def _set_registered(self, extension: str, registered: bool) -> None:
        if self._registered.get(extension) is not registered:
            logger.info("extension %s is %s", extension, "registered" if registered else "unavailable")
        self._registered[extension] = registered

    # --- queries -----------------------------------------------------------------------------

    def active_calls(self, extension: str) -> int:
        """Calls the operator at ``extension`` is ringing for or talking in."""
        return sum(1 for legs in self._calls.values() if extension in legs.values())

    def load(self) -> dict[str, int]:
        """Extension -> calls in progress, for every extension with at least one."""
        out: dict[str, int] = {}
        for legs in self._calls.values():
            for extension in set(legs.values()):
                out[extension] = out.get(extension, 0) + 1
        return out

    def calls_by_extension(self) -> dict[str, set[str]]:
        """Extension -> ids of the calls it is in (to count an operator with several phones once per call)."""
        out: dict[str, set[str]] = {}
        for call_id, legs in self._calls.items():
            for extension in legs.values():
                out.setdefault(extension, set()).add(call_id)
        return out

    def registered(self, extension: str) -> bool | None:
        """True / False as Asterisk last said; None when it said nothing about this extension."""
        return self._registered.get(extension)

    def is_available(self, extension: str) -> bool:
        return reachable(self._registered.get(extension), self._complete)

    def idle_since(self, extension: str) -> float | None:
        return self._idle_since.get(extension)

    def snapshot(self) -> LoadSnapshot:
        return LoadSnapshot(
            active_calls=self.load(),
            unavailable=frozenset(ext for ext, up in self._registered.items() if not up),
            registered=frozenset(ext for ext, up in self._registered.items() if up),
            idle_since=dict(self._idle_since),
            complete=self._complete,
        )
