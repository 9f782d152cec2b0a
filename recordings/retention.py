"""Retention: recordings older than N days, then the oldest past the disk limit, archived or deleted.

`plan` is pure (the stored recordings, oldest first, in; which to expire and why, out); `expire` carries
it out one recording at a time, holding that row's lock while its file moves, so a supervisor marking it
"keep" at that moment either wins (nothing moves) or waits a moment. A recording marked keep is never
chosen, for either reason; when the kept ones alone exceed the limit, the plan says so (admins see it).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from crm import recordings as rows
from crm.database import Pool
from crm.recordings import StoredRecording
from recordings.storage import UnsafePath, inside, move, sha256_file
from recordings.store import RecordingStore

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Plan:
    #: Recording id -> why: "age" or "disk".
    expire: dict[int, str]
    #: Bytes still stored once the plan is carried out.
    remaining_bytes: int
    #: The limit cannot be met without touching recordings marked keep.
    over_limit: bool


def plan(stored: list[StoredRecording], now: datetime, *, retention_days: int, limit_bytes: int) -> Plan:
    """Which recordings to expire: by age first, then oldest-first while over the limit; never kept ones."""
    chosen: dict[int, str] = {}
    if retention_days > 0:
        cutoff = now - timedelta(days=retention_days)
        chosen.update({r.id: "age" for r in stored if not r.keep and r.recorded_at < cutoff})
    remaining = sum(r.bytes for r in stored if r.id not in chosen)
    if limit_bytes > 0:
        for item in sorted(stored, key=lambda r: (r.recorded_at, r.id)):
            if remaining <= limit_bytes:
                break
            if item.keep or item.id in chosen:
                continue
            chosen[item.id] = "disk"
            remaining -= item.bytes
    return Plan(chosen, remaining, limit_bytes > 0 and remaining > limit_bytes)


@dataclass
class Expired:
    archived: list[int] = field(default_factory=list)
    deleted: list[int] = field(default_factory=list)
    #: Files already gone from the store when their turn came (recorded as deleted).
    gone: list[int] = field(default_factory=list)
    over_limit: bool = False


def _archive_file(store: RecordingStore, relative: str, digest: str) -> str | None:
    """Move the stored file to the archive; its path there, or None when it was not in the store."""
    source = inside(store.paths.storage, relative)
    if source.exists():
        return move(source, store.paths.archive, relative)
    archived = inside(store.paths.archive, relative)  # moved before, its row not updated (a crash between)
    if archived.exists() and sha256_file(archived) == digest:
        return relative
    return None


def _delete_file(store: RecordingStore, relative: str) -> bool:
    source = inside(store.paths.storage, relative)
    try:
        source.unlink()
    except FileNotFoundError:
        return False
    return True


async def expire(pool: Pool, store: RecordingStore) -> Expired:
    """Carry out today's plan with the configured action (archive or delete)."""
    settings = store.settings
    done = Expired()
    if settings.retention_days <= 0 and settings.disk_limit_bytes <= 0:
        return done
    stored = await rows.stored(pool)
    todo = plan(stored, store.clock(), retention_days=settings.retention_days, limit_bytes=settings.disk_limit_bytes)
    done.over_limit = todo.over_limit
    if todo.over_limit:
        log.warning("recordings: %d bytes stored, over the limit of %d even after expiring all not kept",
                    todo.remaining_bytes, settings.disk_limit_bytes)
    by_id = {r.id: r for r in stored}
    for recording_id, why in todo.expire.items():
        item = by_id[recording_id]
        try:
            await _expire_one(pool, store, item, done)
        except (OSError, UnsafePath):
            log.exception("recording %d could not be expired (%s): left as it is", recording_id, why)
    if todo.expire:
        log.info("recordings expired: %d archived, %d deleted, %d already gone", len(done.archived),
                 len(done.deleted), len(done.gone))
    return done


async def _expire_one(pool: Pool, store: RecordingStore, item: StoredRecording, done: Expired) -> None:
    async with pool.acquire() as conn, conn.transaction():
        if not await rows.claim_for_expiry(conn, item.id):
            return  # marked keep (or expired by another worker) since the plan was made
        if store.settings.expire_action == "archive":
            where = await asyncio.to_thread(_archive_file, store, item.path, item.sha256)
            await rows.mark_expired(conn, item.id, "archived" if where is not None else "deleted", where)
            (done.archived if where is not None else done.gone).append(item.id)
        else:
            removed = await asyncio.to_thread(_delete_file, store, item.path)
            await rows.mark_expired(conn, item.id, "deleted")
            (done.deleted if removed else done.gone).append(item.id)
