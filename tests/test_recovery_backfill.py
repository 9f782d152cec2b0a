"""The outage backfill against a real PostgreSQL: CDR rows the real Asterisk wrote (tests/fixtures/cdr-pgsql)
are inserted into pbx_cdr as cdr_pgsql inserts them, and the backfill must recover each unseen call once,
complete a half-seen one in its own row, and never touch a call recorded live to its end."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from crm import calls, lost_calls
from crm.database import Pool
from crm.models import Manager
from crm.recovery import store
from crm.recovery.backfill import backfill_gap
from tests.conftest import MakeManager

FIXTURES = Path(__file__).parent / "fixtures" / "cdr-pgsql"


def _fixture(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8"))
    return data


async def _insert_cdr(pool: Pool, name: str) -> dict[str, Any]:
    """The fixture's rows into pbx_cdr, as Asterisk inserts them (only the columns it has values for)."""
    data = _fixture(name)
    for row in data["rows"]:
        names = [key for key, value in row.items() if value is not None]
        await pool.execute(
            f"INSERT INTO pbx_cdr ({', '.join(chr(34) + n + chr(34) for n in names)}) "
            f"VALUES ({', '.join(f'${i}' for i in range(1, len(names) + 1))})", *(row[n] for n in names))
    return data


def _span(data: dict[str, Any]) -> tuple[datetime, datetime]:
    starts = [row["start"] for row in data["rows"]]
    ends = [row["end"] for row in data["rows"]]
    return datetime.fromtimestamp(min(starts), UTC), datetime.fromtimestamp(max(ends), UTC)


def _gap(data: dict[str, Any]) -> tuple[datetime, datetime]:
    """A gap from just before the call to a login just after it."""
    started, ended = _span(data)
    return started - timedelta(seconds=30), ended + timedelta(seconds=10)


async def test_a_call_nobody_saw_is_recovered_once(pool: Pool, make_manager: MakeManager) -> None:
    operator: Manager = await make_manager("operator", extensions=("102",))
    data = await _insert_cdr(pool, "failover_through_queue_answered")
    live = data["live_record"]
    lost_at, regained_at = _gap(data)

    result = await backfill_gap(pool, lost_at=lost_at, regained_at=regained_at, now=regained_at)
    assert result.recovered == (live["linkedid"],) and result.completed == ()
    call = await calls.get_call(pool, live["linkedid"])
    assert call is not None and call.recovered and call.closed_by == "pbx"
    assert (call.direction, call.caller, call.did, call.outcome, call.answered_by) == (
        "inbound", "79161110052", "74951234592", "answered", "102")
    assert call.manager_id == operator.id and call.queue == "sales"
    assert call.customer_e164 == "+79161110052" and call.customer_id is not None  # a new contact
    assert [(leg.extension, leg.result) for leg in call.legs] == [("101", "no_answer"), ("101", "no_answer"),
                                                                  ("102", "answered")]
    assert abs((call.ring_s or 0) - live["ring_s"]) < 0.05 and abs((call.talk_s or 0) - live["talk_s"]) < 0.05

    again = await backfill_gap(pool, lost_at=lost_at, regained_at=regained_at + timedelta(seconds=60),
                               now=regained_at + timedelta(seconds=60))
    assert again.recovered == again.completed == ()
    assert await pool.fetchval("SELECT count(*) FROM calls") == 1
    assert await pool.fetchval("SELECT count(*) FROM call_legs") == 3
    assert await pool.fetchval("SELECT count(*) FROM customers") == 1


async def test_a_call_recorded_live_to_its_end_is_not_touched(pool: Pool) -> None:
    data = await _insert_cdr(pool, "queue_abandoned")
    live = data["live_record"]
    started, ended = _span(data)
    await calls.record_call_started(pool, calls.CallStart(linkedid=live["linkedid"], at=started, direction="inbound",
                                                          caller="79161110063", dialled="74951234595"))
    await calls.record_call_ended(pool, calls.CallEnd(
        linkedid=live["linkedid"], at=ended, direction="inbound", outcome="missed", reason="abandoned",
        answered_by=None, operator=None, customer_number="79161110063", hung_up_by="customer",
        hung_up_by_extension=None, ring_s=3.01, talk_s=0.0))
    before = await calls.get_call(pool, live["linkedid"])
    lost_at, regained_at = _gap(data)
    result = await backfill_gap(pool, lost_at=lost_at, regained_at=regained_at, now=regained_at)
    assert result.recovered == result.completed == ()
    assert await calls.get_call(pool, live["linkedid"]) == before
    assert before is not None and not before.recovered and before.hung_up_by == "customer"


