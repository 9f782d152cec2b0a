"""`perezvon transcribe --all | --since DATE`: work through a backlog of recordings here, with a progress bar.

For recordings registered before transcription was switched on, or after a long outage of the workers.
It queues a transcript for every recording that has none (in the range), then transcribes the waiting
ones in this process, oldest first; the service's own workers keep going meanwhile and the shared claim
keeps any recording from being done twice. The bar shows recordings done, audio minutes, and the time
left at the pace so far.
"""

from __future__ import annotations

import sys
from datetime import UTC, date, datetime, time

from tqdm import tqdm

from crm.routing.hours import zone
from crm.transcripts import data
from recordings.store import RecordingStore
from recordings.transcribing import TranscriptionService, transcribe_one
from web.config import Settings
from web.service import Database


def since_of(raw: str | None, timezone: str) -> datetime | None:
    """The start of that day in the shop's time zone; None for --all."""
    if raw is None:
        return None
    return datetime.combine(date.fromisoformat(raw), time(), zone(timezone) or UTC)


async def transcribe_backlog(settings: Settings, db: Database, *, since: datetime | None, retry_failed: bool,
                             limit: int | None = None) -> int:
    service = TranscriptionService(settings.transcription, settings.database.data_dir)
    if (missing := service.missing_package()) is not None:
        print(f"the {settings.transcription.engine} engine is not installed (no {missing!r} package): "
              "pip install 'perezvon[transcribe]'", file=sys.stderr)
        return 2
    store = RecordingStore.from_settings(settings.recordings, settings.database.data_dir)
    queued = await data.queue_backlog(db.pool, since, retry_failed=retry_failed)
    todo = await data.waiting(db.pool, since)
    if limit is not None:
        todo = todo[:limit]
    print(f"{queued} recordings queued now; {len(todo)} to transcribe", flush=True)
    tz = zone(settings.crm.timezone) or UTC
    failed = done = 0
    audio_s = 0.0
    with tqdm(total=len(todo), unit="rec", desc="transcribing", file=sys.stderr) as bar:
        for transcript_id in todo:
            outcome = await transcribe_one(db.pool, store, service, transcript_id, tz)
            done += outcome.state == "done"
            failed += outcome.state == "failed"
            audio_s += outcome.audio_s
            bar.set_postfix(audio_min=f"{audio_s / 60:.1f}", failed=failed, refresh=False)
            bar.update(1)
    service.close()
    print(f"done: {done} transcribed, {failed} failed, {len(todo) - done - failed} taken by other workers",
          flush=True)
    return 1 if failed else 0
