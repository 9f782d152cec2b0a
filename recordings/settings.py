"""Settings of call recordings: where the PBX writes them, where perezvon keeps them, how long.

Declared once, like every package's settings: each field's metadata names its environment variable
and says what it does; only the composition root reads the environment. The directories default to
places under the data directory (`paths(data_dir)` resolves them), so a demo needs no setting at all.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

EXPIRE_ACTIONS = ("archive", "delete")


@dataclass(frozen=True)
class RecordingPaths:
    """The four directories, resolved: MixMonitor's, the dated store, the archive and the quarantine."""

    incoming: Path
    storage: Path
    archive: Path
    quarantine: Path


@dataclass(frozen=True)
class RecordingSettings:
    incoming_dir: Path | None = field(
        default=None,
        metadata={"env": "PEREZVON_RECORDINGS_DIR",
                  "help": "The directory Asterisk's MixMonitor writes <Linkedid>.wav into (RECORDINGS_DIR in "
                          "asterisk-conf/extensions.conf), shared with or synced from the PBX; empty: "
                          "<data dir>/recordings/incoming (where the demo's simulated PBX writes)."})
    storage_dir: Path | None = field(
        default=None,
        metadata={"env": "PEREZVON_RECORDINGS_STORAGE_DIR",
                  "help": "Where registered recordings are kept, as YYYY/MM/DD/<Linkedid>.wav (the call's UTC "
                          "date); empty: <data dir>/recordings/store."})
    archive_dir: Path | None = field(
        default=None,
        metadata={"env": "PEREZVON_RECORDINGS_ARCHIVE_DIR",
                  "help": "Where expired recordings are moved when PEREZVON_RECORDINGS_EXPIRE=archive (e.g. a "
                          "cheaper disk); empty: <data dir>/recordings/archive."})
    quarantine_dir: Path | None = field(
        default=None,
        metadata={"env": "PEREZVON_RECORDINGS_QUARANTINE_DIR",
                  "help": "Where unreadable recording files (not a WAV, no audio at all) are moved, never "
                          "deleted; empty: <data dir>/recordings/quarantine."})
    retention_days: int = field(
        default=0,
        metadata={"env": "PEREZVON_RECORDINGS_RETENTION_DAYS",
                  "help": "Recordings older than this many days are archived or deleted (never those marked "
                          "keep); 0: kept forever."})
    disk_limit_mb: int = field(
        default=0,
        metadata={"env": "PEREZVON_RECORDINGS_DISK_LIMIT_MB",
                  "help": "Most megabytes the stored recordings may take; past it the oldest are archived or "
                          "deleted first (never those marked keep); 0: no limit."})
    expire_action: str = field(
        default="archive",
        metadata={"env": "PEREZVON_RECORDINGS_EXPIRE",
                  "help": "What happens to an expired recording: archive (moved to the archive directory, "
                          "still playable) or delete."})
    wait_s: int = field(
        default=600,
        metadata={"env": "PEREZVON_RECORDINGS_WAIT_S",
                  "help": "Seconds after a call's end to keep looking for its recording (retried with backoff) "
                          "before the call is flagged \"recording missing\"."})
    duration_tolerance_s: float = field(
        default=5.0,
        metadata={"env": "PEREZVON_RECORDINGS_DURATION_TOLERANCE_S",
                  "help": "A recording shorter or longer than the call's talk time by more than this is still "
                          "registered, marked \"duration differs\"."})

    def paths(self, data_dir: Path) -> RecordingPaths:
        base = data_dir / "recordings"
        return RecordingPaths(incoming=self.incoming_dir or base / "incoming",
                              storage=self.storage_dir or base / "store",
                              archive=self.archive_dir or base / "archive",
                              quarantine=self.quarantine_dir or base / "quarantine")

    @property
    def disk_limit_bytes(self) -> int:
        return max(0, self.disk_limit_mb) * 1024 * 1024

    def problems(self, data_dir: Path) -> list[str]:
        """What is wrong with these values, each naming its variable; [] when they can be used."""
        found: list[str] = []
        if self.expire_action not in EXPIRE_ACTIONS:
            found.append("PEREZVON_RECORDINGS_EXPIRE: archive or delete")
        for name, value in (("PEREZVON_RECORDINGS_RETENTION_DAYS", self.retention_days),
                            ("PEREZVON_RECORDINGS_DISK_LIMIT_MB", self.disk_limit_mb),
                            ("PEREZVON_RECORDINGS_WAIT_S", self.wait_s)):
            if value < 0:
                found.append(f"{name}: 0 or more")
        if self.duration_tolerance_s < 0:
            found.append("PEREZVON_RECORDINGS_DURATION_TOLERANCE_S: 0 or more")
        paths = self.paths(data_dir)
        kept = {"PEREZVON_RECORDINGS_STORAGE_DIR": paths.storage, "PEREZVON_RECORDINGS_ARCHIVE_DIR": paths.archive,
                "PEREZVON_RECORDINGS_QUARANTINE_DIR": paths.quarantine}
        for name, path in kept.items():
            if path.absolute() == paths.incoming.absolute():
                found.append(f"{name}: must differ from PEREZVON_RECORDINGS_DIR")
        return found
