"""Registering recordings on real files in temporary directories against a real PostgreSQL: stored in the
dated layout, linked to the call, customer and order, once; missing ones flagged after the wait (the clock
moved, never slept); bad input each a clear state with nothing lost."""

from __future__ import annotations

import hashlib
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

from crm import calls, recordings
from crm.database import Pool
from recordings.register import register_call
from recordings.scan import scan_incoming
from recordings.store import RecordingStore
from recordings.wav_check import wav_header
from tests.conftest import MakeManager
from tests.recording_helpers import (
    Clock,
    age,
    answered_call,
    customer_with_order,
    make_store,
    missed_call,
    tone,
    write_wav,
)

LID = "1800000100.11"


async def _state(pool: Pool, linkedid: str) -> str:
    state: str = await pool.fetchval("SELECT recording_state FROM calls WHERE linkedid = $1", linkedid)
    return state


def _files(base: Path) -> set[str]:
    return {str(p.relative_to(base)) for p in base.rglob("*") if p.is_file()}


async def test_an_answered_calls_recording_is_stored_linked_and_registered_once(
        tmp_path: Path, pool: Pool, make_manager: MakeManager) -> None:
    anna = await make_manager("operator", extensions=("101",))
    customer_id, order_id = await customer_with_order(pool, "+79161110001", anna.id)
    ended = datetime.now(UTC) - timedelta(seconds=30)
    await answered_call(pool, LID, talk_s=3.0, ended_at=ended)
    clock = Clock(ended + timedelta(seconds=30))
    day = (ended - timedelta(seconds=5)).strftime("%Y/%m/%d")  # the call's start, UTC
    store = make_store(tmp_path, clock)
    data = write_wav(store.paths.incoming / f"{LID}.wav", 3.0)

    first = await register_call(pool, store, LID)
    assert first.state == "registered" and len(first.registered) == 1 and first.people == (anna.id,)
    [recording_id] = first.registered
    stored = await recordings.get_recording(pool, recording_id)
    assert stored.path == f"{day}/{LID}.wav" and stored.kind == "mixed"
    assert (stored.customer_id, stored.order_id) == (customer_id, order_id)
    assert stored.sha256 == hashlib.sha256(data).hexdigest() and stored.bytes == len(data)
    assert (stored.sample_rate, stored.channels, stored.issues) == (8000, 1, ())
    assert abs(stored.duration_s - 3.0) < 0.01
    assert (store.paths.storage / stored.path).read_bytes() == data
    assert not (store.paths.incoming / f"{LID}.wav").exists()
    # Twice (a retry, a second worker, the scan): registered once, nothing moves.
    second = await register_call(pool, store, LID)
    assert second.state == "registered" and second.registered == []
    assert await pool.fetchval("SELECT count(*) FROM recordings") == 1
    call = await calls.get_call(pool, LID)
    assert call is not None and call.recording_state == "registered"
    assert [(r.id, r.kind) for r in call.recordings] == [(recording_id, "mixed")]


async def test_the_same_file_again_after_a_crash_is_let_go_and_another_is_left_in_place(
        tmp_path: Path, pool: Pool, make_manager: MakeManager) -> None:
    await make_manager("operator", extensions=("101",))
    await answered_call(pool, LID)
    store = make_store(tmp_path, Clock())
    data = write_wav(store.paths.incoming / f"{LID}.wav", 2.0)
    [recording_id] = (await register_call(pool, store, LID)).registered
    (store.paths.incoming / f"{LID}.wav").write_bytes(data)  # the original came back (re-synced)
    age(store.paths.incoming / f"{LID}.wav", 60)
    await register_call(pool, store, LID)
    assert not (store.paths.incoming / f"{LID}.wav").exists()
    other = write_wav(store.paths.incoming / f"{LID}.wav", 1.0)  # a different file under the same name
    result = await register_call(pool, store, LID)
    assert result.refused == [f"{LID}.wav"] and result.state == "registered"
    assert (store.paths.incoming / f"{LID}.wav").read_bytes() == other
    stored = await recordings.get_recording(pool, recording_id)
    assert (store.paths.storage / stored.path).read_bytes() == data
    [problem] = await recordings.open_problems(pool)
    assert problem.kind == "refused" and f"recording {recording_id}" in problem.detail


