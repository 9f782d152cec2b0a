"""The admin's view of the gaps in the AMI connection: the PBX gaps page and /healthz, over real HTTP."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from aiohttp import web
from aiohttp.test_utils import TestClient

from crm import calls
from crm.database import Pool
from crm.recovery import store
from tests.conftest import MakeManager, login

Client = TestClient[web.Request, web.Application]
AT = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


async def test_admins_see_each_gap_with_what_was_recovered(client: Client, pool: Pool,
                                                           make_manager: MakeManager) -> None:
    ok = await store.open_gap(pool, AT, AT + timedelta(minutes=7))
    await store.finish_gap(pool, ok, AT + timedelta(minutes=7), recovered=3, completed=1)
    failed = await store.open_gap(pool, AT + timedelta(hours=1), AT + timedelta(hours=1, seconds=20))
    await store.finish_gap(pool, failed, AT + timedelta(hours=1), recovered=0, completed=0,
                           error="backfill failed: <script>alert(1)</script>")
    await login(client, await make_manager("admin"))
    html = await (await client.get("/calls/gaps")).text()
    assert html.count('<tr class="gap">') == 2
    assert "<td>420</td>" in html and "<td>3</td>" in html and "<td>1</td>" in html
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert html.index("<td>20</td>") < html.index("<td>420</td>")  # newest first
    assert 'href="/calls/gaps"' in await (await client.get("/calls")).text()


async def test_only_admins_open_the_gaps_page(client: Client, make_manager: MakeManager) -> None:
    await login(client, await make_manager("supervisor"))
    assert (await client.get("/calls/gaps")).status == 403
    assert 'href="/calls/gaps"' not in await (await client.get("/calls")).text()


async def test_a_recovered_call_is_marked_in_the_journal(client: Client, pool: Pool,
                                                         make_manager: MakeManager) -> None:
    await calls.record_call_ended(pool, calls.CallEnd(
        linkedid="1796124035.0", at=AT, direction="inbound", outcome="answered", reason="", answered_by="101",
        operator="101", customer_number="79161110001", hung_up_by=None, hung_up_by_extension=None, ring_s=0.5,
        talk_s=2.0))
    await pool.execute("UPDATE calls SET recovered = true")
    await login(client, await make_manager("supervisor"))
    assert "call-recovered" in await (await client.get("/calls")).text()
