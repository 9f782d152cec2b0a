"""The real `perezvon serve` process for the PBX tier, and the few ways a person talks to it.

The tier tests the product as it is run: `python -m web.cli serve` (what `.venv/bin/perezvon serve`
runs) in its own process and on its own event loop, with its embedded PostgreSQL in a temporary data
directory (no DATABASE_URL), pointed at the test Asterisk's AMI and answering its FastAGI. Managers
and the API token are made with the documented CLI (`perezvon user add`, `perezvon token create`);
what has no CLI (presence, working hours) goes through the web panel's own forms, logged in as that
user, exactly as an operator or an admin would do it.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from tests.pbx.ports import free_port
from tests.pbx.scratch_conf import OPERATORS, REPO

PASSWORD = "pbx-tier-password"
ADMIN = "admin"
#: Logins of the operators, by extension (each owns that extension in the CRM).
OPERATOR_LOGINS = {ext: f"op{ext}" for ext in OPERATORS}


class ServiceError(RuntimeError):
    """perezvon did not start, did not become healthy, or a CLI command failed."""


@dataclass(frozen=True)
class ServiceConfig:
    """What `perezvon serve` is told through its environment (.env.example lists every setting)."""

    data_dir: Path
    ami_port: int
    ami_secret: str
    agi_port: int
    http_port: int = field(default_factory=free_port)
    ami_user: str = "perezvon"
    #: PEREZVON_AGI_SECRET: the dialplan's PEREZVON_AGI_SECRET, so the route requests are accepted.
    agi_secret: str = ""
    #: PEREZVON_RECORDINGS_DIR: the dialplan's RECORDINGS_DIR, where MixMonitor writes (None: the default).
    recordings_dir: Path | None = None
    #: PEREZVON_SOFTPHONE_AUDIOSOCKET: where softphone legs connect (a test's `SoftphonePeer` listens there).
    softphone_audiosocket: str = field(default_factory=lambda: f"127.0.0.1:{free_port()}")

    def environ(self) -> dict[str, str]:
        env = {key: value for key, value in os.environ.items()
               if not key.startswith("PEREZVON_") and key != "DATABASE_URL"}
        env.update({
            "PEREZVON_DATA_DIR": str(self.data_dir), "PEREZVON_HTTP_HOST": "127.0.0.1",
            "PEREZVON_HTTP_PORT": str(self.http_port), "PEREZVON_AMI_HOST": "127.0.0.1",
            "PEREZVON_AMI_PORT": str(self.ami_port), "PEREZVON_AMI_USER": self.ami_user,
            "PEREZVON_AMI_SECRET": self.ami_secret, "PEREZVON_AGI_HOST": "127.0.0.1",
            "PEREZVON_AGI_PORT": str(self.agi_port), "PEREZVON_AGI_SECRET": self.agi_secret,
            "PEREZVON_SECRET_KEY": "pbx-tier-secret-key-0123456789abcdef",
            "PEREZVON_LOG_LEVEL": "INFO", "PYTHONPATH": str(REPO), "PEREZVON_TRANSCRIBE_THREADS": "2",
            "PEREZVON_SOFTPHONE_AUDIOSOCKET": self.softphone_audiosocket,
        })
        if self.recordings_dir is not None:
            env["PEREZVON_RECORDINGS_DIR"] = str(self.recordings_dir)
        return env

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"


async def run_cli(config: ServiceConfig, *args: str, stdin: str = "", timeout_s: float = 120) -> str:
    """`perezvon ARGS...` on the service's data directory; its stdout (ServiceError on failure)."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "web.cli", *args, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, env=config.environ(), cwd=config.data_dir.parent)
    try:
        out, err = await asyncio.wait_for(proc.communicate(stdin.encode()), timeout_s)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise ServiceError(f"perezvon {' '.join(args)} ran past {timeout_s} s") from None
    if proc.returncode != 0:
        raise ServiceError(f"perezvon {' '.join(args)} exited {proc.returncode}:\n{err.decode(errors='replace')}")
    return out.decode(errors="replace")


async def create_staff(config: ServiceConfig) -> str:
    """An admin and one operator per extension 101..105 (password PASSWORD); returns the admin's API token.

    Run before `serve` on a fresh data directory. (Later, once CLI commands leave a running service's
    PostgreSQL alone, this may run beside it too.)
    """
    config.data_dir.mkdir(parents=True, exist_ok=True)
    await run_cli(config, "user", "add", ADMIN, "--name", "PBX tier admin", "--role", "admin", "--password-stdin",
                  stdin=PASSWORD + "\n")
    for ext, login in OPERATOR_LOGINS.items():
        await run_cli(config, "user", "add", login, "--name", f"Operator {ext}", "--role", "operator",
                      "--extension", ext, "--password-stdin", stdin=PASSWORD + "\n")
    out = await run_cli(config, "token", "create", "--user", ADMIN, "--label", "pbx tier")
    return out.strip().splitlines()[-1]


