"""Inbound calls through the real Asterisk, the real dialplan and the real perezvon router and call record.

The provider (sipp on 127.0.0.2) calls the shop's number; the dialplan asks perezvon's FastAGI router;
the operator's desk phone (sipp) rings and answers. Each test reads the call back through
`GET /api/v1/calls`, and checks that Asterisk's own CDR (cdr_custom's CSV) tells the same story.
Each test calls from its own number, so tests never read each other's calls.
"""

from __future__ import annotations

import io
import wave
from datetime import UTC, datetime
from pathlib import Path

from crm.calls import clean_raw
from crm.database import Pool
from pbx_bridge.simulator.scenarios import CallParams
from tests.pbx.ami_capture import AmiCapture
from tests.pbx.asterisk_process import Asterisk
from tests.pbx.conftest import Phones
from tests.pbx.expected_calls import assert_record_matches
from tests.pbx.phones import PhoneBehaviour
from tests.pbx.provider import InboundCall, call_in
from tests.pbx.records import wait_for_calls, wait_for_cdr, wait_for_queue_events, wait_for_recording_state
from tests.pbx.service_process import Service, admin_download
from tests.pbx.simulator_twin import assert_simulator_agrees


async def test_inbound_answered_customer_hangs_up(asterisk: Asterisk, perezvon: Service, phones: Phones,
                                                   workdir: Path, pool: Pool) -> None:
    phone = await phones.start("101", PhoneBehaviour(mode="answer", answer_ms=500))
    call = await call_in(asterisk, InboundCall(caller="79161110001", talk_ms=2000, mode="hangup"), workdir)
    assert await call.finish() == 0, call.sipp.describe()
    await phone.wait_event("other side hung up")

    [record] = await wait_for_calls(perezvon, "+79161110001")
    assert record["direction"] == "inbound", record
    assert record["outcome"] == "answered", record
    assert record["answered_by"] == "101", record
    assert record["hung_up_by"] == "customer", record
    assert abs(record["talk_s"] - 2.0) <= 1.0, record
    assert record["did"] == "74951234500", record

    rows = await wait_for_cdr(asterisk.scratch.cdr_csv, record["linkedid"])
    answered = [row for row in rows if row["dstchannel"].startswith("PJSIP/101-")]
    assert answered, rows
    assert answered[0]["disposition"] == "ANSWERED", rows
    assert abs(int(answered[0]["billsec"]) - record["talk_s"]) <= 1.0, (rows, record)
    assert answered[0]["src"] == "79161110001", rows

    # MixMonitor (option b: only while bridged) wrote <Linkedid>.wav into RECORDINGS_DIR, and perezvon (reading
    # that directory) registered it: ~2 s of 8 kHz audio, played back through the panel.
    recorded = await wait_for_recording_state(perezvon, record["linkedid"])
    assert recorded["recording_state"] == "registered", recorded
    kinds = {r["kind"]: r for r in recorded["recordings"]}
    assert set(kinds) == {"mixed", "stereo"}, recorded  # the shipped dialplan writes both (option D: .raw)
    mixed = kinds["mixed"]
    assert abs(mixed["duration_s"] - record["talk_s"]) <= 1.0, recorded
    with wave.open(io.BytesIO(await admin_download(perezvon, mixed["id"]))) as wav:
        assert (wav.getframerate(), wav.getnchannels()) == (8000, 1)
        assert abs(wav.getnframes() / wav.getframerate() - record["talk_s"]) <= 1.0
    await assert_simulator_agrees(pool, record, "inbound_answered", CallParams(
        customer="79161110001", ring_s=record["ring_s"], talk_s=record["talk_s"]))


async def test_inbound_answered_operator_hangs_up(asterisk: Asterisk, perezvon: Service, phones: Phones,
                                                  workdir: Path, pool: Pool) -> None:
    phone = await phones.start("101", PhoneBehaviour(mode="answer", answer_ms=500, hangup_ms=2000))
    call = await call_in(asterisk, InboundCall(caller="79161110003", mode="wait"), workdir)
    assert await call.finish() == 0, call.sipp.describe()
    await phone.wait_event("hung up")
    await call.wait_event("asterisk hung up")

    [record] = await wait_for_calls(perezvon, "+79161110003")
    assert (record["outcome"], record["answered_by"], record["hung_up_by"]) == ("answered", "101", "operator"), record
    assert record["hung_up_by_extension"] == "101", record
    assert abs(record["talk_s"] - 2.0) <= 1.0, record
    await assert_simulator_agrees(pool, record, "inbound_answered_operator_hangs_up", CallParams(
        customer="79161110003", ring_s=record["ring_s"], talk_s=record["talk_s"]))


async def test_inbound_abandoned_while_ringing(asterisk: Asterisk, perezvon: Service, phones: Phones,
                                               workdir: Path, pool: Pool) -> None:
    phone = await phones.start("101", PhoneBehaviour(mode="ring"))
    call = await call_in(asterisk, InboundCall(caller="79161110004", mode="cancel", cancel_ms=2000), workdir)
    assert await call.finish() == 0, call.sipp.describe()
    await call.wait_event("cancelled")
    await phone.wait_event("cancelled")

    [record] = await wait_for_calls(perezvon, "+79161110004")
    assert record["outcome"] == "missed" and record["reason"] == "abandoned", record
    assert record["answered_by"] in ("", None) and record["talk_s"] in (0, None), record
    assert abs(record["ring_s"] - 2.0) <= 1.0, record
    assert [leg["extension"] for leg in record["legs"]] == ["101"], record
    assert record["legs"][0]["answered_at"] is None, record

    rows = await wait_for_cdr(asterisk.scratch.cdr_csv, record["linkedid"])
    assert {row["disposition"] for row in rows} <= {"NO ANSWER", "FAILED"}, rows
    assert any(row["dstchannel"].startswith("PJSIP/101-") for row in rows), rows
    await assert_simulator_agrees(pool, record, "inbound_abandoned_while_ringing", CallParams(
        customer="79161110004", ring_s=record["ring_s"]))