async def test_an_unanswered_calls_header_only_file_is_dropped_not_registered(
        tmp_path: Path, pool: Pool, make_manager: MakeManager) -> None:
    await make_manager("operator", extensions=("101",))
    await missed_call(pool, LID)
    store = make_store(tmp_path, Clock())
    header = store.paths.incoming / f"{LID}.wav"
    header.write_bytes(wav_header(channels=1, sample_rate=8000, bits=16, data_bytes=0))
    age(header, 60)
    raw = store.paths.incoming / f"{LID}.raw"  # the shipped dialplan's stereo twin (option D): not one byte
    raw.write_bytes(b"")
    age(raw, 60)
    result = await register_call(pool, store, LID)
    assert sorted(result.dropped) == [f"{LID}.raw", f"{LID}.wav"] and result.state == "none"
    assert result.retry_in_s is None and not raw.exists()
    assert not header.exists() and await pool.fetchval("SELECT count(*) FROM recordings") == 0
    assert await _state(pool, LID) == "none"


async def test_a_recording_that_does_not_come_is_awaited_then_flagged_missing(
        tmp_path: Path, pool: Pool, make_manager: MakeManager) -> None:
    await make_manager("operator", extensions=("101",))
    ended = datetime.now(UTC) - timedelta(seconds=5)
    await answered_call(pool, LID, ended_at=ended)
    clock = Clock(ended + timedelta(seconds=5))
    store = make_store(tmp_path, clock, wait_s=120)
    waiting = await register_call(pool, store, LID)
    assert waiting.state == "pending" and waiting.retry_in_s == 5.0
    assert await _state(pool, LID) == "pending"
    clock.advance(100)
    later = await register_call(pool, store, LID, attempt=4)
    assert later.state == "pending" and later.retry_in_s == 16.0  # the last look just after the wait
    clock.advance(20)
    flagged = await register_call(pool, store, LID, attempt=5)
    assert flagged.state == "missing" and flagged.retry_in_s is None
    call = await calls.get_call(pool, LID)
    assert call is not None and call.recording_state == "missing"
    # It turns up after all: registered, the flag cleared.
    write_wav(store.paths.incoming / f"{LID}.wav", 3.0)
    assert (await register_call(pool, store, LID)).state == "registered"
    assert await _state(pool, LID) == "registered"


async def test_a_file_still_being_written_is_waited_for(tmp_path: Path, pool: Pool, make_manager: MakeManager) -> None:
    await make_manager("operator", extensions=("101",))
    await answered_call(pool, LID)
    clock = Clock()
    store = make_store(tmp_path, clock)
    path = store.paths.incoming / f"{LID}.wav"
    write_wav(path, 3.0, age_s=0)
    clock.now = datetime.fromtimestamp(path.stat().st_mtime, UTC)  # it changed this very moment
    result = await register_call(pool, store, LID)
    assert result.state == "pending" and result.registered == [] and path.exists()
    clock.advance(5)
    assert (await register_call(pool, store, LID, attempt=1)).state == "registered"


async def test_a_truncated_wav_is_awaited_then_kept_as_far_as_it_goes(
        tmp_path: Path, pool: Pool, make_manager: MakeManager) -> None:
    await make_manager("operator", extensions=("101",))
    ended = datetime.now(UTC) - timedelta(seconds=30)
    await answered_call(pool, LID, talk_s=10.0, ended_at=ended)
    clock = Clock()
    store = make_store(tmp_path, clock, wait_s=60)
    path = store.paths.incoming / f"{LID}.wav"
    data = write_wav(path, 1.0, declared=48000)  # the header promises 3 s, 1 s is there
    assert (await register_call(pool, store, LID)).state == "pending"
    clock.now = ended + timedelta(seconds=61)
    result = await register_call(pool, store, LID, attempt=3)
    assert result.state == "registered"
    stored = await recordings.get_recording(pool, result.registered[0])
    assert stored.issues == ("truncated", "duration_differs") and abs(stored.duration_s - 1.0) < 0.01
    kept = (store.paths.storage / stored.path).read_bytes()
    assert kept[44:] == data[44:] and int.from_bytes(kept[40:44], "little") == 16000  # the header now says so


