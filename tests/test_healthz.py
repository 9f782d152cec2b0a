"""`/healthz` as monitoring sees it: `ok` only when everything configured works, `degraded` (503) with reasons.

The service runs as a real process; its AMI points at a loopback port where no Asterisk listens.
"""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Any

import aiohttp

from tests.pbx.ports import free_port
from tests.service_process import get_json, poll, run_cli, start_service


async def _login(http: aiohttp.ClientSession, base: str, login: str, password: str) -> None:
    async with http.get(f"{base}/login") as response:
        html = await response.text()
    marker = 'name="_csrf" value="'
    csrf = html[html.index(marker) + len(marker):].split('"', 1)[0]
    async with http.post(f"{base}/login", data={"login": login, "password": password, "_csrf": csrf},
                         allow_redirects=False) as response:
        assert response.status == 303, await response.text()


async def test_ami_down_past_the_grace_period_is_degraded_and_details_are_for_admins(tmp_path: Path) -> None:
    data_dir = tmp_path / "var"
    assert run_cli(["user", "add", "root", "--name", "Админ", "--role", "admin", "--password-stdin"], data_dir,
                   stdin="admin-password\n").returncode == 0
    service = start_service("serve", data_dir, env={
        "PEREZVON_AMI_HOST": "127.0.0.1", "PEREZVON_AMI_PORT": str(free_port()), "PEREZVON_AMI_USER": "perezvon",
        "PEREZVON_AMI_SECRET": "not-for-the-public", "PEREZVON_AMI_HEALTH_GRACE": "1",
        "PEREZVON_AGI_HOST": "127.0.0.1"})
    try:
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
            async def degraded() -> dict[str, Any] | None:
                status, body = await get_json(http, service.url("/healthz"))
                return body if status == 503 else None

            body = await poll(degraded, deadline_s=30)
            assert body["status"] == "degraded" and body["db"] == "ok" and body["agi"] == "listening"
            assert body["ami"] == "reconnecting"
            assert any("AMI not connected" in problem for problem in body["problems"]), body
            public = str(body)
            assert "ami_error" not in body and "perezvon" not in public and "0.1.0" not in public

            await _login(http, service.url(""), "root", "admin-password")
            status, admin_view = await get_json(http, service.url("/healthz"))
            assert status == 503 and "ami_error" in admin_view and admin_view["ami_status"]["sessions"] == 0
            assert admin_view["phones_registered"] == []  # nothing reported: no Asterisk answered
    finally:
        assert service.stop(signal.SIGTERM) == 0, service.output


async def test_nothing_configured_but_the_database_is_ok(tmp_path: Path) -> None:
    service = start_service("serve", tmp_path / "var", env={"PEREZVON_AGI_HOST": ""})
    try:
        async with aiohttp.ClientSession() as http:
            status, body = await get_json(http, service.url("/healthz"))
        assert status == 200 and body == {"status": "ok", "db": "ok", "ami": "disabled", "agi": "disabled"}
    finally:
        assert service.stop(signal.SIGTERM) == 0, service.output
