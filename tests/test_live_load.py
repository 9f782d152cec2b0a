"""LiveLoad: calls in progress per operator and registered phones, from call facts and AMI events."""

from __future__ import annotations

from pbx_bridge import ami_events as ev
from pbx_bridge import call_facts as cf
from pbx_bridge.call_tracker import CallTracker
from pbx_bridge.live_load import LiveLoad, device_extension
from tests.tracker_helpers import capture_events


def ringing(call: str, channel: str, ext: str, at: float = 1.0) -> cf.LegRinging:
    return cf.LegRinging(call_id=call, at=at, channel=channel, extension=ext, number=None)


def leg_ended(call: str, channel: str, ext: str, at: float = 2.0, status: str = "CANCEL") -> cf.LegEnded:
    return cf.LegEnded(call_id=call, at=at, channel=channel, extension=ext, number=None, dial_status=status,
                       ring_s=1.0)


def call_ended(call: str, at: float = 3.0) -> cf.CallEnded:
    return cf.CallEnded(call_id=call, at=at, direction=cf.Direction.INBOUND, outcome=cf.Outcome.ANSWERED,
                        reason=None, answered_by="101", operator="101", customer_number="79161110001",
                        hung_up_by=cf.HungUpBy.CUSTOMER, hung_up_by_extension=None, ring_s=1.0, talk_s=2.0)


def device(name: str, state: str) -> ev.DeviceStateChange:
    return ev.DeviceStateChange(timestamp=1.0, device=name, state=state)


def contact(endpoint: str, uri: str, status: str) -> ev.ContactStatus:
    return ev.ContactStatus(timestamp=1.0, uri=uri, contact_status=status, aor=endpoint, endpoint_name=endpoint)


def test_ringing_and_talking_count_until_the_leg_or_call_ends() -> None:
    live = LiveLoad()
    live.on_fact(ringing("c1", "PJSIP/101-1", "101"))
    live.on_fact(ringing("c1", "PJSIP/102-2", "102"))
    live.on_fact(ringing("c2", "PJSIP/101-3", "101"))
    assert live.load() == {"101": 2, "102": 1}
    live.on_fact(cf.LegAnswered(call_id="c1", at=1.5, channel="PJSIP/101-1", extension="101", number=None,
                                ring_s=0.5))
    live.on_fact(leg_ended("c1", "PJSIP/102-2", "102", at=1.5))  # ring-all loser
    assert live.load() == {"101": 2}
    assert live.idle_since("102") == 1.5
    live.on_fact(call_ended("c1", at=9.0))
    assert live.active_calls("101") == 1 and live.idle_since("101") == 9.0
    live.on_fact(call_ended("c2", at=7.0))
    assert live.load() == {} and live.idle_since("101") == 9.0  # the later end wins


def test_two_legs_of_one_call_count_once_and_trunk_legs_not_at_all() -> None:
    live = LiveLoad()
    live.on_fact(ringing("c1", "PJSIP/101-1", "101"))
    live.on_fact(leg_ended("c1", "PJSIP/101-1", "101", status="NOANSWER"))
    live.on_fact(ringing("c1", "PJSIP/101-5", "101"))
    live.on_fact(ringing("c1", "PJSIP/101-6", "101"))
    live.on_fact(cf.LegRinging(call_id="c1", at=1.0, channel="PJSIP/trunk-7", extension=None, number="7916"))
    assert live.load() == {"101": 1}


def test_the_operator_placing_a_call_is_busy_in_it() -> None:
    live = LiveLoad()
    live.on_fact(cf.CallStarted(call_id="o1", at=1.0, direction=cf.Direction.OUTBOUND, caller="103",
                                dialled="79161110001"))
    live.on_fact(cf.CallStarted(call_id="i1", at=1.0, direction=cf.Direction.INBOUND, caller="79161110002",
                                dialled="74951234501"))
    assert live.load() == {"103": 1}
    live.on_fact(call_ended("o1"))
    assert live.load() == {}


