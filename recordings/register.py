"""Registering a call's recordings: find, verify, checksum, store, link; or wait, drop, quarantine, flag.

What the dialplan must write, in the recordings directory, named from the call's Linkedid:

- `<Linkedid>.wav` — MixMonitor's mixed file (kind `mixed`);
- `<Linkedid>-in.wav` / `<Linkedid>-out.wav` — its `r()` / `t()` files: the audio the recorded channel
  receives / is sent. MixMonitor runs on the customer's trunk channel for inbound calls and on the
  operator's channel for outbound and click-to-call ones, so `-in` is the customer inbound and the
  operator outbound (kinds `customer` / `operator`);
- `<Linkedid>.raw` — option `D`: both directions as two interleaved 16-bit 8 kHz channels (converted to a
  WAV, kind `stereo`, its first channel the side `-in` would hold).

Each file is decided on by `decide` (pure): registered when it holds audio (a truncated one as far as it
goes, once the wait is over), waited for while it may still be written, dropped when it is the header an
unanswered call leaves, moved to the quarantine when it holds nothing readable; never overwritten, never
deleted with audio in it. The run is idempotent: a kind registered once is never registered again, and a
file already stored is recognised by its checksum.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import os
import stat
import uuid
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path

from crm import recordings as rows
from crm.database import Pool
from crm.recordings import CallForRecording, NewRecording
from recordings import raw_convert
from recordings.storage import (
    UnsafePath,
    dated_path,
    move,
    open_regular,
    place,
    quarantine_name,
    remove_if_same,
    safe_linkedid,
    sha256_file,
)
from recordings.store import RecordingStore
from recordings.wav_check import Inspection, Verdict, inspect_fd, repair_header

log = logging.getLogger(__name__)

#: A file changed this recently may still be being written or copied: looked at again later.
SETTLE_S = 2.0
FIRST_RETRY_S = 5.0
MAX_RETRY_S = 60.0
#: A call that never ended (its end not seen) is not waited for past this.
OPEN_CALL_GIVE_UP = timedelta(days=1)

#: (file name suffix, what MixMonitor wrote it with).
SOURCES = ((".wav", "mixed"), ("-in.wav", "receive"), ("-out.wav", "transmit"), (".raw", "raw"))
STORED_SUFFIX = {"mixed": "", "operator": "-operator", "customer": "-customer", "stereo": "-stereo"}


class Action(enum.Enum):
    REGISTER = "register"
    WAIT = "wait"
    DROP = "drop"
    QUARANTINE = "quarantine"


def file_names(linkedid: str) -> list[tuple[str, str]]:
    """The names a call's recordings may have, with their source."""
    return [(linkedid + suffix, source) for suffix, source in SOURCES]


def source_of(file_name: str) -> tuple[str, str] | None:
    """(Linkedid, source) of a file name in the recordings directory; None for any other name."""
    for suffix, source in sorted(SOURCES, key=lambda s: -len(s[0])):
        if file_name.endswith(suffix) and len(file_name) > len(suffix):
            return file_name[: -len(suffix)], source
    return None


def kind_of(source: str, direction: str) -> tuple[str, str | None]:
    """(kind, the party on the first channel of a stereo file) of a source on a call of this direction."""
    receive = "customer" if direction == "inbound" else "operator"
    transmit = "operator" if receive == "customer" else "customer"
    match source:
        case "receive":
            return receive, None
        case "transmit":
            return transmit, None
        case "raw":
            return "stereo", receive
        case _:
            return "mixed", None


def expects_audio(call: CallForRecording) -> bool:
    """The dialplan records answered calls to and from customers (not internal ones)."""
    return call.outcome == "answered" and call.direction in ("inbound", "outbound")


def decide(inspection: Inspection, *, expected: bool, waiting: bool, settled: bool) -> Action:
    """What to do with a file: `expected` audio on the call, still `waiting` (within the wait after the end),
    the file `settled` (not changed in the last seconds).

    Cut-short and unfinished files are waited for (a copy or a writer may still be at work), then kept as far
    as they go; a file with no audio at all is quarantined, except the bare header an unanswered call leaves,
    which is dropped (once the wait is over when the call was answered: MixMonitor may not have closed it)."""
    if waiting and not settled:
        return Action.WAIT
    has_frames = inspection.info is not None and inspection.info.frames > 0
    match inspection.verdict:
        case Verdict.OK:
            return Action.REGISTER
        case Verdict.TRUNCATED | Verdict.UNFINISHED:
            if waiting:
                return Action.WAIT
            return Action.REGISTER if has_frames else Action.QUARANTINE
        case Verdict.EMPTY:
            return Action.WAIT if waiting else Action.QUARANTINE
        case Verdict.HEADER_ONLY:
            return Action.WAIT if waiting and expected else Action.DROP
        case _:
            return Action.QUARANTINE


@dataclass(frozen=True)
class Examined:
    name: str
    source: str
    path: Path
    size: int = 0
    mtime: float = 0.0
    inspection: Inspection | None = None
    #: Why the file is left alone (a symlink, not a plain file); '' when it can be read.
    refused: str = ""