async def test_a_half_seen_call_closed_as_lost_is_completed_in_its_own_row(pool: Pool) -> None:
    data = await _insert_cdr(pool, "inbound_answered")
    live = data["live_record"]
    lid = live["linkedid"]
    started, ended = _span(data)
    seen_start = datetime.fromisoformat(live["started_at"])
    await calls.record_call_started(pool, calls.CallStart(linkedid=lid, at=seen_start, direction="inbound",
                                                          caller="79161110001", dialled="74951234500"))
    channel = live["legs"][0]["channel"]
    for state in ("ringing", "answered"):
        await calls.record_leg(pool, calls.LegEvent(linkedid=lid, at=started + timedelta(seconds=0.5),
                                                    channel=channel, extension="101", number=None, state=state))
    # perezvon stopped before the end; at its next login Asterisk no longer had the call
    closed = await lost_calls.close_vanished_calls(pool, frozenset(), ended + timedelta(seconds=30))
    assert closed == [lid]
    half = await calls.get_call(pool, lid)
    assert half is not None and (half.outcome, half.closed_by, half.talk_s) == ("answered", "resync", None)

    lost_at, regained_at = _gap(data)
    result = await backfill_gap(pool, lost_at=lost_at, regained_at=ended + timedelta(seconds=30), now=regained_at)
    assert result.completed == (lid,) and result.recovered == ()
    call = await calls.get_call(pool, lid)
    assert call is not None and call.id == half.id and call.recovered
    assert (call.outcome, call.closed_by, call.answered_by) == ("answered", "pbx", "101")
    assert call.started_at == seen_start  # the start seen live stays
    assert call.ended_at is not None and abs(call.ended_at.timestamp() - ended.timestamp()) < 0.01
    assert abs((call.talk_s or 0) - live["talk_s"]) < 0.05
    assert [(leg.channel, leg.result) for leg in call.legs] == [(channel, "answered")]
    gap = (await store.recent_gaps(pool))[0]
    assert (gap.calls_recovered, gap.calls_completed, gap.error) == (0, 1, "")


async def test_a_call_still_live_at_the_login_is_left_to_the_live_tracker(pool: Pool) -> None:
    data = await _insert_cdr(pool, "inbound_abandoned_while_ringing")
    lid = data["live_record"]["linkedid"]
    started, ended = _span(data)
    await calls.record_call_started(pool, calls.CallStart(linkedid=lid, at=started, direction="inbound",
                                                          caller="79161110004", dialled="74951234500"))
    # the login came before the CDR's end: the call was live then (the resync listed it)
    result = await backfill_gap(pool, lost_at=started - timedelta(seconds=60), regained_at=ended - timedelta(seconds=1),
                                now=ended)
    assert result.recovered == result.completed == ()
    call = await calls.get_call(pool, lid)
    assert call is not None and call.ended_at is None and not call.recovered


async def test_gaps_and_heartbeat(pool: Pool) -> None:
    assert await store.last_connected(pool) is None
    at = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
    await store.beat(pool, at)
    await store.beat(pool, at - timedelta(seconds=5))  # a late write never moves it back
    assert await store.last_connected(pool) == at
    result = await backfill_gap(pool, lost_at=at, regained_at=at + timedelta(minutes=3), now=at + timedelta(minutes=3))
    [gap] = await store.recent_gaps(pool)
    assert gap.id == result.gap_id and gap.seconds == 180 and gap.backfilled_at == at + timedelta(minutes=3)
    assert (gap.calls_recovered, gap.calls_completed, gap.error) == (0, 0, "")