def test_fully_booted_forgets_calls_and_registration_until_the_device_list() -> None:
    """A phone unregistered while we were away must not count as reachable after the next login."""
    live = LiveLoad()
    live.on_fact(ringing("c1", "PJSIP/101-1", "101"))
    live.on_event(device("PJSIP/102", "NOT_INUSE"))
    live.on_event(device("PJSIP/103", "NOT_INUSE"))
    live.on_event(ev.FullyBooted(timestamp=None))
    assert live.load() == {} and live.registered("102") is None
    # The client's DeviceStateList after login: 102 is gone, 103 still there, 104 never listed.
    live.on_event(device("PJSIP/102", "UNAVAILABLE"))
    live.on_event(device("PJSIP/103", "NOT_INUSE"))
    assert live.is_available("104"), "before the list is complete, unknown counts as reachable"
    live.on_event(ev.DeviceStateListComplete(timestamp=None, action_id="a1", list_items=2))
    snapshot = live.snapshot()
    assert snapshot.complete
    assert [ext for ext in ("102", "103", "104") if snapshot.is_available(ext)] == ["103"]
    assert [ext for ext in ("102", "103", "104") if live.is_available(ext)] == ["103"]


def test_contact_list_marks_registered_endpoints() -> None:
    live = LiveLoad()
    live.on_event(ev.ContactListItem(timestamp=None, uri="sip:105@127.0.0.1:5072", status="Reachable",
                                     aor="105", endpoint_name="105"))
    live.on_event(ev.ContactListItem(timestamp=None, uri="sip:106@127.0.0.1:5073", status="Unreachable",
                                     aor="106", endpoint_name=""))
    assert live.registered("105") is True and live.registered("106") is None


def test_device_state_sets_registration() -> None:
    live = LiveLoad()
    assert live.registered("101") is None and live.is_available("101")
    live.on_event(device("PJSIP/101", "UNAVAILABLE"))
    live.on_event(device("Queue:sales-rr_avail", "NOT_INUSE"))
    live.on_event(device("PJSIP/102", "INUSE"))
    assert live.registered("101") is False and not live.is_available("101")
    assert live.registered("102") is True
    live.on_event(device("PJSIP/101", "NOT_INUSE"))
    live.on_event(device("PJSIP/102", "UNKNOWN"))  # says nothing: keep what we knew
    assert live.registered("101") is True and live.registered("102") is True
    snap = live.snapshot()
    assert snap.unavailable == frozenset() and snap.registered == {"101", "102"}


def test_contact_status_needs_every_contact_gone() -> None:
    live = LiveLoad()
    live.on_event(contact("101", "sip:101@10.0.0.5:5060", "Created"))
    live.on_event(contact("101", "sip:101@10.0.0.6:5060", "Reachable"))
    live.on_event(contact("101", "sip:101@10.0.0.5:5060", "Removed"))
    assert live.registered("101") is True
    live.on_event(contact("101", "sip:101@10.0.0.6:5060", "Unreachable"))
    assert live.registered("101") is False
    assert live.snapshot().unavailable == {"101"}
    assert not live.snapshot().is_available("101") and live.snapshot().is_available("999")


def test_device_extension() -> None:
    assert device_extension("PJSIP/101") == "101"
    assert device_extension("SIP/alice") == "alice"
    assert device_extension("Queue:sales-rr_avail") is None
    assert device_extension("Local/101@from-internal") is None
    assert device_extension("PJSIP/") is None


def test_replayed_capture_leaves_nobody_busy() -> None:
    """Facts from a real Asterisk 22 ring-all call: both ring, then the call ends and both are free."""
    live = LiveLoad()
    loads: list[dict[str, int]] = []

    class Sink:
        def on_fact(self, fact: cf.CallFact) -> None:
            live.on_fact(fact)
            loads.append(live.load())

    tracker = CallTracker(sink=Sink())
    for event in capture_events("inbound_ringall_two_operators"):
        tracker.feed(event)
        live.on_event(event)
    assert {"101": 1, "102": 1} in loads
    assert live.load() == {}
    assert live.idle_since("101") is not None and live.idle_since("102") is not None
