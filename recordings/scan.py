"""The recordings directory looked over as a whole: what the per-call registration cannot see.

Every few minutes: a file of a call that has ended but whose registration never ran (a job lost, a call
recovered from the PBX's records after an outage, a header-only file closed after its call was looked
at) is handed back to the registration; a file whose name is no call we know, once older than the wait,
is reported on the admins' page and left where it is (its call may yet appear); a name the registration
would never take (not `<Linkedid>.wav` and kin, a symlink, a directory) is reported too. Nothing here
moves or deletes a file. Names starting with a dot (a sync tool's temporary files) are not looked at.
"""

from __future__ import annotations

import asyncio
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

from crm import recordings as rows
from crm.database import Pool
from recordings.register import source_of
from recordings.storage import safe_linkedid
from recordings.store import RecordingStore

#: In-place problems: the scan closes them when their file has gone from the directory.
IN_PLACE = ("unknown_call", "refused")
MAX_ENTRIES = 100_000


@dataclass(frozen=True)
class Entry:
    name: str
    regular: bool
    symlink: bool
    mtime: float
    size: int


@dataclass
class ScanReport:
    #: Linkedids to register (their calls have ended).
    to_register: list[str] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    seen: int = 0


def list_entries(directory: Path) -> list[Entry]:
    """The directory's entries (not followed), at most MAX_ENTRIES; [] when it does not exist yet."""
    found: list[Entry] = []
    try:
        with os.scandir(directory) as entries:
            for entry in entries:
                if entry.name.startswith("."):
                    continue
                try:
                    info = entry.stat(follow_symlinks=False)
                except FileNotFoundError:
                    continue
                found.append(Entry(entry.name, stat.S_ISREG(info.st_mode), stat.S_ISLNK(info.st_mode),
                                   info.st_mtime, info.st_size))
                if len(found) >= MAX_ENTRIES:
                    break
    except FileNotFoundError:
        return []
    return found


async def scan_incoming(pool: Pool, store: RecordingStore) -> ScanReport:
    report = ScanReport()
    entries = await asyncio.to_thread(list_entries, store.paths.incoming)
    report.seen = len(entries)
    now = store.clock().timestamp()
    problems = {p.file_name: p.kind for p in await rows.open_problems(pool, kinds=IN_PLACE, limit=MAX_ENTRIES)}
    ours: dict[str, list[Entry]] = {}
    for entry in entries:
        parsed = source_of(entry.name)
        reason = ""
        if entry.symlink:
            reason = "a symlink: not followed"
        elif not entry.regular:
            reason = "not a plain file"
        elif parsed is None:
            reason = "not a recording name (<Linkedid>.wav, -in.wav, -out.wav or .raw)"
        elif not safe_linkedid(parsed[0]):
            reason = "the name is not a call id"
        if reason:
            if entry.name not in problems:
                await rows.record_problem(pool, entry.name, "refused", reason, size=entry.size)
            report.refused.append(entry.name)
            continue
        assert parsed is not None
        ours.setdefault(parsed[0], []).append(entry)
    known = await rows.known_calls(pool, list(ours))
    for linkedid, files in ours.items():
        call = known.get(linkedid)
        if call is None:
            for entry in files:
                if now - entry.mtime > store.settings.wait_s:
                    if problems.get(entry.name) != "unknown_call":
                        await rows.record_problem(pool, entry.name, "unknown_call", "no call has this id",
                                                  size=entry.size)
                    report.unknown.append(entry.name)
            continue
        ended, _state = call
        if ended and any(problems.get(e.name) != "refused" for e in files):
            report.to_register.append(linkedid)
    present = {e.name for e in entries}
    await rows.resolve_problems(pool, [name for name in problems if name not in present])
    return report
