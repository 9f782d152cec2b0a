"""An attended transfer made with the desk phone's own transfer key: REFER with Replaces, on the real Asterisk.

101 talks with the customer, puts them aside and calls 102 itself (the consultation is a call of its own,
with its own Linkedid), 102 answers, and 101 presses the transfer key: a REFER in the customer's dialog
whose Refer-To names the consultation (`Replaces`). Asterisk joins the customer with 102 and hangs up
the consultation. The customer's record says 101 answered, an attended transfer from 101 taken by 102,
and that 102 ended up with the customer; the consultation is an internal call of its own, answered by 102.
No twin: the simulator plays transfers from the AMI, not a phone's consultation call.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from tests.pbx.ami_capture import AmiCapture
from tests.pbx.asterisk_process import Asterisk
from tests.pbx.conftest import Phones
from tests.pbx.expected_calls import assert_record_matches
from tests.pbx.phones import OutgoingCall, Phone, PhoneBehaviour, call_out, transfer_attended_from_phone
from tests.pbx.provider import InboundCall, call_in
from tests.pbx.records import wait_for_calls
from tests.pbx.service_process import Service


async def test_attended_transfer_with_the_phones_transfer_key(asterisk: Asterisk, perezvon: Service, phones: Phones,
                                                               workdir: Path) -> None:
    caller = "79161110209"
    started = datetime.now(UTC)
    p101 = await phones.start("101", PhoneBehaviour(mode="answer", answer_ms=500))
    async with AmiCapture.open(asterisk, keep_in=workdir) as ami:
        call = await call_in(asterisk, InboundCall(caller=caller, talk_ms=9000), workdir)
        await p101.wait_event("answered")
        await ami.wait_event("BridgeEnter", Channel="PJSIP/101-")
        p102 = await phones.start("102", PhoneBehaviour(mode="answer", answer_ms=500))
        consultation = await call_out(asterisk, "101", OutgoingCall(number="102", mode="wait"), workdir)
        await consultation.wait_log("perezvon-phone: outgoing answered")
        await p102.wait_event("answered")
        transferring = await transfer_attended_from_phone(p101, consultation, "102")
        # The process that took 101's dialog over is 101 now: switched off (unregistered) after the test.
        phones.started[phones.started.index(p101)] = Phone(p101.ext, transferring, asterisk, workdir)
        await transferring.wait_log("perezvon-phone: transferred")
        await consultation.wait_log("perezvon-phone: outgoing other side hung up")
        assert await call.finish() == 0, call.sipp.describe()
        await p102.wait_event("other side hung up")
        [record] = await wait_for_calls(perezvon, f"+{caller}")
        expected = {"outcome": "answered", "answered_by": "101", "operator_extension": "102",
                    "hung_up_by": "customer", "transfers": [{"kind": "attended", "from_extension": "101",
                                                             "target": "102", "taken_by": "102",
                                                             "result": "completed"}]}
        assert_record_matches(record, expected)
        await ami.save("transfer_attended_phone_replaces", expected, linkedids=[record["linkedid"]],
                       scenario="101 answers, calls 102 itself (the consultation, its own Linkedid), 102 answers; "
                                "101's transfer key sends REFER with Replaces; the customer talks to 102 and "
                                "hangs up")
    assert transferring.process.returncode in (None, 0), transferring.describe()
    # The consultation stays a call of its own: internal, 101 to 102, answered by 102 (its leg there ended
    # when the customer took 102 over).
    [consult] = await wait_for_calls(perezvon, since=started, where=lambda c: c["direction"] == "internal"
                                     and c["caller"] == "101" and c["callee"] == "102")
    assert (consult["outcome"], consult["answered_by"]) == ("answered", "102"), consult
    assert consult["linkedid"] != record["linkedid"], consult