async def test_unreadable_files_go_to_the_quarantine_never_deleted(
        tmp_path: Path, pool: Pool, make_manager: MakeManager) -> None:
    await make_manager("operator", extensions=("101",))
    ended = datetime.now(UTC) - timedelta(minutes=20)
    clock = Clock()
    store = make_store(tmp_path, clock, wait_s=600)
    cases = {"1800000100.21": b"ID3\x04not a wav at all" * 10,
             "1800000100.22": wav_header(channels=1, sample_rate=8000, bits=16, data_bytes=8000) + b"\x01",
             "1800000100.23": b""}
    for n, (linkedid, data) in enumerate(cases.items()):
        await answered_call(pool, linkedid, caller=f"7916111002{n}", ended_at=ended)
        (store.paths.incoming / f"{linkedid}.wav").write_bytes(data)
        age(store.paths.incoming / f"{linkedid}.wav", 60)
    for linkedid in cases:
        result = await register_call(pool, store, linkedid)
        assert result.state == "corrupt" and result.quarantined == [f"{linkedid}.wav"], linkedid
        assert not (store.paths.incoming / f"{linkedid}.wav").exists()
    problems = {p.file_name: p for p in await recordings.open_problems(pool)}
    assert {p.kind for p in problems.values()} == {"corrupt", "empty"}
    assert "not a RIFF/WAVE" in problems["1800000100.21.wav"].detail
    assert "not one frame" in problems["1800000100.22.wav"].detail
    assert problems["1800000100.23.wav"].kind == "empty"
    quarantined = {p.read_bytes() for p in store.paths.quarantine.rglob("*.wav")}
    assert quarantined == set(cases.values())  # every byte kept
    for problem in problems.values():
        assert problem.quarantine_path is not None
        assert (store.paths.quarantine / problem.quarantine_path).exists()


async def test_a_zero_length_file_is_awaited_first(tmp_path: Path, pool: Pool, make_manager: MakeManager) -> None:
    await make_manager("operator", extensions=("101",))
    await answered_call(pool, LID, ended_at=datetime.now(UTC) - timedelta(seconds=10))
    store = make_store(tmp_path, Clock())
    (store.paths.incoming / f"{LID}.wav").write_bytes(b"")
    age(store.paths.incoming / f"{LID}.wav", 10)
    assert (await register_call(pool, store, LID)).state == "pending"
    assert (store.paths.incoming / f"{LID}.wav").exists()


async def test_receive_transmit_and_stereo_files_keep_the_sides_apart(
        tmp_path: Path, pool: Pool, make_manager: MakeManager) -> None:
    await make_manager("operator", extensions=("101",))
    await answered_call(pool, LID, talk_s=2.0)
    store = make_store(tmp_path, Clock())
    write_wav(store.paths.incoming / f"{LID}-in.wav", 2.0)
    write_wav(store.paths.incoming / f"{LID}-out.wav", 2.0)
    raw = store.paths.incoming / f"{LID}.raw"
    mono = tone(2.0)
    raw.write_bytes(b"".join(mono[i:i + 2] * 2 for i in range(0, len(mono), 2)))
    age(raw, 60)
    result = await register_call(pool, store, LID)
    assert result.state == "registered" and len(result.registered) == 3
    by_kind = await recordings.registered(pool, (await calls.get_call(pool, LID)).id)  # type: ignore[union-attr]
    assert set(by_kind) == {"customer", "operator", "stereo"}
    assert by_kind["stereo"].channels == 2 and by_kind["stereo"].left_party == "customer"
    assert by_kind["stereo"].path.endswith(f"{LID}-stereo.wav")
    assert abs(by_kind["stereo"].duration_s - 2.0) < 0.01
    assert by_kind["customer"].path.endswith(f"{LID}-customer.wav")
    assert _files(store.paths.incoming) == set()