@dataclass
class Service:
    """A running `perezvon serve`."""

    config: ServiceConfig
    process: asyncio.subprocess.Process
    log_file: Path
    token: str

    def log(self) -> str:
        return self.log_file.read_text(encoding="utf-8", errors="replace") if self.log_file.exists() else ""

    async def get_json(self, path: str, *, token: bool = True) -> Any:
        headers = {"Authorization": f"Bearer {self.token}"} if token else {}
        async with aiohttp.ClientSession() as http, http.get(self.config.base_url + path, headers=headers) as resp:
            return await resp.json(content_type=None)

    async def health(self) -> dict[str, Any]:
        async with aiohttp.ClientSession() as http, http.get(self.config.base_url + "/healthz") as resp:
            body: dict[str, Any] = await resp.json(content_type=None)
            return body

    async def wait_health(self, key: str, want: str, timeout_s: float = 60) -> dict[str, Any]:
        """Poll /healthz until `body[key] == want` (e.g. "ami" == "connected")."""
        deadline = time.monotonic() + timeout_s
        last: dict[str, Any] | str = "no answer"
        while True:
            if self.process.returncode is not None:
                raise ServiceError(f"perezvon serve exited {self.process.returncode}:\n{self.log()[-4000:]}")
            try:
                body = await self.health()
                if body.get(key) == want:
                    return body
                last = body
            except (aiohttp.ClientError, ValueError) as exc:
                last = repr(exc)
            if time.monotonic() > deadline:
                raise ServiceError(f"/healthz never had {key}={want!r} within {timeout_s} s; last: {last}\n"
                                   f"{self.log()[-4000:]}")
            await asyncio.sleep(0.2)


async def start_service(config: ServiceConfig, token: str, log_name: str = "perezvon.log") -> Service:
    """Start `perezvon serve` and wait until /healthz says the AMI is connected."""
    log_file = config.data_dir.parent / log_name
    with log_file.open("ab") as log:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "web.cli", "serve", stdin=subprocess.DEVNULL, stdout=log,
            stderr=subprocess.STDOUT, env=config.environ(), cwd=config.data_dir.parent)
    service = Service(config, process, log_file, token)
    try:
        await service.wait_health("ami", "connected")
    except BaseException:
        await stop_service(service)
        raise
    return service


async def stop_service(service: Service, timeout_s: float = 30) -> int:
    """SIGTERM, as systemd or Ctrl-C would; the exit status (killed after `timeout_s`)."""
    return await terminate(service.process, timeout_s)


async def terminate(process: asyncio.subprocess.Process, timeout_s: float = 30) -> int:
    """SIGTERM a perezvon process and wait for it; its exit status (killed after `timeout_s`)."""
    if process.returncode is None:
        process.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(process.wait(), timeout_s)
        except TimeoutError:
            process.kill()
            await process.wait()
    return process.returncode if process.returncode is not None else -1


class WebSession:
    """A browser-like session on the panel: log in through the real form, then post forms with the CSRF token."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        # unsafe=True: keep cookies for an IP address host (127.0.0.1), which aiohttp refuses by default.
        self.http = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
        self.csrf = ""

    async def _csrf_from(self, path: str) -> str:
        async with self.http.get(self.base_url + path) as resp:
            html = await resp.text()
        marker = 'name="_csrf" value="'
        start = html.index(marker) + len(marker)
        return html[start:html.index('"', start)]

    async def login(self, login: str, password: str = PASSWORD) -> None:
        token = await self._csrf_from("/login")
        async with self.http.post(self.base_url + "/login", allow_redirects=False,
                                  data={"login": login, "password": password, "_csrf": token}) as resp:
            if resp.status != 303:
                raise ServiceError(f"login as {login} failed: {resp.status} {await resp.text()}")
        self.csrf = await self._csrf_from("/")

    async def post(self, path: str, data: dict[str, str]) -> int:
        async with self.http.post(self.base_url + path, allow_redirects=False,
                                  data={**data, "_csrf": self.csrf}) as resp:
            if resp.status >= 400:
                raise ServiceError(f"POST {path}: {resp.status} {await resp.text()}")
            return resp.status

    async def post_json(self, path: str, body: dict[str, Any]) -> tuple[int, Any]:
        """An API call as the panel's script makes it: the session cookie and the CSRF header."""
        async with self.http.post(self.base_url + path, json=body, headers={"X-CSRF-Token": self.csrf}) as resp:
            return resp.status, await resp.json(content_type=None)

    async def close(self) -> None:
        await self.http.close()


async def admin_health(service: Service) -> dict[str, Any]:
    """/healthz as a logged-in admin sees it: the AMI client's counters, the phones routing counts as registered."""
    session = WebSession(service.config.base_url)
    try:
        await session.login(ADMIN)
        async with session.http.get(service.config.base_url + "/healthz") as response:
            body: dict[str, Any] = await response.json()
            return body
    finally:
        await session.close()


async def admin_download(service: Service, recording_id: int) -> bytes:
    """A recording's file as a supervisor downloads it from the panel (`GET /recordings/{id}?download=1`)."""
    session = WebSession(service.config.base_url)
    try:
        await session.login(ADMIN)
        async with session.http.get(f"{service.config.base_url}/recordings/{recording_id}?download=1") as response:
            if response.status != 200:
                raise ServiceError(f"recording {recording_id}: {response.status} {await response.text()}")
            return await response.read()
    finally:
        await session.close()


async def set_presence(base_url: str, login: str, presence: str = "online") -> None:
    """The operator sets their own status in the top bar (there is no CLI or API for it)."""
    session = WebSession(base_url)
    try:
        await session.login(login)
        await session.post("/presence", {"presence": presence, "next": "/"})
    finally:
        await session.close()


async def open_around_the_clock(base_url: str, schedule_id: int = 1) -> None:
    """The admin makes the global schedule 00:00-24:00 every day, so a run at night is not "after hours"."""
    session = WebSession(base_url)
    try:
        await session.login(ADMIN)
        form = {"timezone": "Europe/Moscow", "after_hours_target": "voicemail:general"}
        for day in range(1, 8):
            form[f"open_{day}"], form[f"close_{day}"] = "00:00", "24:00"
        await session.post(f"/routing/schedules/{schedule_id}/edit", form)
    finally:
        await session.close()
