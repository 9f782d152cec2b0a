"""Calls that end up in the `sales` queue on the real Asterisk: no answer, queue answered, abandoned, timeout.

The router's answer decides how a call reaches `Queue(sales,tr,,,${QUEUE_TIMEOUT})`: either the
operator it chose rings out (the routed Dial's ring timeout, here a group's 5 s) and
`[perezvon-fallback]` takes the call to the queue, or the DID's group has no reachable member
(105's desk phone is never registered) and the router answers "queue" at once. The queue
(asterisk-conf/queues.conf: 101..103, rrmemory, 15 s per member) rings only registered phones,
so each test registers exactly the member it wants rung, a different one per test (the queue's
5 s wrap-up time after a queue call is then never in the way).
"""

from __future__ import annotations

from pathlib import Path

from crm.database import Pool
from pbx_bridge.simulator.scenarios import CallParams
from tests.pbx.ami_capture import AmiCapture
from tests.pbx.asterisk_process import Asterisk
from tests.pbx.conftest import Phones
from tests.pbx.expected_calls import assert_record_matches
from tests.pbx.phones import PhoneBehaviour
from tests.pbx.provider import InboundCall, call_in
from tests.pbx.records import wait_for_calls, wait_for_cdr, wait_for_queue_events
from tests.pbx.service_process import Service
from tests.pbx.simulator_twin import assert_simulator_agrees
from tests.pbx.test_calls_groups import add_group_rule, wait_for_route

#: extensions.conf's QUEUE_TIMEOUT: how long Queue() holds a caller nobody answers.
QUEUE_TIMEOUT_S = 120
#: queues.conf's `timeout` (a member rings this long per round) and `retry` (the pause between rounds).
MEMBER_TIMEOUT_S, RETRY_S = 15, 2


async def _queue_only(perezvon: Service, name: str, did: str) -> None:
    """A DID rule to a group whose only member (105) has no registered phone: the router answers `queue`."""
    await add_group_rule(perezvon, name, did, ("105",), ring_all=False)
    await wait_for_route(perezvon, did, set())


async def test_inbound_no_answer_then_the_caller_gives_up_in_the_queue(
        asterisk: Asterisk, perezvon: Service, phones: Phones, workdir: Path, pool: Pool) -> None:
    """The router's choice (101, group ring timeout 5 s) rings out; the fallback queue rings 101 again;
    the customer hangs up 9 s after the queue's ringing (the queue's 180 restarts sipp's cancel timer)."""
    did = "74951234593"
    phone = await phones.start("101", PhoneBehaviour(mode="ring"))
    await add_group_rule(perezvon, "No answer 101", did, ("101",), ring_all=False, ring_timeout_s=5)
    await wait_for_route(perezvon, did, {"PJSIP/101"})

    call = await call_in(asterisk, InboundCall(caller="79161110061", did=did, mode="cancel", cancel_ms=9000), workdir)
    assert await call.finish(timeout_s=120) == 0, call.sipp.describe()
    await call.wait_event("cancelled")
    await phone.wait_event("cancelled")

    [record] = await wait_for_calls(perezvon, "+79161110061", timeout_s=60)
    assert (record["outcome"], record["reason"], record["hung_up_by"]) == ("missed", "abandoned", "customer"), record
    assert record["answered_by"] in ("", None) and record["talk_s"] in (0, None), record
    assert record["route"]["reason"] == "did_rule" and record["queue"] == "sales", record
    assert [(leg["extension"], leg["result"]) for leg in record["legs"]] == [
        ("101", "no_answer"), ("101", "cancelled")], record
    assert abs(record["legs"][0]["ring_s"] - 5.0) <= 1.0, record  # the group's ring timeout
    assert abs(record["ring_s"] - 14.0) <= 1.0, record  # 5 s routed Dial + 9 s in the queue

    rows = await wait_for_cdr(asterisk.scratch.cdr_csv, record["linkedid"])
    assert [(row["lastapp"], row["dstchannel"][:10], row["disposition"]) for row in rows] == [
        ("Dial", "PJSIP/101-", "NO ANSWER"), ("Queue", "PJSIP/101-", "NO ANSWER")], rows
    assert rows[0]["lastdata"] == "PJSIP/101,5,t", rows
    events = await wait_for_queue_events(asterisk.scratch.queue_log, record["linkedid"], "ABANDON")
    assert [row[3:5] for row in events] == [["NONE", "ENTERQUEUE"], ["Operator 101", "RINGCANCELED"],
                                            ["NONE", "ABANDON"]], events
    await assert_simulator_agrees(pool, record, "inbound_no_answer_then_queue_abandoned", CallParams(
        customer="79161110061", first_ring_s=record["legs"][0]["ring_s"],
        ring_s=record["ring_s"] - record["legs"][0]["ring_s"]))


