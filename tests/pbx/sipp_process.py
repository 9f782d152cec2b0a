"""sipp as a subprocess: the desk phones and the provider of the PBX tier.

Each sipp process runs one scenario from tests/pbx/sipp/ on a chosen loopback address and port. The
scenarios announce what happened with `<log message="perezvon-...: ...">` lines (registered,
ringing, answered, hung up...), which `Sipp.wait_log()` polls for with a deadline; at the end
`Sipp.wait()` gives the exit status (0: every call succeeded, 1: some failed) and `stats()` the
success / failure counters of sipp's final screen.

Behaviour is passed two ways: `keys` (`-key`, replaced by sipp in message text: numbers, names) and
`params`, filled into the scenario's `@name@` placeholders before sipp reads it. The latter exists
because sipp reads timeouts and jump targets only as literals: "ring 3 s unless a CANCEL comes", or
"hang up after 2 s unless the other side's BYE or a re-INVITE comes first" needs a `<recv timeout=...>`,
and a `<pause>` would make any request arriving meanwhile an "unexpected message" that kills the call.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from tests.pbx.ports import free_port, free_udp_range

SCENARIOS = Path(__file__).parent / "sipp"
#: "Forever" for a scenario timeout, in milliseconds (a day).
FOREVER_MS = 86_400_000
_PLACEHOLDER = re.compile(r"@([a-z_]+)@")


class SippError(RuntimeError):
    """sipp is missing, did not do what the test waited for, or ended badly."""


@dataclass(frozen=True)
class SippStats:
    successful: int
    failed: int


@dataclass
class Sipp:
    """One running sipp."""

    name: str
    host: str
    port: int
    process: asyncio.subprocess.Process
    log_file: Path
    error_file: Path
    screen_file: Path
    args: list[str] = field(default_factory=list)

    def log_lines(self) -> list[str]:
        """The scenario's `<log>` lines so far."""
        if not self.log_file.exists():
            return []
        return self.log_file.read_text(encoding="utf-8", errors="replace").splitlines()

    async def wait_log(self, text: str, timeout_s: float = 15, count: int = 1) -> list[str]:
        """Wait until `count` log lines contain `text`; those lines (SippError on the deadline or an early exit)."""
        deadline = time.monotonic() + timeout_s
        while True:
            hits = [line for line in self.log_lines() if text in line]
            if len(hits) >= count:
                return hits
            if self.process.returncode is not None:
                raise SippError(f"{self.name} exited {self.process.returncode} before logging {text!r}:\n"
                                f"{self.describe()}")
            if time.monotonic() > deadline:
                raise SippError(f"{self.name} did not log {text!r} ×{count} within {timeout_s} s:\n{self.describe()}")
            await asyncio.sleep(0.05)

    async def wait(self, timeout_s: float = 60) -> int:
        """The exit status, once sipp has run its calls (`-m`); SippError when it runs past the deadline."""
        try:
            return await asyncio.wait_for(self.process.wait(), timeout_s)
        except TimeoutError:
            raise SippError(f"{self.name} still running after {timeout_s} s:\n{self.describe()}") from None

    async def stop(self) -> None:
        """End it now (SIGTERM, then SIGKILL)."""
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.process.wait(), 5)
            except TimeoutError:
                self.process.kill()
                await self.process.wait()

    def stats(self) -> SippStats:
        """Successful / failed calls from sipp's final statistics screen (after it ended)."""
        text = self.screen_file.read_text(encoding="utf-8", errors="replace") if self.screen_file.exists() else ""
        ok = re.findall(r"Successful call\s*\|\s*\d+\s*\|\s*(\d+)", text)
        bad = re.findall(r"Failed call\s*\|\s*\d+\s*\|\s*(\d+)", text)
        return SippStats(int(ok[-1]) if ok else 0, int(bad[-1]) if bad else 0)

    def describe(self) -> str:
        parts = [f"args: {' '.join(self.args)}", "log:", *self.log_lines()[-20:]]
        if self.error_file.exists():
            parts += ["errors:", self.error_file.read_text(encoding="utf-8", errors="replace")[-3000:]]
        return "\n".join(parts)


def sipp_binary() -> str:
    path = shutil.which("sipp")
    if path is None:
        raise SippError("sipp not found: tools/asterisk/build.sh installs Debian's sip-tester")
    return path


