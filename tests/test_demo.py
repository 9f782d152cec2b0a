"""`perezvon demo` end to end: embedded PostgreSQL, migrations, demo data, serving, clean Ctrl-C."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import aiohttp

from crm.demo_data import DEMO_PASSWORD


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def start_demo(data_dir: Path, port: int) -> tuple[subprocess.Popen[str], list[str]]:
    """Start the demo and read its output up to the 'Press Ctrl-C' line (the service is then up)."""
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env.update({"PEREZVON_DATA_DIR": str(data_dir), "PEREZVON_HTTP_PORT": str(port), "PEREZVON_LOG_LEVEL": "WARNING",
                # free ports for the simulated PBX and the router; a fast, busy simulated PBX
                "PEREZVON_SIM_AMI_PORT": "0", "PEREZVON_AGI_PORT": "0",
                "PEREZVON_SIM_CALLS_PER_MINUTE": "120", "PEREZVON_SIM_SPEED": "20", "PEREZVON_SIM_SEED": "7"})
    process = subprocess.Popen([sys.executable, "-m", "web.cli", "demo"], stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True, env=env, cwd=data_dir.parent)
    assert process.stdout is not None
    lines: list[str] = []
    for line in process.stdout:
        lines.append(line.rstrip("\n"))
        if "Press Ctrl-C" in line:
            return process, lines
    raise AssertionError("demo exited before serving:\n" + "\n".join(lines))


async def wait_for_calls(http: aiohttp.ClientSession, port: int, deadline_s: float = 60.0) -> list[dict[str, object]]:
    """Poll the calls API until the simulated PBX's first calls are recorded (the demo is another process,
    so there is no event to wait on; the deadline only bounds a broken run)."""
    loop = asyncio.get_running_loop()
    give_up = loop.time() + deadline_s
    while True:
        async with http.get(f"http://127.0.0.1:{port}/api/v1/calls") as response:
            assert response.status == 200, await response.text()
            items: list[dict[str, object]] = (await response.json())["items"]
        if items or loop.time() > give_up:
            assert items, "no call recorded by the demo's simulated PBX"
            return items
        await asyncio.sleep(0.25)


def stop(process: subprocess.Popen[str]) -> int:
    process.send_signal(signal.SIGINT)
    try:
        return process.wait(timeout=60)
    finally:
        if process.stdout is not None:
            process.stdout.close()


async def test_demo_serves_logs_in_and_stops_cleanly(tmp_path: Path) -> None:
    data_dir = tmp_path / "var"
    port = free_port()
    process, lines = start_demo(data_dir, port)
    try:
        output = "\n".join(lines)
        assert "demo data loaded" in output
        assert f"http://127.0.0.1:{port}/" in output
        for login in ("admin", "head", "anna"):
            assert login in output
        assert DEMO_PASSWORD in output
        # unsafe=True: the cookie jar must accept cookies from an IP address (127.0.0.1).
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
            async with http.get(f"http://127.0.0.1:{port}/healthz") as response:
                assert (await response.json())["db"] == "ok"
            async with http.get(f"http://127.0.0.1:{port}/login") as response:
                html = await response.text()
            marker = 'name="_csrf" value="'
            csrf = html[html.index(marker) + len(marker):].split('"', 1)[0]
            async with http.post(f"http://127.0.0.1:{port}/login", allow_redirects=False,
                                 data={"login": "head", "password": DEMO_PASSWORD, "_csrf": csrf}) as response:
                assert response.status == 303
            calls = await wait_for_calls(http, port)
            assert any(call["direction"] == "inbound" for call in calls)
    finally:
        assert stop(process) == 0
    assert not (data_dir / "pg" / "postmaster.pid").exists(), "embedded PostgreSQL still running after Ctrl-C"

    again, lines = start_demo(data_dir, port)
    try:
        assert "demo data already present" in "\n".join(lines)
    finally:
        assert stop(again) == 0