async def test_queue_answered(asterisk: Asterisk, perezvon: Service, phones: Phones, workdir: Path,
                              pool: Pool) -> None:
    did = "74951234594"
    phone = await phones.start("102", PhoneBehaviour(mode="answer", answer_ms=1500))
    await _queue_only(perezvon, "Queue answered", did)

    async with AmiCapture.open(asterisk, keep_in=workdir) as ami:
        call = await call_in(asterisk, InboundCall(caller="79161110062", did=did, talk_ms=2000), workdir)
        assert await call.finish(timeout_s=120) == 0, call.sipp.describe()
        await phone.wait_event("other side hung up")
        [record] = await wait_for_calls(perezvon, "+79161110062", timeout_s=60)
        expected = {"outcome": "answered", "answered_by": "102", "hung_up_by": "customer", "queue": "sales",
                    "queue_position": 1, "legs": [["102", "answered"]]}
        assert_record_matches(record, expected)
        await ami.save("queue_answered", expected, linkedids=[record["linkedid"]],
                       scenario="the DID's group has nobody reachable: the router sends the call to the sales "
                                "queue, which rings 102; 102 answers after 1.5 s; the customer hangs up")
    assert (record["outcome"], record["answered_by"], record["hung_up_by"]) == ("answered", "102", "customer"), record
    assert record["route"]["reason"] == "queue" and record["queue"] == "sales", record
    assert [(leg["extension"], leg["result"]) for leg in record["legs"]] == [("102", "answered")], record
    assert abs(record["ring_s"] - 1.5) <= 1.0 and abs(record["talk_s"] - 2.0) <= 1.0, record
    # The queue's own figures: first in line on joining and on leaving, waited until 102 answered
    # (AgentConnect's HoldTime, whole seconds).
    assert (record["queue_position"], record["queue_left_position"]) == (1, 1), record
    assert abs(record["queue_hold_s"] - 1.5) <= 1.0, record

    rows = await wait_for_cdr(asterisk.scratch.cdr_csv, record["linkedid"])
    [row] = rows
    assert (row["lastapp"], row["dstchannel"][:10], row["disposition"]) == ("Queue", "PJSIP/102-", "ANSWERED"), rows
    assert abs(int(row["billsec"]) - record["talk_s"]) <= 1.0, (rows, record)
    events = await wait_for_queue_events(asterisk.scratch.queue_log, record["linkedid"], "COMPLETECALLER")
    assert [row[3:5] for row in events] == [["NONE", "ENTERQUEUE"], ["Operator 102", "CONNECT"],
                                            ["Operator 102", "COMPLETECALLER"]], events
    await assert_simulator_agrees(pool, record, "queue_answered", CallParams(
        customer="79161110062", extensions=("102",), ring_s=record["ring_s"], talk_s=record["talk_s"]))


async def test_queue_abandoned(asterisk: Asterisk, perezvon: Service, phones: Phones, workdir: Path,
                               pool: Pool) -> None:
    did = "74951234595"
    phone = await phones.start("103", PhoneBehaviour(mode="ring"))
    await _queue_only(perezvon, "Queue abandoned", did)

    call = await call_in(asterisk, InboundCall(caller="79161110063", did=did, mode="cancel", cancel_ms=3000), workdir)
    assert await call.finish(timeout_s=120) == 0, call.sipp.describe()
    await call.wait_event("cancelled")
    await phone.wait_event("cancelled")

    [record] = await wait_for_calls(perezvon, "+79161110063", timeout_s=60)
    assert (record["outcome"], record["reason"], record["hung_up_by"]) == ("missed", "abandoned", "customer"), record
    assert record["answered_by"] in ("", None) and record["talk_s"] in (0, None), record
    assert record["route"]["reason"] == "queue" and record["queue"] == "sales", record
    assert [(leg["extension"], leg["result"]) for leg in record["legs"]] == [("103", "cancelled")], record
    assert abs(record["ring_s"] - 3.0) <= 1.0, record
    assert (record["queue_position"], record["queue_left_position"]) == (1, 1), record
    assert abs(record["queue_hold_s"] - 3.0) <= 1.0, record  # QueueCallerAbandon's HoldTime

    rows = await wait_for_cdr(asterisk.scratch.cdr_csv, record["linkedid"])
    [row] = rows
    assert (row["lastapp"], row["dstchannel"][:10], row["disposition"]) == ("Queue", "PJSIP/103-", "NO ANSWER"), rows
    events = await wait_for_queue_events(asterisk.scratch.queue_log, record["linkedid"], "ABANDON")
    assert [row[3:5] for row in events] == [["NONE", "ENTERQUEUE"], ["Operator 103", "RINGCANCELED"],
                                            ["NONE", "ABANDON"]], events
    await assert_simulator_agrees(pool, record, "queue_abandoned", CallParams(
        customer="79161110063", extensions=("103",), ring_s=record["ring_s"]))


