"""One object for the recordings' settings, directories and clock, made once by the composition root.

The registration job, the retention, the scan of the recordings directory and the playback handler all
take it. The clock is part of it so tests move time instead of sleeping (a missing recording is flagged
after the wait; a recording expires after N days).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from recordings.settings import RecordingPaths, RecordingSettings
from recordings.storage import inside


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class RecordingStore:
    settings: RecordingSettings
    paths: RecordingPaths
    clock: Callable[[], datetime] = field(default=utc_now)

    @classmethod
    def from_settings(cls, settings: RecordingSettings, data_dir: Path,
                      clock: Callable[[], datetime] = utc_now) -> RecordingStore:
        return cls(settings, settings.paths(data_dir), clock)

    def ensure_dirs(self) -> None:
        """Create the directories perezvon writes (the recordings directory too, for the simulator)."""
        for path in (self.paths.incoming, self.paths.storage, self.paths.archive, self.paths.quarantine):
            path.mkdir(parents=True, exist_ok=True)

    def file_of(self, state: str, relative: str) -> Path:
        """Where a stored or archived recording's file is; UnsafePath when its stored path is not a plain one."""
        base = self.paths.archive if state == "archived" else self.paths.storage
        return inside(base, relative)
