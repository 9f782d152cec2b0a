"""Calls made while perezvon was down, on the real Asterisk: rebuilt from Asterisk's own CDR, each once.

The tier runs what asterisk-conf/README.md and README "After an outage" tell an admin to run: `perezvon
db serve` keeps perezvon's embedded PostgreSQL up, and Asterisk's cdr_pgsql writes every CDR into it, so
the CDRs of calls made while `perezvon serve` is stopped are there when it starts again. At that login
perezvon records the gap and builds the missed calls from those rows (`recovered: true`).

* perezvon stopped: a call answered (through the `sales` queue: the dialplan's fallback when the router
  is down), a call abandoned while the queue rang an operator, a call nobody could take (voicemail);
  perezvon started: each call once, with the outcome, answered_by and durations the CDR gives;
* half seen: a call answered while perezvon ran, perezvon stopped mid-call, the call ends, perezvon
  starts: the record it had (closed `lost`... by the resync) is completed from the CDR, in the same row.
No simulator twin: recovery reads CDR rows, which the simulator does not write.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from tests.pbx.asterisk_process import Asterisk
from tests.pbx.conftest import Phones
from tests.pbx.phones import PhoneBehaviour
from tests.pbx.provider import InboundCall, call_in
from tests.pbx.records import Call, wait_for_calls
from tests.pbx.service_process import Service, admin_health, stop_service
from tests.pbx.test_calls_outage import restart_in_place


def _recovered(call: Call) -> bool:
    return bool(call.get("recovered")) and call.get("outcome") is not None


async def test_calls_made_while_perezvon_was_down_are_recovered_once(
        asterisk: Asterisk, perezvon: Service, phones: Phones, workdir: Path) -> None:
    answering = await phones.start("101", PhoneBehaviour(mode="answer", answer_ms=1000))  # a member of sales
    stopped_at = datetime.now(UTC)
    assert await stop_service(perezvon) == 0, perezvon.log()[-3000:]
    try:
        answered = await call_in(asterisk, InboundCall(caller="79161110071", talk_ms=3000), workdir, name="answered")
        assert await answered.finish() == 0, answered.sipp.describe()
        await phones.stop(answering)
        await phones.start("102", PhoneBehaviour(mode="ring"))
        abandoned = await call_in(asterisk, InboundCall(caller="79161110072", mode="cancel", cancel_ms=3000),
                                  workdir, name="abandoned")
        assert await abandoned.finish() == 0, abandoned.sipp.describe()
        await phones.stop_all()
        voicemail = await call_in(asterisk, InboundCall(caller="79161110073", talk_ms=2000), workdir,
                                  name="voicemail")
        assert await voicemail.finish() == 0, voicemail.sipp.describe()
    finally:
        await restart_in_place(perezvon)

    [got] = await wait_for_calls(perezvon, "+79161110071", done=_recovered)
    assert (got["direction"], got["did"], got["outcome"], got["answered_by"]) == (
        "inbound", "74951234500", "answered", "101"), got
    assert got["closed_by"] == "pbx" and got["queue"] == "sales" and got["route"] is None, got
    assert 0.9 <= got["ring_s"] <= 2.5 and abs(got["talk_s"] - 3.0) <= 0.5, got  # the phone answers after 1 s
    assert [(leg["extension"], leg["result"]) for leg in got["legs"]] == [("101", "answered")], got
    assert got["hung_up_by"] is None, got  # the CDR does not say who hung up

    [gone] = await wait_for_calls(perezvon, "+79161110072", done=_recovered)
    assert (gone["outcome"], gone["reason"], gone["answered_by"]) == ("missed", "abandoned", ""), gone
    assert [(leg["extension"], leg["result"]) for leg in gone["legs"]] == [("102", "cancelled")], gone
    assert 2.9 <= gone["ring_s"] <= 4.5 and gone["talk_s"] == 0, gone  # the customer gives up after 3 s

    [left] = await wait_for_calls(perezvon, "+79161110073", done=_recovered)
    assert (left["outcome"], left["reason"], left["legs"]) == ("missed", "abandoned", []), left
    assert 1.9 <= left["ring_s"] <= 3.5, left  # the whole call, voicemail included

    for record in (got, gone, left):  # a new contact each (unknown numbers), as a live call makes
        assert record["customer_id"] is not None and record["customer_e164"], record
    gaps = (await admin_health(perezvon))["pbx_gaps"]
    latest = gaps[0]
    assert datetime.fromisoformat(latest["lost_at"]) <= stopped_at < datetime.fromisoformat(latest["regained_at"])
    assert latest["calls_recovered"] >= 3 and latest["error"] == "" and latest["backfilled_at"], gaps


async def test_a_call_half_seen_before_perezvon_stopped_is_completed_not_duplicated(
        asterisk: Asterisk, perezvon: Service, phones: Phones, workdir: Path) -> None:
    await phones.start("103", PhoneBehaviour(mode="answer", answer_ms=500))
    call = await call_in(asterisk, InboundCall(caller="79161110074", talk_ms=6000), workdir)
    await call.wait_event("answered")
    [live] = await wait_for_calls(perezvon, "+79161110074", done=lambda c: c.get("answered_at") is not None)
    assert live["ended_at"] is None, live
    assert await stop_service(perezvon) == 0, perezvon.log()[-3000:]
    try:
        assert await call.finish() == 0, call.sipp.describe()
    finally:
        await restart_in_place(perezvon)

    [record] = await wait_for_calls(perezvon, "+79161110074", done=_recovered)
    assert record["id"] == live["id"] and record["linkedid"] == live["linkedid"], (live, record)
    assert (record["outcome"], record["answered_by"], record["closed_by"]) == ("answered", "103", "pbx"), record
    assert abs(record["talk_s"] - 6.0) <= 0.5, record
    assert record["started_at"] == live["started_at"], (live, record)  # the start seen live is kept
    assert [(leg["extension"], leg["result"]) for leg in record["legs"]] == [("103", "answered")], record
    assert record["route"] is not None, record  # what the live call had is kept
