"""Transcripts in the database: queued per recording, claimed by one worker at a time, stored with their segments.

Claiming is a row update (`queued`/`failed` → `running`), so the job workers and `perezvon transcribe`
never transcribe one recording twice at once; a `running` row older than `STALE` (a worker killed
mid-way) may be claimed again. A failed one keeps its error for the admins and is retried until
`MAX_ATTEMPTS`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from crm.database import Pool
from recordings.transcription import Transcript

MAX_ATTEMPTS = 5
#: A transcription still `running` after this long lost its worker.
STALE = timedelta(minutes=30)
TEXT_LIMIT = 5000


@dataclass(frozen=True)
class Claimed:
    """A recording to transcribe: where its file is, how its channels are laid out, and its call."""

    transcript_id: int
    recording_id: int
    call_id: int
    path: str
    #: stored / archived: which directory `path` is under.
    recording_state: str
    kind: str
    left_party: str | None
    channels: int
    duration_s: float
    call_started_at: datetime
    call_manager_id: int | None
    customer_id: int | None
    order_id: int | None


#: A call's recordings worth transcribing: the stereo one (both sides apart, who said what); else the two
#: one-side files; else the mixed one (the operator's voice over the customer's is heard worst).
BEST = """NOT EXISTS (SELECT 1 FROM recordings o WHERE o.call_id = r.call_id AND o.id <> r.id AND o.state <> 'deleted'
                  AND (r.kind = 'mixed' OR r.kind IN ('operator', 'customer') AND o.kind = 'stereo'))"""


async def queue(pool: Pool, recording_id: int) -> int | None:
    """The recording's transcript row (new or existing); None when the recording is gone, or another of its
    call's recordings is the one to transcribe (`BEST`)."""
    transcript_id: int | None = await pool.fetchval(
        "INSERT INTO transcripts (recording_id, call_id) SELECT id, call_id FROM recordings r "
        f"WHERE r.id = $1 AND r.state <> 'deleted' AND {BEST} "
        "ON CONFLICT (recording_id) DO UPDATE SET recording_id = EXCLUDED.recording_id RETURNING id", recording_id)
    return transcript_id


async def queue_backlog(pool: Pool, since: datetime | None = None, *, retry_failed: bool = False) -> int:
    """Transcript rows for every stored recording (since `since`) that has none; failed ones reset when asked."""
    added = await pool.execute(
        "INSERT INTO transcripts (recording_id, call_id) SELECT r.id, r.call_id FROM recordings r "
        f"WHERE r.state <> 'deleted' AND ($1::timestamptz IS NULL OR r.recorded_at >= $1) AND {BEST} "
        "ON CONFLICT (recording_id) DO NOTHING", since)
    if retry_failed:
        await pool.execute("UPDATE transcripts SET state = 'queued', attempts = 0 WHERE state = 'failed'")
    return int(added.split()[-1])


async def waiting(pool: Pool, since: datetime | None = None) -> list[int]:
    """Transcripts still to do (oldest recording first), for the backlog command."""
    rows = await pool.fetch(
        "SELECT t.id FROM transcripts t JOIN recordings r ON r.id = t.recording_id "
        "WHERE t.state IN ('queued', 'failed') AND t.attempts < $2 "
        "AND ($1::timestamptz IS NULL OR r.recorded_at >= $1) ORDER BY r.recorded_at, t.id", since, MAX_ATTEMPTS)
    return [r["id"] for r in rows]


CLAIM = """
UPDATE transcripts t SET state = 'running', attempts = t.attempts + 1, started_at = $2, error = ''
FROM recordings r JOIN calls c ON c.id = r.call_id
WHERE t.id = $1 AND r.id = t.recording_id AND r.state <> 'deleted'
  AND (t.state IN ('queued', 'failed') AND t.attempts < $3
       OR t.state = 'running' AND t.started_at < $2::timestamptz - $4::interval)
RETURNING t.id, r.id AS recording_id, r.call_id, r.path, r.state AS recording_state, r.kind, r.left_party,
          r.channels, r.duration_s, c.started_at, c.manager_id, r.customer_id, r.order_id
"""