async def test_inbound_anonymous_caller(asterisk: Asterisk, perezvon: Service, phones: Phones,
                                        workdir: Path, pool: Pool) -> None:
    phone = await phones.start("101")
    started = datetime.now(UTC).replace(microsecond=0)
    async with AmiCapture.open(asterisk, keep_in=workdir) as ami:
        call = await call_in(asterisk, InboundCall(caller=None, talk_ms=1000), workdir)
        assert await call.finish() == 0, call.sipp.describe()
        await phone.wait_event("other side hung up")

        [record] = await wait_for_calls(perezvon, since=started, where=lambda call: call["direction"] == "inbound")
        assert "anonymous" in record["caller"].lower(), record
        assert record["customer_id"] is None, record
        # "Anonymous" is the display name the provider sent; no number means no contact.
        expected = {"outcome": "answered", "answered_by": "101", "hung_up_by": "customer",
                    "caller_presentation": "anonymous", "caller_name": "Anonymous"}
        assert_record_matches(record, expected)
        await ami.save("inbound_anonymous", expected, linkedids=[record["linkedid"]],
                       scenario="an anonymous caller (From: \"Anonymous\" <sip:anonymous@anonymous.invalid>); "
                                "101 answers; the customer hangs up")
    # The simulator has no anonymous caller: an answered call from a number the CRM does not know.
    await assert_simulator_agrees(pool, record, "inbound_answered", CallParams(
        customer="anonymous", ring_s=record["ring_s"], talk_s=record["talk_s"]))


async def test_inbound_hostile_caller_name(asterisk: Asterisk, perezvon: Service, phones: Phones,
                                           workdir: Path, pool: Pool) -> None:
    hostile = '<script>alert("x")</script> \\"Ivan\' & <b>Co</b>\x07\x1b[31m'
    phone = await phones.start("101")
    async with AmiCapture.open(asterisk, keep_in=workdir) as ami:
        call = await call_in(asterisk, InboundCall(caller="79161110005", caller_name=hostile, talk_ms=1000),
                             workdir)
        assert await call.finish() == 0, call.sipp.describe()
        await phone.wait_event("other side hung up")

        [record] = await wait_for_calls(perezvon, "+79161110005")
        shown = repr(record)
        assert "\x07" not in shown and "\x1b" not in shown, record
        # The name the network sent is kept as data (control characters removed, at most 80 characters);
        # the panel escapes it where it is shown. Asterisk keeps the SIP quoted-string's escapes (\" and \\),
        # and so does the record: it is the name exactly as it came on the wire.
        on_the_wire = hostile.replace("\\", "\\\\").replace('"', '\\"')
        expected = {"outcome": "answered", "answered_by": "101", "hung_up_by": "customer",
                    "caller_presentation": "allowed", "caller_name": clean_raw(on_the_wire)}
        assert_record_matches(record, expected)
        await ami.save("inbound_hostile_caller_name", expected, linkedids=[record["linkedid"]],
                       scenario="the caller's display name is HTML, quotes, a bell and an ANSI escape; 101 "
                                "answers; the customer hangs up")
    await assert_simulator_agrees(pool, record, "inbound_answered", CallParams(
        customer="79161110005", display_name=hostile, ring_s=record["ring_s"], talk_s=record["talk_s"]))


async def test_inbound_operator_busy(asterisk: Asterisk, perezvon: Service, phones: Phones, workdir: Path) -> None:
    """101 answers 486: Dial ends BUSY, the router's fallback queue rings 101 again (busy again: queue CDRs
    say NO ANSWER); the caller gives up in the queue after 4 s. perezvon records it missed, "abandoned"
    (the caller hung up while waiting), with 101's leg busy."""
    phone = await phones.start("101", PhoneBehaviour(mode="busy"))
    call = await call_in(asterisk, InboundCall(caller="79161110006", mode="cancel", cancel_ms=4000), workdir)
    assert await call.finish() == 0, call.sipp.describe()
    await phone.wait_event("busy")

    [record] = await wait_for_calls(perezvon, "+79161110006")
    assert record["outcome"] == "missed" and record["reason"] == "abandoned", record
    assert record["legs"] and record["legs"][0]["extension"] == "101", record
    assert record["legs"][0]["result"] == "busy" and record["legs"][0]["answered_at"] is None, record

    rows = await wait_for_cdr(asterisk.scratch.cdr_csv, record["linkedid"])
    assert any(row["dstchannel"].startswith("PJSIP/101-") and row["disposition"] == "BUSY" for row in rows), rows
    # queue_log: the caller entered the fallback queue, 101 was tried there, and the caller abandoned.
    events = await wait_for_queue_events(asterisk.scratch.queue_log, record["linkedid"], "ABANDON")
    assert events[0][2:5] == ["sales", "NONE", "ENTERQUEUE"], events
    assert any(row[3] == "Operator 101" and row[4] == "RINGNOANSWER" for row in events), events
    # No twin: the simulator's inbound_busy hangs up after Dial's BUSY; it has no router fallback into the queue.