async def test_queue_timeout_ends_in_voicemail(asterisk: Asterisk, perezvon: Service, phones: Phones,
                                               workdir: Path, pool: Pool) -> None:
    """102 rings 15 s per round, 2 s apart, until the queue's 120 s are up; then VoiceMail(general,u)
    answers and the customer hangs up after 3 s. Slow (about 125 s) because QUEUE_TIMEOUT is 120 s."""
    did = "74951234596"
    voicemail_s = 3.0
    await phones.start("102", PhoneBehaviour(mode="ring"))
    await _queue_only(perezvon, "Queue timeout", did)

    call = await call_in(asterisk, InboundCall(caller="79161110064", did=did, mode="hangup",
                                               talk_ms=round(voicemail_s * 1000)), workdir)
    await call.wait_event("answered", timeout_s=QUEUE_TIMEOUT_S + 60)  # VoiceMail answers after the queue gave up
    assert await call.finish(timeout_s=60) == 0, call.sipp.describe()

    [record] = await wait_for_calls(perezvon, "+79161110064", timeout_s=60)
    assert (record["outcome"], record["reason"]) == ("missed", "queue_timeout"), record
    assert record["hung_up_by"] == "customer", record
    assert record["answered_by"] in ("", None) and record["talk_s"] in (0, None), record
    assert record["route"]["reason"] == "queue" and record["queue"] == "sales", record
    # One leg per round. app_queue counts its timeout in whole seconds, so whether a last 1 s round
    # starts at 119 s depends on where in its second the call arrived: 7 or 8 rounds.
    legs = [(leg["extension"], leg["result"]) for leg in record["legs"]]
    assert legs in ([("102", "no_answer")] * 7, [("102", "no_answer")] * 8), record
    # perezvon counts the time in voicemail as ringing too (no operator answered).
    assert abs(record["ring_s"] - (QUEUE_TIMEOUT_S + voicemail_s)) <= 1.0, record

    rows = await wait_for_cdr(asterisk.scratch.cdr_csv, record["linkedid"])
    assert [row["lastapp"] for row in rows] == ["Queue"] * len(legs) + ["VoiceMail"], rows
    assert {row["disposition"] for row in rows[:-1]} == {"NO ANSWER"}, rows
    assert all(row["dstchannel"].startswith("PJSIP/102-") for row in rows[:-1]), rows
    assert rows[-1]["disposition"] == "ANSWERED" and rows[-1]["lastdata"] == "general,u", rows
    events = await wait_for_queue_events(asterisk.scratch.queue_log, record["linkedid"], "EXITWITHTIMEOUT")
    assert [row[3:5] for row in events] == [["NONE", "ENTERQUEUE"], *[["Operator 102", "RINGNOANSWER"]] * len(legs),
                                            ["NONE", "EXITWITHTIMEOUT"]], events
    assert abs(int(events[-1][7]) - QUEUE_TIMEOUT_S) <= 1, events  # the caller's wait
    # The simulator plays the same rounds from the time the caller waited in the queue.
    await assert_simulator_agrees(pool, record, "queue_timeout", CallParams(
        customer="79161110064", extensions=("102",), ring_s=record["ring_s"] - voicemail_s, talk_s=voicemail_s,
        member_timeout_s=MEMBER_TIMEOUT_S, retry_s=RETRY_S))
