"""No call stays «Идёт» for ever: calls whose end the bridge did not see are closed with what is known.

The tracker reports Asterisk's full list of live calls after every login (``LiveCallsResynced``)
and gives up on calls whose Hangup never came (``CallLost``); the recorder closes the matching
records. A router-only row (FastAGI decided, no AMI event ever arrived) is closed the same way.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from aiohttp import web
from aiohttp.test_utils import TestClient

from crm import calls, lost_calls
from crm.database import Pool
from crm.models import Call
from crm.routing.data import record_route_decision
from crm.routing.policy import RouteDecision
from pbx_bridge import ami_events as ev
from pbx_bridge import call_facts as cf
from pbx_bridge.call_tracker import CallTracker
from pbx_bridge.tracker_state import TrackerSettings
from tests import calls_scenarios as sc
from tests.conftest import MakeManager, login

Client = TestClient[web.Request, web.Application]


def channel_info(uniqueid: str, linkedid: str, name: str) -> ev.ChannelInfo:
    return ev.ChannelInfo(name=name, uniqueid=uniqueid, linkedid=linkedid, state="Up", caller_num="101",
                          caller_name="", connected_num="", context="from-internal", exten="")


def test_resync_reports_the_whole_list_of_live_calls() -> None:
    tracker = CallTracker()
    tracker.feed(ev.FullyBooted(timestamp=None))
    tracker.feed(ev.CoreShowChannel(timestamp=None, channel=channel_info("9.7", "9.6", "PJSIP/101-00000007"),
                                    action_id="a", application="AppDial", application_data="(Outgoing Line)",
                                    duration_s=42, bridge_id="b1"))
    facts = tracker.feed(ev.CoreShowChannelsComplete(timestamp=None, action_id="a", list_items=1))
    assert facts[-1] == cf.LiveCallsResynced(at=None, live_call_ids=frozenset({"9.6"}))
    empty = tracker.feed(ev.CoreShowChannelsComplete(timestamp=None, action_id="b", list_items=0))
    assert [f for f in empty if isinstance(f, cf.LiveCallsResynced)][0].live_call_ids == frozenset({"9.6"})


def test_a_call_without_hangup_is_dropped_as_lost_after_the_bound() -> None:
    tracker = CallTracker(TrackerSettings(stale_call_s=3600))
    t0 = 1_800_000_000.0
    info = channel_info("5.0", "5.0", "PJSIP/trunk-00000001")
    tracker.feed(ev.Newchannel(timestamp=t0, channel=info))
    assert tracker.live_call_ids == ["5.0"]
    later = ev.Newchannel(timestamp=t0 + 3601, channel=channel_info("6.0", "6.0", "PJSIP/trunk-00000002"))
    facts = tracker.feed(later)
    assert cf.CallLost(call_id="5.0", at=t0 + 3601, reason=cf.LostReason.STALE) in facts
    assert tracker.live_call_ids == ["6.0"] and tracker.stats.calls_lost == 1


def decision(reason: str = "default_queue") -> RouteDecision:
    return RouteDecision(targets=(), ring_timeout_s=20, fallback="queue:sales", reason=reason,
                         explanation="test", customer_id=None, customer_e164=None, order_id=None,
                         order_number=None, caller_name="79161110001")


async def the_call(pool: Pool, linkedid: str) -> Call:
    call = await calls.get_call(pool, linkedid)
    assert call is not None, linkedid
    return call


async def test_calls_asterisk_no_longer_has_are_closed_once_with_what_is_known(
        pool: Pool, make_manager: MakeManager) -> None:
    await make_manager("operator", extensions=("101",))
    t = sc.T0
    answered = sc.inbound_answered(lid="1.1", t=t)[:3]          # answered by 101, the end never seen
    ringing = sc.inbound_answered(lid="1.2", t=t + 1)[:2]       # still ringing when the bridge went away
    live = sc.inbound_answered(lid="1.3", t=t + 2)[:3]          # Asterisk still has it
    await sc.record(pool, [*answered, *ringing, *live])
    # A call only the router saw: its decision was recorded, no AMI event followed.
    await record_route_decision(pool, "1.4", decision(), at=datetime.fromtimestamp(t + 3, UTC),
                                caller_number="79161110004", did=sc.DID)
    listed_at = datetime.fromtimestamp(t + 60, UTC)
    recorder = await sc.record(pool, [cf.LiveCallsResynced(at=t + 60, live_call_ids=frozenset({"1.3"}))])
    assert recorder.stats.written == 1

    first = await the_call(pool, "1.1")
    assert (first.outcome, first.closed_by, first.answered_by) == ("answered", "resync", "")
    assert first.ended_at == datetime.fromtimestamp(t + 2.011, UTC)  # the last moment known: the answer
    assert first.talk_s is None
    second = await the_call(pool, "1.2")
    assert (second.outcome, second.closed_by) == ("lost", "resync")
    assert all(leg.ended_at is not None for leg in second.legs)
    router_only = await the_call(pool, "1.4")
    assert (router_only.outcome, router_only.closed_by, router_only.route is not None) == ("lost", "resync", True)
    still_live = await the_call(pool, "1.3")
    assert (still_live.outcome, still_live.ended_at, still_live.closed_by) == (None, None, None)
    # Idempotent: the same list again closes nothing more.
    assert await lost_calls.close_vanished_calls(pool, frozenset({"1.3"}), listed_at) == []


async def test_a_real_end_after_all_overwrites_the_guess(pool: Pool, make_manager: MakeManager) -> None:
    await make_manager("operator", extensions=("101",))
    facts = sc.inbound_answered(lid="2.1")
    await sc.record(pool, facts[:3])
    await sc.record(pool, [cf.CallLost(call_id="2.1", at=sc.T0 + 10, reason=cf.LostReason.STALE)])
    lost = await the_call(pool, "2.1")
    assert (lost.outcome, lost.closed_by) == ("answered", "timeout")
    await sc.record(pool, facts[3:])
    real = await the_call(pool, "2.1")
    assert (real.outcome, real.closed_by, real.hung_up_by, real.talk_s) == ("answered", "pbx", "customer", 3.011)


async def test_the_sweep_closes_only_calls_open_past_the_bound(pool: Pool) -> None:
    now = datetime.now(UTC)
    await record_route_decision(pool, "3.1", decision(), at=now - timedelta(hours=7), caller_number="7916")
    await record_route_decision(pool, "3.2", decision(), at=now - timedelta(minutes=5), caller_number="7916")
    assert await lost_calls.close_stale_calls(pool, now - timedelta(hours=6)) == ["3.1"]
    assert (await the_call(pool, "3.1")).closed_by == "timeout"
    assert (await the_call(pool, "3.2")).ended_at is None


async def test_the_journal_says_the_end_was_not_seen(client: Client, pool: Pool, make_manager: MakeManager) -> None:
    head = await make_manager("supervisor")
    await sc.record(pool, sc.inbound_answered(lid="4.1")[:2])
    await sc.record(pool, [cf.LiveCallsResynced(at=sc.T0 + 60, live_call_ids=frozenset())])
    await login(client, head)
    page = await (await client.get("/calls")).text()
    assert "Конец не виден" in page and "call-lost" in page
