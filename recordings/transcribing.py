"""Transcribing one recording end to end: claim it, run the engine off the event loop, store the segments, act.

Used by the transcription job (web/jobs/transcription.py) and by `perezvon transcribe` for backlogs; both
go through the same claim, so they never work on one recording at once. The engine is loaded once per
process, on first use, and transcribes one recording at a time (a model is hundreds of MB and uses every
core it is given): more throughput is more worker processes, on more machines.
"""

from __future__ import annotations

import asyncio
import importlib.util
import logging
from dataclasses import dataclass, replace
from datetime import UTC, datetime, tzinfo
from pathlib import Path

from crm.database import Pool
from crm.transcripts import data, findings
from recordings.store import RecordingStore
from recordings.transcription import Speaker, Transcriber, Transcript, TranscriptionError, TranscriptionSettings
from recordings.transcription.factory import create_transcriber

log = logging.getLogger(__name__)

#: The Python package each engine needs (the `transcribe` / `openai-whisper` extras).
ENGINE_PACKAGES = {"faster-whisper": "faster_whisper", "openai-whisper": "whisper"}


class TranscriptionService:
    """The process's transcriber, loaded on first use; `transcribe` runs it in a thread, one at a time."""

    def __init__(self, settings: TranscriptionSettings, data_dir: Path | None = None, *,
                 engine: Transcriber | None = None) -> None:
        self.settings = settings
        self._data_dir = data_dir
        #: Given: already loaded (the tests share one model); else loaded on the first recording.
        self._engine = engine
        self._lock = asyncio.Lock()

    def missing_package(self) -> str | None:
        """The engine's package when it is not installed (then nothing is queued), else None."""
        package = ENGINE_PACKAGES.get(self.settings.engine, "")
        return package if package and importlib.util.find_spec(package) is None else None

    async def transcribe(self, path: Path, *, stereo: bool, operator_channel: int) -> Transcript:
        async with self._lock:
            if self._engine is None:
                self._engine = await asyncio.to_thread(create_transcriber, self.settings, data_dir=self._data_dir)
                log.info("transcription: %s model %s loaded", self._engine.engine, self._engine.model)
            return await asyncio.to_thread(self._engine.transcribe, path, channels="auto" if stereo else "mono",
                                           operator_channel=operator_channel)

    def close(self) -> None:
        if self._engine is not None:
            self._engine.close()
            self._engine = None


@dataclass(frozen=True)
class Outcome:
    transcript_id: int
    #: done, failed, or skipped (another worker has it, or it is done or out of attempts).
    state: str
    error: str = ""
    findings: findings.Findings | None = None
    audio_s: float = 0.0
    call_id: int | None = None
    people: tuple[int, ...] = ()


def _labelled(transcript: Transcript, kind: str) -> Transcript:
    """A one-side file (MixMonitor r()/t()) is all one speaker."""
    if kind not in ("operator", "customer"):
        return transcript
    speaker: Speaker = "operator" if kind == "operator" else "customer"
    return replace(transcript, segments=tuple(replace(s, speaker=speaker) for s in transcript.segments))


async def transcribe_one(pool: Pool, store: RecordingStore, service: TranscriptionService, transcript_id: int,
                         tz: tzinfo, now: datetime | None = None) -> Outcome:
    claimed = await data.claim(pool, transcript_id, now or datetime.now(UTC))
    if claimed is None:
        return Outcome(transcript_id, "skipped")
    try:
        path = store.file_of(claimed.recording_state, claimed.path)
        # Only a stereo recording has the sides apart (`left_party` on channel 0); a mixed one is one voice track.
        operator_channel = 0 if claimed.left_party == "operator" else 1
        transcript = _labelled(await service.transcribe(path, stereo=claimed.kind == "stereo",
                                                        operator_channel=operator_channel), claimed.kind)
    except (TranscriptionError, OSError, ValueError) as exc:
        error = f"{type(exc).__name__}: {exc}"
        await data.fail(pool, transcript_id, error)
        log.warning("transcript %d (recording %d): %s", transcript_id, claimed.recording_id, error)
        return Outcome(transcript_id, "failed", error, audio_s=claimed.duration_s, call_id=claimed.call_id)
    found = await findings.act_on(pool, claimed, transcript, await data.keywords(pool), tz)
    await data.store(pool, transcript_id, transcript, orders=found.orders, keywords=found.keywords)
    people = tuple(p for p in (claimed.call_manager_id,) if p is not None)
    return Outcome(transcript_id, "done", findings=found, audio_s=claimed.duration_s, call_id=claimed.call_id,
                   people=people)
