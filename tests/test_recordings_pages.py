"""Recordings over HTTP and on the job queue: playback with range requests, the call's scope, download and keep
for supervisors, players on the journal, the card and the order, the admins' page (escaped), the jobs
(once per call, re-deferred while awaited, flagged after the wait), and the retention on real files."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient

from crm import recordings
from crm.database import Pool
from recordings import retention
from recordings.register import register_call
from recordings.scan import scan_incoming
from recordings.store import RecordingStore
from tests.calls_scenarios import inbound_answered
from tests.conftest import MakeManager, login
from tests.recording_helpers import Clock, answered_call, customer_with_order, make_store, write_wav
from web.config import Settings
from web.jobs.queue import JobEnvironment
from web.jobs.recordings import defer_register
from web.jobs.runtime import CallJobs, job_app
from web.live.hub import Audience

Client = TestClient[web.Request, web.Application]
LID = "1800000200.5"
PHONE = "+79161110001"


def app_store(settings: Settings, clock: Clock | None = None) -> RecordingStore:
    """The store the app under test serves from (the same directories), with the test's clock."""
    store = RecordingStore.from_settings(settings.recordings, settings.database.data_dir, clock or Clock())
    store.ensure_dirs()
    return store


async def _registered(pool: Pool, store: RecordingStore, linkedid: str = LID, seconds: float = 3.0) -> tuple[int,
                                                                                                             bytes]:
    data = write_wav(store.paths.incoming / f"{linkedid}.wav", seconds)
    [recording_id] = (await register_call(pool, store, linkedid)).registered
    return recording_id, data


async def test_playback_answers_range_requests(client: Client, pool: Pool, settings: Settings,
                                               make_manager: MakeManager) -> None:
    await make_manager("operator", extensions=("101",))
    await answered_call(pool, LID)
    recording_id, data = await _registered(pool, app_store(settings))
    await login(client, await make_manager("supervisor"))
    whole = await client.get(f"/recordings/{recording_id}")
    assert whole.status == 200 and whole.headers["Content-Type"] == "audio/wav"
    assert whole.headers["Accept-Ranges"] == "bytes" and await whole.read() == data
    assert whole.headers["Content-Disposition"].startswith("inline")
    part = await client.get(f"/recordings/{recording_id}", headers={"Range": "bytes=100-199"})
    assert part.status == 206
    assert part.headers["Content-Range"] == f"bytes 100-199/{len(data)}"
    assert await part.read() == data[100:200]
    tail = await client.get(f"/recordings/{recording_id}", headers={"Range": "bytes=-44"})
    assert tail.status == 206 and await tail.read() == data[-44:]
    download = await client.get(f"/recordings/{recording_id}?download=1")
    assert download.status == 200
    assert download.headers["Content-Disposition"] == f'attachment; filename="call-{LID}.wav"'
    assert (await client.get("/recordings/999999")).status == 404


async def test_operators_play_their_calls_and_their_customers_only(client: Client, pool: Pool, settings: Settings,
                                                                   make_manager: MakeManager) -> None:
    anna = await make_manager("operator", extensions=("101",))
    boris = await make_manager("operator", extensions=("102",))
    customer_id, _ = await customer_with_order(pool, PHONE)  # nobody's customer: both see the card
    await answered_call(pool, LID, caller=PHONE[1:])
    recording_id, _ = await _registered(pool, app_store(settings))
    await login(client, anna)
    assert (await client.get(f"/recordings/{recording_id}")).status == 200
    assert (await client.get(f"/recordings/{recording_id}?download=1")).status == 403  # supervisors only
    card = await (await client.get(f"/customers/{customer_id}")).text()
    assert f'<audio controls preload="none" src="/recordings/{recording_id}">' in card
    journal = await (await client.get("/calls")).text()
    assert f'src="/recordings/{recording_id}"' in journal and "recording-download" not in journal
    await login(client, boris)
    refused = await client.get(f"/recordings/{recording_id}", headers={"Range": "bytes=0-99"})
    assert refused.status == 404  # the same answer as for no recording at all
    card = await (await client.get(f"/customers/{customer_id}")).text()
    assert "Петрова Анна" in card and f"/recordings/{recording_id}" not in card
    await pool.execute("UPDATE customers SET responsible_manager_id = $1 WHERE id = $2", boris.id, customer_id)
    assert (await client.get(f"/recordings/{recording_id}")).status == 200  # now his customer's call