@dataclass
class Registration:
    """What one run did for a call."""

    state: str = "none"
    registered: list[int] = field(default_factory=list)
    #: Seconds until the next look (None: nothing more to wait for).
    retry_in_s: float | None = None
    dropped: list[str] = field(default_factory=list)
    quarantined: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    unknown_call: bool = False
    #: The call's operator and the managers it rang (whose pops may show the player).
    people: tuple[int, ...] = ()


def _raw_inspection(fd: int) -> Inspection:
    size = os.fstat(fd).st_size
    if size == 0:
        # What MixMonitor's D option leaves for a call never bridged: the .raw twin of the 44-byte header.
        return Inspection(Verdict.HEADER_ONLY, "zero-length raw stream: no audio")
    if size < raw_convert.FRAME_BYTES:
        return Inspection(Verdict.CORRUPT, "less than one stereo frame")
    return Inspection(Verdict.OK)


def examine(path: Path, name: str, source: str) -> Examined | None:
    """The file's verdict, without following a symlink; None when there is no such file."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return None
    if stat.S_ISLNK(info.st_mode):
        return Examined(name, source, path, refused="a symlink: not followed")
    if not stat.S_ISREG(info.st_mode):
        return Examined(name, source, path, refused="not a plain file")
    try:
        fd = open_regular(path)
    except FileNotFoundError:
        return None
    except (UnsafePath, OSError) as exc:
        return Examined(name, source, path, refused=f"cannot be opened: {exc}")
    try:
        inspection = _raw_inspection(fd) if source == "raw" else inspect_fd(fd)
        st = os.fstat(fd)
    finally:
        os.close(fd)
    return Examined(name, source, path, size=st.st_size, mtime=st.st_mtime, inspection=inspection)


def retry_delay(attempt: int, remaining_s: float) -> float:
    """Backoff (5 s, 10 s, 20 s ... at most a minute), and a last look just after the wait ends."""
    delay = min(MAX_RETRY_S, FIRST_RETRY_S * (1 << min(max(0, attempt), 10)))
    return max(1.0, min(delay, remaining_s + 1.0))


async def register_call(pool: Pool, store: RecordingStore, linkedid: str, *, attempt: int = 0) -> Registration:
    """Look for the call's recordings and do what each file calls for; the call's recording state follows."""
    result = Registration()
    call = await rows.call_for_recording(pool, linkedid)
    if call is None:
        result.unknown_call = True  # the scan of the directory reports its files once they are old enough
        return result
    now = store.clock()
    expected = expects_audio(call)
    result.people = tuple(sorted({m for m in (call.manager_id, *call.rang) if m is not None}))
    if not safe_linkedid(linkedid):
        await rows.record_problem(pool, linkedid, "refused", "the call id cannot be a file name", call_id=call.id)
        result.state = "missing" if expected else "none"
        result.refused.append(linkedid)
        await rows.set_call_state(pool, call.id, result.state)
        return result
    if call.ended_at is None:
        if now - call.started_at < OPEN_CALL_GIVE_UP:
            result.state, result.retry_in_s = "pending", retry_delay(attempt, MAX_RETRY_S)
        return result
    window_end = call.ended_at + timedelta(seconds=store.settings.wait_s)
    waiting = now < window_end
    found = [e for e in await asyncio.gather(*(
        asyncio.to_thread(examine, store.paths.incoming / name, name, source) for name, source in file_names(linkedid)))
        if e is not None]
    known = await rows.registered(pool, call.id)
    waited = quarantined = False
    for item in found:
        if item.refused or item.inspection is None:
            await rows.record_problem(pool, item.name, "refused", item.refused, call_id=call.id, size=item.size)
            result.refused.append(item.name)
            continue
        settled = now.timestamp() - item.mtime >= SETTLE_S
        action = decide(item.inspection, expected=expected, waiting=waiting, settled=settled)
        if action is Action.WAIT:
            waited = True
        elif action is Action.DROP:
            await asyncio.to_thread(_drop, item.path)
            result.dropped.append(item.name)
        elif action is Action.QUARANTINE:
            await _quarantine(pool, store, call, item, now)
            result.quarantined.append(item.name)
            quarantined = True
        else:
            new_id = await _register(pool, store, call, item, known, result)
            if new_id is not None:
                result.registered.append(new_id)
    known = await rows.registered(pool, call.id)
    if known:
        result.state = "registered"
    elif waited or (expected and waiting):
        result.state = "pending"
        result.retry_in_s = retry_delay(attempt, (window_end - now).total_seconds())
    elif quarantined:
        result.state = "corrupt"
    elif expected and (not result.dropped or (call.talk_s or 0.0) > store.settings.duration_tolerance_s):
        result.state = "missing"  # nothing came, or only a bare header for a call with seconds of talk
    await rows.set_call_state(pool, call.id, result.state)
    if result.state in ("missing", "corrupt"):
        log.warning("call %s: recording %s", linkedid, result.state)
    return result


def _drop(path: Path) -> None:
    """An unanswered call's header-only file: nothing to keep."""
    try:
        path.unlink()
    except FileNotFoundError:
        pass


