"""The caller's identity on the call: the network's caller-ID name and the presentation.

The FastAGI router sees both as Asterisk has them (agi_calleridname, agi_callingpres); the recorder sees
the name on the AMI (C-escaped). A hidden number (restricted presentation, or no number at all) links
to a customer the shop already has, but never becomes a new contact.
"""

from __future__ import annotations

from datetime import UTC, datetime

from crm import calls, customers
from crm.calls import CallStart, caller_presentation
from crm.customers import CustomerInput
from crm.database import Pool
from crm.models import Call
from crm.routing import data as routing_data
from crm.routing.policy import LiveState, decide_route
from pbx_bridge.agi_server import request_from_env
from pbx_bridge.ami_events import ChannelInfo, Newchannel, unescape
from pbx_bridge.call_facts import CallStarted
from pbx_bridge.call_tracker import CallTracker

NOON = datetime(2024, 5, 15, 9, 0, tzinfo=UTC)


async def _route_and_start(pool: Pool, linkedid: str, number: str, *, name: str = "", restricted: bool = False,
                           ami_name: str = "") -> Call:
    ctx = await routing_data.load_route_context(pool, number, "74950000001")
    decision = decide_route(ctx, LiveState(), NOON)
    await routing_data.record_route_decision(pool, linkedid, decision, at=NOON, caller_number=number, did="74950000001",
                                             caller_name=name, restricted=restricted)
    await calls.record_call_started(pool, CallStart(linkedid=linkedid, at=NOON, direction="inbound", caller=number,
                                                    dialled="74950000001", caller_name=ami_name))
    call = await calls.get_call(pool, linkedid)
    assert call is not None
    return call


def test_presentation_from_the_agi_environment() -> None:
    env = {"agi_callerid": "79161234567", "agi_calleridname": "Ivan", "agi_callingpres": "32",
           "agi_uniqueid": "1.1", "agi_arg_1": "1.1", "agi_arg_2": "74950000001"}
    request = request_from_env(env)
    assert request.restricted and request.caller_name == "Ivan"
    assert not request_from_env({**env, "agi_callingpres": "0"}).restricted
    assert not request_from_env({**env, "agi_callingpres": "junk"}).restricted


def test_presentation_words() -> None:
    assert caller_presentation("79161234567") == "allowed"
    assert caller_presentation("79161234567", restricted=True) == "restricted"
    for hidden in ("", None, "anonymous", "Anonymous", "unknown", "restricted", "private", "unavailable"):
        assert caller_presentation(hidden) == "anonymous", hidden


def test_ami_unescape() -> None:
    assert unescape(r"O\'Brien") == "O'Brien"
    assert unescape(r"a\\b") == "a\\b"
    assert unescape("Иванов") == "Иванов"
    # Asterisk's ast_escape_c: a BEL in the SIP display name arrives as "\a" (seen on the real Asterisk 22:
    # tests/fixtures/asterisk-22-perezvon/inbound_hostile_caller_name); it is a control character, not "a".
    assert unescape(r"Co\a\tX\?") == "Co\a\tX?"


async def test_restricted_number_never_becomes_a_new_contact(pool: Pool) -> None:
    call = await _route_and_start(pool, "1.1", "+79161110001", name="Private caller", restricted=True)
    assert call.caller_presentation == "restricted" and call.caller_name == "Private caller"
    assert call.customer_id is None and call.customer_e164 == "+79161110001"
    assert await pool.fetchval("SELECT count(*) FROM customers") == 0


async def test_restricted_number_of_a_known_customer_is_linked(pool: Pool) -> None:
    known = await customers.create_customer(pool, CustomerInput(name="Иванов", phones=("+79161110002",)))
    call = await _route_and_start(pool, "1.2", "+79161110002", restricted=True)
    assert call.caller_presentation == "restricted" and call.customer_id == known.id


async def test_names_that_say_nothing_are_not_kept(pool: Pool) -> None:
    call = await _route_and_start(pool, "1.3", "79161110003", name="79161110003")
    assert call.caller_name == "" and call.caller_presentation == "allowed"
    assert call.customer_id is not None  # an allowed number of nobody the shop knows: a new contact


async def test_the_ami_name_fills_in_when_the_router_did_not_see_the_call(pool: Pool) -> None:
    await calls.record_call_started(pool, CallStart(linkedid="1.4", at=NOON, direction="inbound",
                                                    caller="79161110004", dialled="74950000001",
                                                    caller_name="O'Brien \x1b[31m"))
    call = await calls.get_call(pool, "1.4")
    assert call is not None and call.caller_name == "O'Brien [31m" and call.caller_presentation == "allowed"


def test_the_tracker_keeps_the_name_without_amis_escapes() -> None:
    trunk = ChannelInfo(name="PJSIP/trunk-00000001", uniqueid="30.0", linkedid="30.0", state="Ring",
                        caller_num="79161110005", caller_name="O\\'Brien", connected_num="", context="from-trunk",
                        exten="74950000001")
    [started] = CallTracker().feed_all([Newchannel(timestamp=30.0, channel=trunk)])
    assert isinstance(started, CallStarted) and started.caller_name == "O'Brien"