async def test_supervisors_keep_and_download_and_see_it_on_the_order(client: Client, pool: Pool,
                                                                      settings: Settings,
                                                                      make_manager: MakeManager) -> None:
    anna = await make_manager("operator", extensions=("101",))
    _, order_id = await customer_with_order(pool, PHONE, anna.id)
    await answered_call(pool, LID, caller=PHONE[1:])
    recording_id, _ = await _registered(pool, app_store(settings))
    csrf = await login(client, anna)
    order_page = await (await client.get(f"/orders/{order_id}")).text()
    assert f'src="/recordings/{recording_id}"' in order_page and "recording-keep" not in order_page
    refused = await client.post(f"/recordings/{recording_id}/keep", data={"_csrf": csrf, "keep": "1"},
                                allow_redirects=False)
    assert refused.status == 403
    csrf = await login(client, await make_manager("supervisor"))
    order_page = await (await client.get(f"/orders/{order_id}")).text()
    assert "recording-keep" in order_page and f"/recordings/{recording_id}?download=1" in order_page
    kept = await client.post(f"/recordings/{recording_id}/keep", allow_redirects=False,
                             data={"_csrf": csrf, "keep": "1", "next": f"/orders/{order_id}"})
    assert kept.status == 303 and kept.headers["Location"] == f"/orders/{order_id}"
    assert (await recordings.get_recording(pool, recording_id)).keep
    assert "Снять «хранить всегда»" in await (await client.get(f"/orders/{order_id}")).text()
    await client.post(f"/recordings/{recording_id}/keep", data={"_csrf": csrf, "keep": "0",
                                                                "next": "https://evil.example/"})
    assert not (await recordings.get_recording(pool, recording_id)).keep


async def test_a_tampered_path_or_a_swapped_file_is_never_served(client: Client, pool: Pool, settings: Settings,
                                                                 make_manager: MakeManager, tmp_path: Path) -> None:
    await make_manager("operator", extensions=("101",))
    await answered_call(pool, LID)
    store = app_store(settings)
    recording_id, _ = await _registered(pool, store)
    stored = await recordings.get_recording(pool, recording_id)
    await login(client, await make_manager("supervisor"))
    secret = tmp_path / "secret.txt"
    secret.write_text("not for the browser")
    target = store.paths.storage / stored.path
    target.unlink()
    target.symlink_to(secret)
    assert (await client.get(f"/recordings/{recording_id}")).status == 404
    target.unlink()
    assert (await client.get(f"/recordings/{recording_id}")).status == 404  # the file is missing: said, not a 500
    await pool.execute("ALTER TABLE recordings DROP CONSTRAINT recordings_path_check")  # as an intruder could
    await pool.execute("UPDATE recordings SET path = '../../../secret.txt' WHERE id = $1", recording_id)
    response = await client.get(f"/recordings/{recording_id}")
    assert response.status == 404 and "not for the browser" not in await response.text()


async def test_the_admins_page_shows_space_settings_and_problems_escaped(client: Client, pool: Pool,
                                                                          settings: Settings,
                                                                          make_manager: MakeManager) -> None:
    await make_manager("operator", extensions=("101",))
    store = app_store(settings)
    await answered_call(pool, LID)
    await _registered(pool, store)
    await answered_call(pool, "1800000200.6", caller="79161110007")
    await pool.execute("UPDATE calls SET recording_state = 'missing' WHERE linkedid = '1800000200.6'")
    write_wav(store.paths.incoming / "<img src=x onerror=alert(1)>.wav", 1.0)
    write_wav(store.paths.incoming / "1800000777.1.wav", 1.0, age_s=10_000)
    await scan_incoming(pool, store)
    await login(client, await make_manager("operator"))
    assert (await client.get("/settings/recordings")).status == 403
    await login(client, await make_manager("admin"))
    page = await (await client.get("/settings/recordings")).text()
    assert "Записи звонков" in page and 'href="/settings/recordings"' in page
    assert "<img src=x" not in page and "&lt;img src=x onerror=alert(1)&gt;.wav" in page
    assert "1800000777.1.wav" in page and "нет такого звонка" in page
    assert "1800000200.6" in page and "Нет записи" in page
    assert str(store.paths.incoming) in page and "бессрочно" in page
    assert re.search(r'recordings-stored"><span class="value">1</span>', page)


class CaptureBus:
    def __init__(self) -> None:
        self.sent: list[tuple[Audience, Mapping[str, Any]]] = []

    async def publish(self, audience: Audience, message: Mapping[str, Any]) -> None:
        self.sent.append((audience, message))


async def _run_worker(app: Any, env: JobEnvironment) -> None:
    await app.run_worker_async(wait=False, install_signal_handlers=False, queues=["recordings"],
                               additional_context={"env": env})


async def test_the_job_registers_once_and_tells_the_pop(pool: Pool, db_dsn: str, tmp_path: Path,
                                                        make_manager: MakeManager) -> None:
    anna = await make_manager("operator", extensions=("101",))
    await answered_call(pool, LID)
    store = make_store(tmp_path, Clock())
    write_wav(store.paths.incoming / f"{LID}.wav", 3.0)
    bus = CaptureBus()
    env = JobEnvironment(pool, bus, recordings=store)
    app = job_app(db_dsn)
    async with app.open_async():
        assert await defer_register(app, LID) and not await defer_register(app, LID)  # one waiting per call
        await _run_worker(app, env)
        await defer_register(app, LID)  # once more after it ran: still one recording
        await _run_worker(app, env)
    assert await pool.fetchval("SELECT count(*) FROM recordings") == 1
    assert await pool.fetchval("SELECT count(*) FROM procrastinate_jobs WHERE task_name = 'register_recording' "
                               "AND status = 'succeeded'") == 2
    [(audience, message)] = bus.sent
    assert audience.managers == frozenset({anna.id}) and message["type"] == "recording.ready"
    assert message["call"] == LID and message["url"] == f"/recordings/{message['recording']}"