async def test_outbound_calls_put_the_operator_on_the_receive_side(
        tmp_path: Path, pool: Pool, make_manager: MakeManager) -> None:
    await make_manager("operator", extensions=("101",))
    await answered_call(pool, LID, direction="outbound", caller="79161110005")
    store = make_store(tmp_path, Clock())
    write_wav(store.paths.incoming / f"{LID}-in.wav", 3.0)
    [recording_id] = (await register_call(pool, store, LID)).registered
    assert (await recordings.get_recording(pool, recording_id)).kind == "operator"


async def test_names_leaving_the_directory_and_symlinks_are_refused(
        tmp_path: Path, pool: Pool, make_manager: MakeManager) -> None:
    await make_manager("operator", extensions=("101",))
    store = make_store(tmp_path, Clock())
    secret = tmp_path / "secret.wav"
    secret_bytes = write_wav(secret, 1.0)
    outside = store.paths.incoming.parent / "escape.wav"
    write_wav(outside, 1.0)
    for n, linkedid in enumerate(("../escape", "/etc/passwd", "..")):
        await answered_call(pool, linkedid, caller=f"7916111003{n}")
        result = await register_call(pool, store, linkedid)
        assert result.refused == [linkedid] and result.registered == [] and result.state == "missing"
    assert outside.exists() and await pool.fetchval("SELECT count(*) FROM recordings") == 0
    await answered_call(pool, LID)
    link = store.paths.incoming / f"{LID}.wav"
    link.symlink_to(secret)
    result = await register_call(pool, store, LID)
    assert result.refused == [f"{LID}.wav"] and result.registered == []
    assert link.is_symlink() and secret.read_bytes() == secret_bytes  # left as it was
    problems = {p.file_name: p.detail for p in await recordings.open_problems(pool)}
    assert problems[f"{LID}.wav"] == "a symlink: not followed"
    assert problems["../escape"] == "the call id cannot be a file name"


async def test_the_scan_reports_unknown_calls_in_place_and_hands_back_forgotten_ones(
        tmp_path: Path, pool: Pool, make_manager: MakeManager) -> None:
    await make_manager("operator", extensions=("101",))
    clock = Clock()
    store = make_store(tmp_path, clock, wait_s=300)
    unknown = store.paths.incoming / "1800000999.1.wav"
    unknown_bytes = write_wav(unknown, 1.0, age_s=1000)
    fresh = store.paths.incoming / "1800000999.2.wav"
    write_wav(fresh, 1.0, age_s=10)  # its call may still be written
    await answered_call(pool, LID)
    write_wav(store.paths.incoming / f"{LID}.wav", 3.0)  # its job was lost
    (store.paths.incoming / "notes.txt").write_text("admin's notes")
    (store.paths.incoming / ".partial-sync.wav").write_bytes(b"x")
    os.symlink("/etc/passwd", store.paths.incoming / "1800000999.3.wav")
    report = await scan_incoming(pool, store)
    assert report.to_register == [LID]
    assert report.unknown == ["1800000999.1.wav"]
    assert sorted(report.refused) == ["1800000999.3.wav", "notes.txt"]
    problems = {p.file_name: p.kind for p in await recordings.open_problems(pool)}
    assert problems == {"1800000999.1.wav": "unknown_call", "1800000999.3.wav": "refused", "notes.txt": "refused"}
    assert unknown.read_bytes() == unknown_bytes and fresh.exists()  # nothing moved, nothing deleted
    # Its call appears (recovered from the PBX's records): the next scan hands it to the registration.
    await answered_call(pool, "1800000999.1", caller="79161110099")
    assert "1800000999.1" in (await scan_incoming(pool, store)).to_register
    await register_call(pool, store, "1800000999.1")
    await scan_incoming(pool, store)
    assert {p.file_name for p in await recordings.open_problems(pool)} == {"1800000999.3.wav", "notes.txt"}


async def test_internal_calls_and_unknown_calls_are_not_waited_for(tmp_path: Path, pool: Pool,
                                                                   make_manager: MakeManager) -> None:
    await make_manager("operator", extensions=("101",))
    store: RecordingStore = make_store(tmp_path, Clock())
    result = await register_call(pool, store, "1800000404.1")
    assert result.unknown_call and result.retry_in_s is None
    await answered_call(pool, LID, direction="internal", caller="102")
    internal = await register_call(pool, store, LID)
    assert internal.state == "none" and internal.retry_in_s is None
