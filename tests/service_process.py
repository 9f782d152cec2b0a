"""The real `perezvon` command as a subprocess, judged from outside as a user would.

The service starts its own embedded PostgreSQL in a temporary data directory, runs on its own
event loop, and is reached over HTTP only. Its output is read by a thread from the start, so a
chatty service never blocks on a full pipe, and tests can wait for a line to appear.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import psutil

from tests.pbx.ports import free_port

READY_LINE = "Press Ctrl-C"


def service_env(data_dir: Path, port: int, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of a service on `port` with its own embedded PostgreSQL in `data_dir`."""
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL" and not k.startswith("PEREZVON_")}
    env.update({"PEREZVON_DATA_DIR": str(data_dir), "PEREZVON_HTTP_PORT": str(port), "PEREZVON_LOG_LEVEL": "WARNING",
                "PEREZVON_AGI_PORT": "0", "PEREZVON_SIM_AMI_PORT": "0", "PYTHONUNBUFFERED": "1"})
    env.update(extra or {})
    return env


@dataclass
class ServiceProcess:
    """A running `perezvon serve` / `demo`; `lines` grows as it prints."""

    process: subprocess.Popen[str]
    port: int
    data_dir: Path
    lines: list[str] = field(default_factory=list)
    _changed: threading.Condition = field(default_factory=threading.Condition)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    @property
    def output(self) -> str:
        with self._changed:
            return "\n".join(self.lines)

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            with self._changed:
                self.lines.append(line.rstrip("\n"))
                self._changed.notify_all()
        with self._changed:
            self.lines.append("")  # end of output: wake every waiter
            self._changed.notify_all()

    def wait_for_line(self, pattern: str, timeout: float = 120.0) -> str:
        """Block until a printed line matches `pattern` (a regex); fail if the process ends first."""
        regex = re.compile(pattern)
        seen = 0
        with self._changed:
            while True:
                for line in self.lines[seen:]:
                    if regex.search(line):
                        return line
                seen = len(self.lines)
                if self.process.poll() is not None and not self._reader_alive():
                    raise AssertionError(f"perezvon exited ({self.process.returncode}) before printing "
                                         f"{pattern!r}:\n" + "\n".join(self.lines))
                if not self._changed.wait(timeout):
                    raise AssertionError(f"no line matching {pattern!r} within {timeout} s:\n" + "\n".join(self.lines))

    def _reader_alive(self) -> bool:
        return any(t.name == f"perezvon-output-{self.process.pid}" and t.is_alive() for t in threading.enumerate())

    def stop(self, sig: int = signal.SIGINT, timeout: float = 60.0) -> int:
        """Send `sig` and wait for the exit status (the process is killed if it does not stop in time)."""
        if self.process.poll() is None:
            self.process.send_signal(sig)
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise
        finally:
            for thread in threading.enumerate():
                if thread.name == f"perezvon-output-{self.process.pid}":
                    thread.join(timeout=10)
            if self.process.stdout is not None:
                self.process.stdout.close()


def start_service(command: str | tuple[str, ...], data_dir: Path, *, port: int | None = None,
                  env: Mapping[str, str] | None = None, wait_ready: bool = True) -> ServiceProcess:
    """Start `perezvon COMMAND` (e.g. "serve", or ("db", "serve")); with `wait_ready`, return once it printed
    that it is serving."""
    port = port or free_port()
    data_dir.mkdir(parents=True, exist_ok=True)
    args = [command] if isinstance(command, str) else list(command)
    process = subprocess.Popen([sys.executable, "-m", "web.cli", *args], stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, text=True,
                               env=service_env(data_dir, port, env), cwd=data_dir.parent)
    service = ServiceProcess(process=process, port=port, data_dir=data_dir)
    threading.Thread(target=service._read, name=f"perezvon-output-{process.pid}", daemon=True).start()
    if wait_ready:
        try:
            service.wait_for_line(READY_LINE)
        except BaseException:
            service.stop(signal.SIGKILL)
            raise
    return service


def run_cli(args: list[str], data_dir: Path, *, stdin: str = "", env: Mapping[str, str] | None = None,
            ) -> subprocess.CompletedProcess[str]:
    """Run one `perezvon` command on the embedded PostgreSQL of `data_dir` (as an admin would, beside a service)."""
    return subprocess.run([sys.executable, "-m", "web.cli", *args], input=stdin, capture_output=True, text=True,
                          env=service_env(data_dir, 0, env), cwd=data_dir.parent, timeout=120, check=False)


def postgres_running_in(data_dir: Path) -> list[int]:
    """PIDs of the PostgreSQL postmasters serving `data_dir/pg` (none once it is stopped)."""
    pgdata = str((data_dir / "pg").resolve())
    found: list[int] = []
    for proc in psutil.process_iter(["name", "cmdline"]):
        cmdline = proc.info.get("cmdline") or []
        if proc.info.get("name") == "postgres" and "-D" in cmdline and pgdata in cmdline:
            found.append(proc.pid)
    return found


async def get_json(http: aiohttp.ClientSession, url: str, **kwargs: Any) -> tuple[int, Any]:
    async with http.get(url, **kwargs) as response:
        return response.status, await response.json()


async def poll(check: Any, *, deadline_s: float = 60.0, interval_s: float = 0.2) -> Any:
    """Call the async `check()` until it returns something truthy; fail after `deadline_s`.

    Another process is observed, so there is no event to wait on; the deadline only bounds a broken run.
    """
    loop = asyncio.get_running_loop()
    give_up = loop.time() + deadline_s
    while True:
        result = await check()
        if result:
            return result
        if loop.time() > give_up:
            raise AssertionError(f"condition not met within {deadline_s} s (last: {result!r})")
        await asyncio.sleep(interval_s)


async def csrf_of(http: aiohttp.ClientSession, url: str) -> str:
    """The CSRF token the page at `url` embeds in its forms (the session's cookie is `http`'s)."""
    async with http.get(url) as response:
        html = await response.text()
    marker = 'name="_csrf" value="'
    start = html.index(marker) + len(marker)
    return html[start:html.index('"', start)]


async def log_in(http: aiohttp.ClientSession, base_url: str, login: str, password: str) -> None:
    """Log `http` in through the real form, as a browser does."""
    base = base_url.rstrip("/")
    async with http.post(f"{base}/login", allow_redirects=False, data={
            "login": login, "password": password, "_csrf": await csrf_of(http, f"{base}/login")}) as response:
        if response.status != 303:
            raise AssertionError(f"login {login} failed: {response.status} {await response.text()}")
