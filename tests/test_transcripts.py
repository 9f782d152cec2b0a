"""Transcripts end to end with the real Whisper base model on real (synthesised) Russian speech: a registered
recording is transcribed by the job worker, stored with its segments, searchable, linked to the order it
names; keywords alert the supervisors; a promise becomes a task the operator confirms; the pages and the
API show it to whom may play the recording, and no one else.
"""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from crm import orders
from crm.database import Pool
from crm.orders import OrderInput
from crm.transcripts import data, view
from recordings.register import register_call
from recordings.store import RecordingStore
from recordings.transcribing import TranscriptionService, transcribe_one
from recordings.transcription import TranscriptionSettings
from tests.conftest import MakeManager, csrf_from, login
from tests.recording_helpers import Clock, age, answered_call, customer_with_order, make_store, tone, write_wav
from tests.transcription_helpers import SPEECH
from web.jobs.queue import JobEnvironment
from web.jobs.runtime import job_app
from web.jobs.transcription import defer_transcribe
from web.live.bus import LocalBus
from web.live.hub import LiveHub

Client = TestClient[web.Request, web.Application]


@pytest.fixture
def service(base_transcriber: Any) -> TranscriptionService:
    return TranscriptionService(TranscriptionSettings(), engine=base_transcriber)


async def _recorded(pool: Pool, store: RecordingStore, linkedid: str, sample: str, *, caller: str,
                    talk_s: float) -> int:
    """An answered call with `sample` as its MixMonitor file, registered; the recording's id."""
    await answered_call(pool, linkedid, caller=caller, talk_s=talk_s,
                        ended_at=datetime.now(UTC) - timedelta(seconds=30))
    incoming = store.paths.incoming / f"{linkedid}.wav"
    shutil.copy(SPEECH / sample, incoming)
    age(incoming, 60)  # written a minute ago: settled
    registered = await register_call(pool, store, linkedid)
    [recording_id] = registered.registered
    return recording_id


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[RecordingStore]:
    yield make_store(tmp_path, Clock())


async def test_the_job_transcribes_links_the_order_and_search_finds_it(
        pool: Pool, db_dsn: str, store: RecordingStore, service: TranscriptionService,
        make_manager: MakeManager) -> None:
    anna = await make_manager("operator", extensions=("101",))
    customer_id, _ = await customer_with_order(pool, "+79161110001", anna.id, number="10900")
    spoken = await orders.create_order(pool, OrderInput(number="10234", customer_id=customer_id, total="990"), None)
    recording_id = await _recorded(pool, store, "1800000700.1", "ru_order_digits.wav", caller="79161110001",
                                   talk_s=7.4)
    app = job_app(db_dsn)
    env = JobEnvironment(pool, LocalBus(LiveHub()), recordings=store, transcription=service)
    async with app.open_async():
        transcript_id = await defer_transcribe(app, pool, recording_id)
        assert transcript_id is not None
        await app.run_worker_async(wait=False, install_signal_handlers=False, queues=["transcription"],
                                   additional_context={"env": env})
    shown = await view.get(pool, transcript_id, anna)
    assert shown.state == "done" and shown.language == "ru" and shown.segments
    text = " ".join(s.text for s in shown.segments).lower()
    assert "заказ" in text and "10234" in text.replace(" ", "").replace(",", ""), text
    assert shown.orders_mentioned == ("10234",)
    # The call had the customer's latest open order (10900); the order spoken of is only linked when none.
    call_order = await pool.fetchval("SELECT order_id FROM calls WHERE linkedid = '1800000700.1'")
    assert call_order in (spoken.id, await pool.fetchval("SELECT id FROM orders WHERE number = '10900'"))
    [hit] = await view.search(pool, "заказу", anna)  # another form of «заказ»
    assert (hit.transcript_id, hit.recording_id) == (transcript_id, recording_id)
    assert "⟦" in hit.highlighted
    boris = await make_manager("operator", extensions=("102",))
    assert await view.search(pool, "заказ", boris) == []  # not his call, not his customer
    assert (await data.backlog(pool)).done == 1


