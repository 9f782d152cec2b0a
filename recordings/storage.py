"""Files on disk: safe names, paths that cannot leave their directory, and moves that never overwrite.

Every path perezvon builds for a recording is a directory it was configured with plus a name it checked:
a Linkedid becomes a file name only when it is a plain token (`1700000000.42`, a UUID), a stored path is
followed only when it stays inside its directory and is no symlink, and a file in the recordings
directory is opened without following links. Moves are a hard link then an unlink (atomic, and a link
never replaces an existing file); across file systems a copy into a temporary name beside the target,
synced, then linked. A target that exists with other contents gets the next free name (`NAME.1.wav`).
"""

from __future__ import annotations

import errno
import hashlib
import os
import re
import shutil
import stat
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath

#: A Linkedid usable as a file name: Asterisk's `1700000000.42`, perezvon's click-to-call UUIDs.
SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
CHUNK = 1024 * 1024
MAX_SUFFIX = 100


class UnsafePath(ValueError):
    """A name or stored path that would leave its directory, or a symlink where a file should be."""


def safe_linkedid(linkedid: str) -> bool:
    return SAFE_NAME.fullmatch(linkedid) is not None and ".." not in linkedid


def dated_path(started_at: datetime, file_name: str) -> str:
    """`YYYY/MM/DD/NAME` of the call's start in UTC (one zone for every site a store may serve)."""
    day = started_at.astimezone(UTC)
    return f"{day:%Y/%m/%d}/{file_name}"


def inside(base: Path, relative: str) -> Path:
    """`base/relative`, refused (UnsafePath) when `relative` is absolute, climbs with `..`, or any part of it
    is a symlink: a stored path is data, and data must not point anywhere else."""
    pure = PurePosixPath(relative)
    if not relative or pure.is_absolute() or "\\" in relative or any(p in ("", ".", "..") for p in pure.parts) \
            or "\x00" in relative:
        raise UnsafePath(f"refused path {relative!r}")
    current = base
    for part in pure.parts:
        current = current / part
        try:
            if stat.S_ISLNK(os.lstat(current).st_mode):
                raise UnsafePath(f"refused path {relative!r}: a symlink")
        except FileNotFoundError:
            break
    resolved_base = base.resolve()
    if not current.resolve().is_relative_to(resolved_base):
        raise UnsafePath(f"refused path {relative!r}: outside its directory")
    return base / pure


def open_regular(path: Path) -> int:
    """An fd for reading `path`, which must be a plain file (no symlink, device, fifo or directory)."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise UnsafePath(f"{path.name!r} is not a plain file")
    except BaseException:
        os.close(fd)
        raise
    return fd


def sha256_fd(fd: int) -> str:
    digest = hashlib.sha256()
    offset = 0
    while chunk := os.pread(fd, CHUNK, offset):
        digest.update(chunk)
        offset += len(chunk)
    return digest.hexdigest()


def sha256_file(path: Path) -> str:
    fd = open_regular(path)
    try:
        return sha256_fd(fd)
    finally:
        os.close(fd)


@dataclass(frozen=True)
class Placed:
    #: Relative to the target directory.
    relative: str
    #: False when the target already held this very file (a retry after a crash): nothing was written.
    new: bool


def _candidates(relative: str) -> list[str]:
    pure = PurePosixPath(relative)
    names = [relative]
    names += [str(pure.with_name(f"{pure.stem}.{n}{pure.suffix}")) for n in range(1, MAX_SUFFIX)]
    return names


def _link_or_copy(source: Path, target: Path) -> None:
    """Create `target` as `source`'s contents, atomically; FileExistsError when `target` exists."""
    try:
        os.link(source, target, follow_symlinks=False)
        return
    except OSError as exc:
        if exc.errno not in (errno.EXDEV, errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EMLINK):
            raise
    temporary = target.with_name(f".partial-{uuid.uuid4().hex}")
    fd = open_regular(source)
    try:
        with os.fdopen(os.dup(fd), "rb") as reader, open(temporary, "xb") as writer:
            shutil.copyfileobj(reader, writer, CHUNK)
            writer.flush()
            os.fsync(writer.fileno())
    finally:
        os.close(fd)
    try:
        try:
            os.link(temporary, target)
        except OSError as exc:
            if exc.errno == errno.EEXIST:
                raise FileExistsError(str(target)) from exc
            if target.exists():  # a file system without hard links: a rename after a check, the best it allows
                raise FileExistsError(str(target)) from exc
            os.rename(temporary, target)
    finally:
        if temporary.exists():
            temporary.unlink()


def place(source: Path, base: Path, relative: str, digest: str) -> Placed:
    """Put `source` at `base/relative` (or the next free name) without ever overwriting a different file.
    `source` stays where it is; the caller removes it once the new place is recorded."""
    for name in _candidates(relative):
        target = inside(base, name)
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            _link_or_copy(source, target)
        except FileExistsError:
            if sha256_file(target) == digest:
                return Placed(name, new=False)
            continue
        return Placed(name, new=True)
    raise FileExistsError(f"no free name for {relative!r} in {base}")


def move(source: Path, base: Path, relative: str) -> str:
    """Move a file under `base` (archive, quarantine) with `place`'s guarantees; returns where it went."""
    placed = place(source, base, relative, sha256_file(source))
    source.unlink()
    return placed.relative


def remove_if_same(path: Path, digest: str) -> bool:
    """Unlink `path` if it still holds the bytes with `digest` (the copy now kept elsewhere)."""
    try:
        if sha256_file(path) != digest:
            return False
    except FileNotFoundError:
        return False
    path.unlink()
    return True


def quarantine_name(now: datetime, file_name: str) -> str:
    """`YYYY/MM/DD/NAME` by when it was quarantined; unusual characters of a found name become `_`."""
    cleaned = re.sub(r"[^A-Za-z0-9._-]", "_", file_name).lstrip(".") or "file"
    return dated_path(now, cleaned[:120])


def tree_bytes(base: Path) -> int:
    """Bytes of the plain files under `base` (what the store takes on disk), symlinks not followed."""
    total = 0
    for root, _dirs, files in os.walk(base):
        for name in files:
            try:
                info = os.lstat(os.path.join(root, name))
            except FileNotFoundError:
                continue
            if stat.S_ISREG(info.st_mode):
                total += info.st_size
    return total
