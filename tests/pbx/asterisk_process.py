"""One real Asterisk process for the PBX tier: build (cached), start under `-C`, wait, talk to it, stop.

Asterisk is the system under test as much as perezvon is: the tier starts the real binary built by
tools/asterisk/build.sh, in the foreground (`-f -n`, as the current user), on a scratch directory
(scratch_conf.py). "Started" means fully booted — the CLI's `core waitfullybooted` returns — not
"the process exists": a test that dials before chan_pjsip has loaded its endpoints would fail for
the wrong reason.
"""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from tests.pbx.scratch_conf import REPO, ScratchDir

BUILD_SCRIPT = REPO / "tools" / "asterisk" / "build.sh"


class AsteriskError(RuntimeError):
    """Asterisk could not be built, did not boot, or a CLI command failed."""


def build_asterisk(timeout_s: float = 3600) -> Path:
    """Run tools/asterisk/build.sh (instant when the cache holds the build) and return the install prefix.

    A failed build is an error, never a skip: the tier exists to prove the configuration on a real PBX.
    """
    result = subprocess.run(["bash", str(BUILD_SCRIPT)], capture_output=True, text=True, timeout=timeout_s,
                            check=False)
    if result.returncode != 0:
        raise AsteriskError(f"tools/asterisk/build.sh failed ({result.returncode}):\n{result.stderr[-4000:]}")
    prefix = Path(result.stdout.strip().splitlines()[-1])
    if not (prefix / "sbin" / "asterisk").is_file():
        raise AsteriskError(f"build.sh printed {prefix}, which holds no sbin/asterisk")
    return prefix


@dataclass
class Asterisk:
    """A running Asterisk on a scratch directory."""

    scratch: ScratchDir
    process: asyncio.subprocess.Process
    console_log: Path
    #: Characters of the full log written by the time Asterisk was fully booted.
    boot_log_size: int = 0

    async def cli(self, command: str, timeout_s: float = 15) -> str:
        """`asterisk -C ... -rx COMMAND`: the command's output (raises on a non-zero exit or a timeout)."""
        proc = await asyncio.create_subprocess_exec(
            str(self.scratch.binary), "-C", str(self.scratch.asterisk_conf), "-rx", command,
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        try:
            out, _ = await asyncio.wait_for(proc.communicate(), timeout_s)
        except TimeoutError:
            proc.kill()
            await proc.wait()
            raise AsteriskError(f"asterisk -rx {command!r} did not answer within {timeout_s} s") from None
        text = out.decode("utf-8", errors="replace")
        if proc.returncode != 0:
            raise AsteriskError(f"asterisk -rx {command!r} exited {proc.returncode}: {text}")
        return text

    def full_log(self) -> str:
        """Everything logger.conf's `full` file holds so far."""
        path = self.scratch.full_log
        return path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""

    def log_lines(self, *levels: str, boot_only: bool = False) -> list[str]:
        """Lines of the full log at these levels, e.g. `log_lines("ERROR", "WARNING")`; `boot_only`: only
        what was logged while loading (until fully booted), whatever the tests did since."""
        text = self.full_log()
        if boot_only:
            text = text[:self.boot_log_size]
        marks = tuple(f"] {level}[" for level in levels)
        return [line for line in text.splitlines() if any(mark in line for mark in marks)]

    async def wait_for_cli(self, command: str, predicate: str, timeout_s: float = 15,
                           interval_s: float = 0.1) -> str:
        """Poll `command` until its output contains `predicate`; the last output, or AsteriskError."""
        deadline = time.monotonic() + timeout_s
        while True:
            out = await self.cli(command)
            if predicate in out:
                return out
            if time.monotonic() > deadline:
                raise AsteriskError(f"{command!r} never showed {predicate!r} within {timeout_s} s; last:\n{out}")
            await asyncio.sleep(interval_s)


async def active_channels(asterisk: Asterisk) -> int:
    """How many channels Asterisk has up now (`core show channels count`)."""
    out = await asterisk.cli("core show channels count")
    found = re.search(r"(\d+) active channels?", out)
    if found is None:
        raise AsteriskError(f"unexpected 'core show channels count' output: {out}")
    return int(found.group(1))


async def hang_up_everything(asterisk: Asterisk, timeout_s: float = 10) -> int:
    """Hang up every channel and wait until none is left; how many there were.

    A test that leaves a call up (a BYE the PBX refused, a phone that died mid-call) would make the next
    test's operator "busy" and send its call to the queue: each test must end with an idle PBX.
    """
    found = await active_channels(asterisk)
    if found:
        await asterisk.cli("channel request hangup all")
    deadline = time.monotonic() + timeout_s
    while await active_channels(asterisk):
        if time.monotonic() > deadline:
            raise AsteriskError(f"channels still up {timeout_s} s after 'channel request hangup all'")
        await asyncio.sleep(0.1)
    return found


async def start_asterisk(scratch: ScratchDir, boot_timeout_s: float = 60) -> Asterisk:
    """Start `asterisk -C <scratch>/etc/asterisk.conf -f -n` and return once it is fully booted."""
    console_log = scratch.log_dir / "console.log"
    console = console_log.open("wb")
    try:
        process = await asyncio.create_subprocess_exec(
            str(scratch.binary), "-C", str(scratch.asterisk_conf), "-f", "-n",
            stdin=subprocess.DEVNULL, stdout=console, stderr=subprocess.STDOUT,
            env={**os.environ, "LANG": "C.UTF-8"})
    finally:
        console.close()
    asterisk = Asterisk(scratch, process, console_log)
    deadline = time.monotonic() + boot_timeout_s
    while not scratch.control_socket.exists():
        if process.returncode is not None or time.monotonic() > deadline:
            await stop_asterisk(asterisk)
            raise AsteriskError(f"Asterisk did not open its control socket (exit {process.returncode}):\n"
                                f"{console_log.read_text(errors='replace')[-4000:]}")
        await asyncio.sleep(0.05)
    # Blocks inside Asterisk until every module has loaded (the same moment AMI sends FullyBooted).
    await asterisk.cli("core waitfullybooted", timeout_s=max(1.0, deadline - time.monotonic()))
    asterisk.boot_log_size = len(asterisk.full_log())
    return asterisk


async def stop_asterisk(asterisk: Asterisk, timeout_s: float = 20) -> None:
    """`core stop now`, then wait for the process to end (killed if it does not)."""
    if asterisk.process.returncode is None:
        try:
            await asterisk.cli("core stop now", timeout_s=5)
        except AsteriskError:
            pass  # not reachable over the control socket: the kill below ends it
        try:
            await asyncio.wait_for(asterisk.process.wait(), timeout_s)
        except TimeoutError:
            asterisk.process.kill()
            await asterisk.process.wait()