def render_scenario(scenario: str, params: dict[str, str], workdir: Path, name: str) -> Path:
    """The scenario with every `@name@` filled from `params` (KeyError for a missing one), written for sipp."""
    text = (SCENARIOS / scenario).read_text(encoding="utf-8")
    rendered = _PLACEHOLDER.sub(lambda match: params[match.group(1)], text)
    path = workdir / f"{name}.{scenario}"
    path.write_text(rendered, encoding="utf-8")
    return path


def _fresh_files(workdir: Path, name: str) -> tuple[Path, Path, Path]:
    """The log, error and screen files of sipp `name`, none left from an earlier run."""
    workdir.mkdir(parents=True, exist_ok=True)
    files = (workdir / f"{name}.log", workdir / f"{name}.errors", workdir / f"{name}.screen")
    for stale in files:
        stale.unlink(missing_ok=True)
    return files


async def start_sipp(name: str, scenario: str, remote: str, workdir: Path, *, host: str = "127.0.0.1",
                     port: int = 0, keys: dict[str, str] | None = None, params: dict[str, str] | None = None,
                     ooc_scenario: str | None = None, service: str | None = None,
                     auth: tuple[str, str] | None = None, calls: int | None = 1,
                     extra: tuple[str, ...] = ()) -> Sipp:
    """Start sipp with `scenario` (a file name in tests/pbx/sipp/) towards `remote` ("host:port").

    `port` 0 picks a free UDP port on `host`. `params` fill the scenarios' `@name@` placeholders.
    `calls`: `-m`, the number of calls before sipp exits (None for a UAS that runs until stopped).
    Files go to `workdir/<name>.*`.
    """
    log_file, error_file, screen_file = _fresh_files(workdir, name)
    port = port or free_port(socket.SOCK_DGRAM, host)
    media_port, _ = free_udp_range(4, host)
    args = [sipp_binary(), remote, "-sf", str(render_scenario(scenario, params or {}, workdir, name))]
    if ooc_scenario:
        args += ["-oocsf", str(render_scenario(ooc_scenario, params or {}, workdir, name))]
    args += ["-i", host, "-p", str(port), "-mi", host, "-mp", str(media_port),
             "-nostdin", "-trace_logs", "-log_file", str(log_file), "-trace_err", "-error_file", str(error_file),
             ]
    if os.environ.get("PEREZVON_SIPP_TRACE") == "1":  # every SIP message into <name>_<pid>_messages.log
        args += ["-trace_msg"]
    if calls is not None:
        args += ["-m", str(calls)]
    if service is not None:
        args += ["-s", service]
    if auth is not None:
        args += ["-au", auth[0], "-ap", auth[1]]
    for key, value in (keys or {}).items():
        args += ["-key", key, value]
    args += list(extra)
    with screen_file.open("wb") as screen:
        process = await asyncio.create_subprocess_exec(*args, stdin=subprocess.DEVNULL, stdout=screen,
                                                       stderr=subprocess.STDOUT, cwd=workdir)
    return Sipp(name, host, port, process, log_file, error_file, screen_file, args)


def name_addr(user: str, host: str, display: str | None = None) -> str:
    """A From value: `"display" <sip:user@host>`, the display name quoted and escaped as RFC 3261 says
    (backslash and double quote escaped; anything else, HTML or control characters, passed as it is)."""
    uri = f"<sip:{user}@{host}>"
    if display is None:
        return uri
    escaped = display.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}" {uri}'


ANONYMOUS = '"Anonymous" <sip:anonymous@anonymous.invalid>'


def uac_params(mode: str, talk_ms: int, cancel_ms: int) -> dict[str, str]:
    """Parameters of the calling scenarios (provider_call_in.xml, phone_call_out.xml): "hangup" after
    `talk_ms`, "cancel" `cancel_ms` after ringing, or "wait" for the other side's BYE."""
    if mode not in ("hangup", "cancel", "wait"):
        raise ValueError(f"unknown mode {mode!r}")
    return {"on_ringing": "ring_timer" if mode == "cancel" else "progress", "cancel_ms": str(cancel_ms),
            "talk_ms": str(talk_ms if mode == "hangup" else FOREVER_MS)}
