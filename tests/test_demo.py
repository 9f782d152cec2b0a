"""`perezvon demo` end to end: embedded PostgreSQL, migrations, demo data, the simulated PBX, clean Ctrl-C.

Judged as a new user would: the AMI says connected, and simulated calls *finish* in the journal
with an outcome and the legs that rang (on the service's own loop, uvloop, the AMI client once
never logged in and every call stayed «Идёт» while this test accepted any row).
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp

from crm.demo_data import DEMO_PASSWORD, WORKING_HOURS
from tests.service_process import ServiceProcess, get_json, poll, postgres_running_in, start_service

#: A fast, busy simulated PBX: many short calls.
DEMO_ENV = {"PEREZVON_SIM_CALLS_PER_MINUTE": "120", "PEREZVON_SIM_SPEED": "20", "PEREZVON_SIM_SEED": "7"}


async def _log_in(http: aiohttp.ClientSession, service: ServiceProcess, login: str) -> None:
    async with http.get(service.url("/login")) as response:
        html = await response.text()
    marker = 'name="_csrf" value="'
    csrf = html[html.index(marker) + len(marker):].split('"', 1)[0]
    async with http.post(service.url("/login"), allow_redirects=False,
                         data={"login": login, "password": DEMO_PASSWORD, "_csrf": csrf}) as response:
        assert response.status == 303


async def finished_inbound_calls(http: aiohttp.ClientSession, service: ServiceProcess) -> list[dict[str, Any]]:
    """Customers' calls that ended with an outcome (the simulated PBX's, once they finish). After the demo shop's
    hours (21:00 Moscow) they go to voicemail and ring no phone: no legs then."""
    status, body = await get_json(http, service.url("/api/v1/calls"))
    assert status == 200, body
    return [call for call in body["items"] if call["ended_at"] and call["outcome"] and call["direction"] == "inbound"
            and (call["legs"] or call["route"] and call["route"]["reason"] == "after_hours")]


async def assert_looks_like_a_shop(http: aiohttp.ClientSession, service: ServiceProcess) -> None:
    """Named customers (no «Клиент №23»), real order numbers with some late, open tasks due in working hours."""
    status, body = await get_json(http, service.url("/api/v1/customers?limit=100"))
    assert status == 200 and len(body["items"]) == 100, body
    assert not [c["name"] for c in body["items"] if "#" in c["name"] or "№" in c["name"]]
    status, body = await get_json(http, service.url("/api/v1/orders?overdue=true&limit=200"))
    assert status == 200 and body["items"], body
    assert all(o["number"].isdigit() and int(o["number"]) >= 10234 for o in body["items"])
    status, body = await get_json(http, service.url("/api/v1/tasks?status=open&limit=200"))
    assert status == 200 and body["items"], body
    for task in body["items"]:  # the shop's zone is the default one, PEREZVON_TIMEZONE=Europe/Moscow
        due = datetime.fromisoformat(task["due_at"]).astimezone(ZoneInfo("Europe/Moscow"))
        opens, closes = WORKING_HOURS[due.isoweekday()]
        assert opens <= due.strftime("%H:%M") < closes, task


async def test_demo_serves_connects_finishes_calls_and_stops_cleanly(tmp_path: Path) -> None:
    data_dir = tmp_path / "var"
    service = start_service("demo", data_dir, env=DEMO_ENV)
    try:
        output = service.output
        assert "demo data loaded" in output
        assert service.url("/") in output
        for login in ("admin", "head", "anna"):
            assert login in output
        assert DEMO_PASSWORD in output
        # unsafe=True: the cookie jar must accept cookies from an IP address (127.0.0.1).
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
            async def connected() -> dict[str, Any] | None:
                status, body = await get_json(http, service.url("/healthz"))
                return body if status == 200 and body["ami"] == "connected" else None

            health = await poll(connected, deadline_s=30)
            assert health["status"] == "ok" and health["db"] == "ok" and health["ami_simulated"] is True
            await _log_in(http, service, "head")
            await assert_looks_like_a_shop(http, service)
            call = (await poll(lambda: finished_inbound_calls(http, service), deadline_s=90))[0]
            assert call["outcome"] in ("answered", "missed")
            assert all(leg["result"] for leg in call["legs"])
            assert call["talk_s"] is not None or call["reason"]
    finally:
        assert service.stop() == 0, service.output
    assert "ERROR" not in service.output and "Traceback" not in service.output, service.output
    assert not postgres_running_in(data_dir), "embedded PostgreSQL still running after Ctrl-C"

    again = start_service("demo", data_dir, env=DEMO_ENV)
    try:
        assert "demo data already present" in again.output
    finally:
        assert again.stop() == 0