async def test_an_awaited_recording_is_re_deferred_then_flagged_missing(pool: Pool, db_dsn: str, tmp_path: Path,
                                                                         make_manager: MakeManager) -> None:
    await make_manager("operator", extensions=("101",))
    ended = datetime.now(UTC) - timedelta(seconds=2)
    await answered_call(pool, LID, ended_at=ended)
    clock = Clock(ended + timedelta(seconds=2))
    env = JobEnvironment(pool, CaptureBus(), recordings=make_store(tmp_path, clock, wait_s=300))
    app = job_app(db_dsn)
    async with app.open_async():
        await defer_register(app, LID)
        await _run_worker(app, env)
        later = await pool.fetchrow("SELECT args, scheduled_at, queueing_lock, lock FROM procrastinate_jobs "
                                    "WHERE status = 'todo' AND task_name = 'register_recording'")
        assert later is not None and later["args"] == {"linkedid": LID, "attempt": 1}
        assert later["queueing_lock"] == later["lock"] == f"recording:{LID}"
        assert later["scheduled_at"] > datetime.now(UTC)  # five seconds on, not a sleep of ours
        assert (await pool.fetchval("SELECT recording_state FROM calls WHERE linkedid = $1", LID)) == "pending"
        clock.advance(400)  # the wait is over when it runs
        await pool.execute("UPDATE procrastinate_jobs SET scheduled_at = now() WHERE status = 'todo' "
                           "AND task_name = 'register_recording'")
        await _run_worker(app, env)
    assert await pool.fetchval("SELECT recording_state FROM calls WHERE linkedid = $1", LID) == "missing"
    assert await pool.fetchval("SELECT count(*) FROM procrastinate_jobs WHERE status = 'todo' "
                               "AND task_name = 'register_recording'") == 0


async def test_a_written_call_end_queues_its_recording_job(pool: Pool, db_dsn: str) -> None:
    app = job_app(db_dsn)
    async with app.open_async():
        feeder = CallJobs(app, pool)
        runner = asyncio.create_task(feeder.run())
        try:
            for _ in range(2):
                feeder.on_written(inbound_answered(lid=LID)[-1])
            await feeder.drain()
        finally:
            runner.cancel()
    locks = await pool.fetch("SELECT task_name, queueing_lock FROM procrastinate_jobs ORDER BY task_name")
    assert [(r["task_name"], r["queueing_lock"]) for r in locks] == [("call_ended", f"call:{LID}"),
                                                                     ("register_recording", f"recording:{LID}")]


async def test_retention_archives_by_age_and_deletes_past_the_limit_never_kept(
        pool: Pool, tmp_path: Path, make_manager: MakeManager) -> None:
    await make_manager("operator", extensions=("101",))
    clock = Clock()
    store = make_store(tmp_path, clock, retention_days=30)
    ids = []
    for n in range(4):
        linkedid = f"1800000300.{n}"
        await answered_call(pool, linkedid, caller=f"7916111004{n}")
        ids.append((await _registered(pool, store, linkedid, seconds=1.0))[0])
    for n, days in enumerate((90, 60, 10, 1)):  # ids[0] oldest
        await pool.execute("UPDATE recordings SET recorded_at = now() - make_interval(days => $2) WHERE id = $1",
                           ids[n], days)
    await recordings.set_keep(pool, ids[0], True, None)
    done = await retention.expire(pool, store)
    assert done.archived == [ids[1]] and done.deleted == []
    archived = await recordings.get_recording(pool, ids[1])
    assert archived.state == "archived" and (store.paths.archive / archived.path).exists()
    assert not (store.paths.storage / archived.path).exists()
    kept = await recordings.get_recording(pool, ids[0])
    assert kept.state == "stored" and (store.paths.storage / kept.path).exists()
    assert await retention.expire(pool, store) == retention.Expired()  # nothing more to do
    size = kept.bytes
    limited = make_store(tmp_path, clock, expire_action="delete", disk_limit_mb=1)
    await pool.execute("UPDATE recordings SET bytes = bytes + 1024 * 1024 WHERE id = $1", ids[0])  # kept, 1 MB
    done = await retention.expire(pool, limited)
    assert done.deleted == [ids[2], ids[3]] and done.over_limit  # oldest first; the kept one stays, still over
    gone = await recordings.get_recording(pool, ids[2])
    assert gone.state == "deleted" and not (store.paths.storage / gone.path).exists()
    assert (store.paths.storage / kept.path).stat().st_size == size
