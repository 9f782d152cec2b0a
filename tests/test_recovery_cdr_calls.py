"""The CDR -> call record mapping, on the rows the real Asterisk 22 of the PBX tier wrote (tests/fixtures/cdr-pgsql).

Each fixture holds the CDR rows cdr_pgsql wrote for one call and the record perezvon's live tracker made of
the same call: a call rebuilt from its CDR after an outage must say what the live record says (direction,
numbers, outcome, reason, who answered, durations, legs), except where the CDR cannot know (who hung up;
the caller's wait after the queue's last ring, which no row covers: the fixture's notes say so).
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from crm.recovery.cdr_calls import CdrRow, party_of, recover_call, recover_calls
from tests.asterisk_conf_parser import section

FIXTURES = Path(__file__).parent / "fixtures" / "cdr-pgsql"
MIGRATION = Path(__file__).parent.parent / "crm" / "migrations" / "0008_outage_recovery.sql"
#: The CDR has no row for the caller's wait after the queue's last ring (see the fixture's notes).
CDR_ENDS_AT_LAST_RING = {"inbound_busy_then_queue_abandoned"}
CLOSE_S = 0.05


def _fixture(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8"))
    return data


def _rows(data: dict[str, Any]) -> list[CdrRow]:
    return [CdrRow.from_mapping(row) for row in data["rows"]]


NAMES = sorted(path.stem for path in FIXTURES.glob("*.json"))


def test_the_fixtures_cover_the_classes_of_calls() -> None:
    assert len(NAMES) >= 13
    outcomes = {(_fixture(n)["live_record"]["outcome"], _fixture(n)["live_record"]["reason"]) for n in NAMES}
    assert {("answered", ""), ("missed", "abandoned")} <= outcomes
    assert {"outbound", "inbound"} == {_fixture(n)["live_record"]["direction"] for n in NAMES}


@pytest.mark.parametrize("name", NAMES)
def test_a_call_from_its_cdr_agrees_with_its_live_record(name: str) -> None:
    data = _fixture(name)
    live = data["live_record"]
    call = recover_call(_rows(data))
    assert call is not None and call.linkedid == live["linkedid"]
    start, end = call.start, call.end
    assert end.direction == start.direction == live["direction"]
    assert (end.outcome, end.reason, end.answered_by or "") == (live["outcome"], live["reason"], live["answered_by"])
    assert (end.operator or "") == live["operator_extension"]
    if live["direction"] == "inbound":
        assert (start.caller, start.dialled, end.customer_number) == (live["caller"], live["did"], live["caller"])
    else:
        assert (start.caller, start.dialled) == (live["caller"], live["callee"])
    assert end.hung_up_by is None  # CDR does not say
    assert end.talk_s == pytest.approx(live["talk_s"], abs=CLOSE_S)
    if name in CDR_ENDS_AT_LAST_RING:
        assert data["notes"] and end.ring_s is not None and end.ring_s < live["ring_s"]
    else:
        assert end.ring_s == pytest.approx(live["ring_s"], abs=CLOSE_S)
        assert end.at.timestamp() == pytest.approx(_epoch(live["ended_at"]), abs=CLOSE_S)
    assert start.at.timestamp() == pytest.approx(_epoch(live["started_at"]), abs=CLOSE_S)
    assert (call.queue.queue if call.queue else "") == live["queue"]
    ended = [leg for leg in call.legs if leg.state == "ended"]
    assert [(leg.channel, leg.extension, leg.number, leg.result) for leg in ended] == [
        (leg["channel"], leg["extension"], leg["number"], leg["result"]) for leg in live["legs"]]
    for mine, theirs in zip(ended, live["legs"], strict=True):
        assert mine.ring_s == pytest.approx(theirs["ring_s"], abs=0.02)
        assert mine.dial_status == theirs["dial_status"] or theirs["dial_status"] in ("", "CANCEL", "NOANSWER")


def _epoch(iso: str) -> float:
    return datetime.fromisoformat(iso).timestamp()


def test_answered_legs_ring_then_answer_then_end_in_order() -> None:
    call = recover_call(_rows(_fixture("ringall_answered")))
    assert call is not None
    winner = [(leg.state, leg.at) for leg in call.legs if leg.extension == "102"]
    assert [state for state, _ in winner] == ["ringing", "answered", "ended"]
    assert [at for _, at in winner] == sorted(at for _, at in winner)


def test_rows_of_several_calls_are_grouped_by_linkedid_in_start_order() -> None:
    rows = [row for name in ("queue_answered", "inbound_answered", "failover_through_queue_answered")
            for row in reversed(_rows(_fixture(name)))]
    calls = recover_calls(rows)
    assert [c.linkedid for c in calls] == sorted({r.linkedid for r in rows}, key=lambda lid: float(lid.split(".")[0]))
    assert [len([leg for leg in c.legs if leg.state == "ended"]) for c in calls] == [1, 1, 3]


def test_rows_without_times_give_no_call() -> None:
    row = CdrRow.from_mapping({"linkedid": "1.1", "channel": "PJSIP/trunk-00000001", "start": None, "end": None})
    assert recover_call([row]) is None
    assert recover_calls([row, CdrRow.from_mapping({"linkedid": "", "start": 1.0, "end": 2.0})]) == []


@pytest.mark.parametrize(("channel", "party"), [
    ("PJSIP/101-0000000b", ("operator", "101")), ("PJSIP/trunk-00000001", ("trunk", "trunk")),
    ("PJSIP/my-provider-00000001", ("trunk", "my-provider")), ("Local/102@from-internal-00000001;1",
                                                               ("other", "102@from-internal")),
    ("AudioSocket/127.0.0.1:9092-00000001", ("other", "127.0.0.1:9092")), ("", ("none", "")),
])
def test_party_of_a_channel(channel: str, party: tuple[str, str]) -> None:
    assert party_of(channel) == party


def test_asterisk_writes_into_the_table_the_migration_makes_with_the_columns_the_mapping_reads() -> None:
    conf = section("cdr_pgsql.conf", "global")
    assert conf.values("table") == ["pbx_cdr"] and conf.values("dbname") == ["perezvon"]
    assert conf.values("encoding") == ["UTF8"]
    assert "cdr_pgsql.so" in section("modules.conf", "modules").values("load")
    assert "cdr_pgsql.so" not in section("modules.conf", "modules").values("noload")
    sql = MIGRATION.read_text(encoding="utf-8")
    table = sql[sql.index("CREATE TABLE pbx_cdr"):]
    table = table[:table.index("\n);")]
    columns = {m.group(1).strip('"'): m.group(2) for m in re.finditer(r'^\s+("?\w+"?)\s+(\w+)', table, re.M)}
    for name in ("start", "answer", "end", "duration", "billsec"):
        assert columns[name] == "double", name  # cdr_pgsql writes epoch seconds only into float columns
    assert set(CdrRow.__dataclass_fields__) <= set(columns)