async def _quarantine(pool: Pool, store: RecordingStore, call: CallForRecording, item: Examined,
                      now: datetime) -> None:
    assert item.inspection is not None
    kind = "empty" if item.inspection.verdict is Verdict.EMPTY else "corrupt"
    where = await asyncio.to_thread(move, item.path, store.paths.quarantine, quarantine_name(now, item.name))
    await rows.record_problem(pool, item.name, kind, item.inspection.reason, call_id=call.id, quarantine_path=where,
                              size=item.size)
    log.warning("call %s: %s moved to the quarantine as %s (%s)", call.linkedid, item.name, where,
                item.inspection.reason)


@dataclass(frozen=True)
class _Prepared:
    """A file made ready to store: the path to place (the original, or a WAV converted from a raw one)."""

    path: Path
    digest: str
    size: int
    duration_s: float
    sample_rate: int
    channels: int
    issues: tuple[str, ...]
    temporary: bool


def _prepare(store: RecordingStore, item: Examined) -> _Prepared:
    """Repair a truncated or unfinished header, convert a raw file; then checksum (all off the event loop)."""
    inspection = item.inspection
    assert inspection is not None
    issues: tuple[str, ...] = ()
    if item.source == "raw":
        store.paths.storage.mkdir(parents=True, exist_ok=True)
        target = store.paths.storage / f".convert-{uuid.uuid4().hex}.wav"
        converted = raw_convert.raw_to_wav(item.path, target)
        return _Prepared(target, sha256_file(target), target.stat().st_size, converted.duration_s,
                         raw_convert.RAW_RATE, raw_convert.RAW_CHANNELS, issues, temporary=True)
    info = inspection.info
    assert info is not None
    size = item.size
    if inspection.verdict in (Verdict.TRUNCATED, Verdict.UNFINISHED):
        issues = (inspection.verdict.value,)
        size = repair_header(item.path, info)
    return _Prepared(item.path, sha256_file(item.path), size, info.duration_s, info.sample_rate, info.channels,
                     issues, temporary=False)


async def _register(pool: Pool, store: RecordingStore, call: CallForRecording, item: Examined,
                    known: dict[str, rows.Recording], result: Registration) -> int | None:
    kind, left_party = kind_of(item.source, call.direction)
    prepared = await asyncio.to_thread(_prepare, store, item)
    try:
        before = known.get(kind)
        if before is not None:
            if not await _already(pool, call, item, prepared, before):
                result.refused.append(item.name)
            return None
        issues = prepared.issues
        if call.talk_s is not None and abs(prepared.duration_s - call.talk_s) > store.settings.duration_tolerance_s:
            issues += ("duration_differs",)
        relative = dated_path(call.started_at, f"{call.linkedid}{STORED_SUFFIX[kind]}.wav")
        placed = await asyncio.to_thread(place, prepared.path, store.paths.storage, relative, prepared.digest)
        new_id = await rows.insert_recording(pool, NewRecording(
            call_id=call.id, customer_id=call.customer_id, order_id=call.order_id, kind=kind, left_party=left_party,
            path=placed.relative, bytes=prepared.size, duration_s=round(prepared.duration_s, 3),
            sample_rate=prepared.sample_rate, channels=prepared.channels, sha256=prepared.digest,
            recorded_at=call.started_at, issues=issues))
        if new_id is None:  # another run registered it meanwhile: ours was the same file or is not kept
            now_known = (await rows.registered(pool, call.id)).get(kind)
            if placed.new and (now_known is None or now_known.path != placed.relative):
                await asyncio.to_thread(remove_if_same, store.paths.storage / placed.relative, prepared.digest)
            return None
        await asyncio.to_thread(_remove_source, item, prepared)
        await rows.resolve_problems(pool, [item.name])
        log.info("call %s: recording %d registered (%s, %.1f s%s)", call.linkedid, new_id, kind, prepared.duration_s,
                 f", {', '.join(issues)}" if issues else "")
        return new_id
    finally:
        if prepared.temporary:
            await asyncio.to_thread(_drop, prepared.path)


async def _already(pool: Pool, call: CallForRecording, item: Examined, prepared: _Prepared,
                   before: rows.Recording) -> bool:
    """A file for a kind registered before: the same one again (a retry after a crash) is let go (True); another
    is left where it is and reported, never stored over the first (False)."""
    if before.sha256 == prepared.digest:
        await asyncio.to_thread(_remove_source, item, replace(prepared, temporary=False))
        await rows.resolve_problems(pool, [item.name])
        return True
    await rows.record_problem(pool, item.name, "refused",
                              f"a different file for recording {before.id}, which is already registered",
                              call_id=call.id, size=item.size)
    log.warning("call %s: %s differs from recording %d: left in place", call.linkedid, item.name, before.id)
    return False


def _remove_source(item: Examined, prepared: _Prepared) -> None:
    """The original leaves the recordings directory once its copy is recorded (a raw one once converted)."""
    if item.source == "raw":
        _drop(item.path)
    else:
        remove_if_same(item.path, prepared.digest)