async def claim(pool: Pool, transcript_id: int, now: datetime) -> Claimed | None:
    """Take the transcript for this worker; None when another has it, it is done, or out of attempts."""
    row = await pool.fetchrow(CLAIM, transcript_id, now, MAX_ATTEMPTS, STALE)
    if row is None:
        return None
    return Claimed(row["id"], row["recording_id"], row["call_id"], row["path"], row["recording_state"], row["kind"],
                   row["left_party"], row["channels"], row["duration_s"], row["started_at"], row["manager_id"],
                   row["customer_id"], row["order_id"])


async def fail(pool: Pool, transcript_id: int, error: str) -> None:
    await pool.execute("UPDATE transcripts SET state = 'failed', error = $2 WHERE id = $1 AND state = 'running'",
                       transcript_id, error[:2000])


async def store(pool: Pool, transcript_id: int, transcript: Transcript, *, orders: list[str],
                keywords: list[str]) -> None:
    """The segments and figures, replacing any earlier attempt's; the row becomes `done`."""
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("DELETE FROM transcript_segments WHERE transcript_id = $1", transcript_id)
        await conn.executemany(
            "INSERT INTO transcript_segments (transcript_id, position, start_s, end_s, speaker, text) "
            "VALUES ($1, $2, $3, $4, $5, $6)",
            [(transcript_id, n, max(0.0, s.start_s), max(s.start_s, s.end_s, 0.0), s.speaker, s.text[:TEXT_LIMIT])
             for n, s in enumerate(transcript.segments) if s.text.strip()])
        await conn.execute(
            "UPDATE transcripts SET state = 'done', done_at = now(), engine = $2, model = $3, language = $4, "
            "duration_s = $5, elapsed_s = $6, orders_mentioned = $7, keywords_found = $8, error = '' WHERE id = $1",
            transcript_id, transcript.engine[:40], transcript.model[:300], transcript.language[:8],
            transcript.duration_s, transcript.elapsed_s, orders, keywords)


@dataclass(frozen=True)
class Backlog:
    """What admins see: how much is waiting, and roughly how long it will take at the recent pace."""

    waiting: int
    running: int
    failed: int
    done: int
    audio_s_waiting: float
    #: Seconds of work per second of audio over the last transcriptions (None before any).
    recent_rtf: float | None

    @property
    def eta_s(self) -> float | None:
        return None if self.recent_rtf is None else self.audio_s_waiting * self.recent_rtf


async def backlog(pool: Pool) -> Backlog:
    row = await pool.fetchrow(
        "SELECT count(*) FILTER (WHERE t.state = 'queued' OR t.state = 'failed' AND t.attempts < $1) AS waiting, "
        "count(*) FILTER (WHERE t.state = 'running') AS running, "
        "count(*) FILTER (WHERE t.state = 'failed' AND t.attempts >= $1) AS failed, "
        "count(*) FILTER (WHERE t.state = 'done') AS done, "
        "coalesce(sum(r.duration_s) FILTER (WHERE t.state <> 'done'), 0) AS audio_waiting "
        "FROM transcripts t JOIN recordings r ON r.id = t.recording_id", MAX_ATTEMPTS)
    rtf = await pool.fetchval(
        "SELECT sum(elapsed_s) / nullif(sum(duration_s), 0) FROM (SELECT elapsed_s, duration_s FROM transcripts "
        "WHERE state = 'done' AND duration_s > 0 ORDER BY done_at DESC LIMIT 50) recent")
    assert row is not None
    return Backlog(row["waiting"], row["running"], row["failed"], row["done"], float(row["audio_waiting"]),
                   None if rtf is None else float(rtf))


@dataclass(frozen=True)
class Failure:
    transcript_id: int
    recording_id: int
    attempts: int
    error: str
    at: datetime | None


async def failures(pool: Pool, limit: int = 50) -> list[Failure]:
    rows = await pool.fetch("SELECT id, recording_id, attempts, error, started_at FROM transcripts "
                            "WHERE state = 'failed' ORDER BY started_at DESC NULLS LAST LIMIT $1", limit)
    return [Failure(r["id"], r["recording_id"], r["attempts"], r["error"], r["started_at"]) for r in rows]


async def keywords(pool: Pool) -> list[str]:
    return [r["word"] for r in await pool.fetch("SELECT word FROM transcript_keywords ORDER BY word")]