async def test_keywords_alert_and_a_promise_waits_for_the_operator(
        pool: Pool, client: Client, store: RecordingStore, service: TranscriptionService,
        make_manager: MakeManager) -> None:
    anna = await make_manager("operator", extensions=("101",))
    refund = await _recorded(pool, store, "1800000710.1", "ru_refund.wav", caller="79161110011", talk_s=5.0)
    promise = await _recorded(pool, store, "1800000711.1", "ru_promise.wav", caller="79161110012", talk_s=5.0)
    for recording_id in (refund, promise):
        transcript_id = await data.queue(pool, recording_id)
        assert transcript_id is not None
        outcome = await transcribe_one(pool, store, service, transcript_id, UTC)
        assert outcome.state == "done", outcome
    [alert] = await pool.fetch("SELECT kind, message, call_id FROM alerts")
    assert alert["kind"] == "keyword" and "«возврат»" in alert["message"]
    again = await data.queue(pool, refund)
    assert again is not None and (await transcribe_one(pool, store, service, again, UTC)).state == "skipped"

    await login(client, anna)
    promise_transcript = await data.queue(pool, promise)
    page = await (await client.get(f"/transcripts/{promise_transcript}")).text()
    assert "перезвоню завтра" in page and 'data-seek="' in page
    [suggestion_id] = [r["id"] for r in await pool.fetch("SELECT id FROM task_suggestions")]
    csrf = await csrf_from(client, f"/transcripts/{promise_transcript}")
    accepted = await client.post(f"/task-suggestions/{suggestion_id}/accept", allow_redirects=False,
                                 data={"_csrf": csrf, "next": "/tasks"})
    assert accepted.status == 303
    task = await pool.fetchrow("SELECT kind, assignee_id, due_at FROM tasks WHERE title LIKE 'Обещали клиенту%'")
    assert task is not None and (task["kind"], task["assignee_id"]) == ("follow_up", anna.id)
    twice = await client.post(f"/task-suggestions/{suggestion_id}/accept", data={"_csrf": csrf})
    assert twice.status == 422

    hits = await (await client.get("/api/v1/search/transcripts", params={"q": "возврат"},
                                   headers={"X-CSRF-Token": csrf})).json()
    assert [h["transcript_id"] for h in hits["items"]] == [await data.queue(pool, refund)]
    search = await (await client.get("/search/transcripts", params={"q": "возврат"})).text()
    assert "<mark>" in search
    assert (await client.get("/api/v1/search/transcripts", params={"q": ""})).status == 422


async def test_silence_and_broken_audio_are_clear_states(pool: Pool, store: RecordingStore,
                                                         service: TranscriptionService) -> None:
    silent = await _recorded(pool, store, "1800000720.1", "silence.wav", caller="79161110021", talk_s=3.0)
    transcript_id = await data.queue(pool, silent)
    assert transcript_id is not None
    assert (await transcribe_one(pool, store, service, transcript_id, UTC)).state == "done"
    assert await pool.fetchval("SELECT count(*) FROM transcript_segments WHERE transcript_id = $1",
                               transcript_id) == 0
    broken = await _recorded(pool, store, "1800000721.1", "ru_refund.wav", caller="79161110022", talk_s=5.0)
    path = await pool.fetchval("SELECT path FROM recordings WHERE id = $1", broken)
    (store.paths.storage / path).write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunk")  # damaged after it was stored
    broken_id = await data.queue(pool, broken)
    assert broken_id is not None
    outcome = await transcribe_one(pool, store, service, broken_id, UTC)
    assert outcome.state == "failed" and outcome.error
    failure = await pool.fetchrow("SELECT state, error, attempts FROM transcripts WHERE id = $1", broken_id)
    assert failure is not None and failure["state"] == "failed" and failure["attempts"] == 1


async def test_admins_see_the_backlog_and_edit_keywords(client: Client, pool: Pool, make_manager: MakeManager
                                                        ) -> None:
    await login(client, await make_manager("admin"))
    page = await (await client.get("/settings/transcription")).text()
    assert 'data-figure="waiting"' in page and "возврат" in page
    csrf = await csrf_from(client, "/settings/transcription")
    saved = await client.post("/settings/transcription/keywords", allow_redirects=False,
                              data={"_csrf": csrf, "keywords": "Претензия\nвозврат"})
    assert saved.status == 303
    assert await data.keywords(pool) == ["возврат", "претензия"]
    bad = await client.post("/settings/transcription/keywords", data={"_csrf": csrf, "keywords": "<script>x"})
    assert bad.status == 422 and "<script>x" not in await bad.text()
    await login(client, await make_manager("operator"))
    assert (await client.get("/settings/transcription")).status == 403


async def test_only_the_best_recording_of_a_call_is_transcribed(pool: Pool, store: RecordingStore) -> None:
    await answered_call(pool, "1800000730.1", talk_s=2.0, ended_at=datetime.now(UTC) - timedelta(seconds=30))
    write_wav(store.paths.incoming / "1800000730.1.wav", 2.0)
    mono = tone(2.0)
    raw = store.paths.incoming / "1800000730.1.raw"
    raw.write_bytes(b"".join(mono[i:i + 2] * 2 for i in range(0, len(mono), 2)))
    age(raw, 60)
    registered = (await register_call(pool, store, "1800000730.1")).registered
    kinds = {await pool.fetchval("SELECT kind FROM recordings WHERE id = $1", r): r for r in registered}
    assert set(kinds) == {"mixed", "stereo"}
    assert await data.queue(pool, kinds["mixed"]) is None  # both voices apart beat them mixed
    stereo = await data.queue(pool, kinds["stereo"])
    assert stereo is not None and await view.of_call(pool, kinds["mixed"]) == stereo
    assert await data.queue_backlog(pool) == 0
