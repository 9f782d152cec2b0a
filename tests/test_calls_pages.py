"""The calls journal page and the customer card's calls block, over real HTTP and a real database."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import aiohttp_jinja2
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from crm import calls
from crm.database import Pool
from crm.models import Manager
from tests import calls_scenarios as sc
from tests.conftest import MakeManager, login
from web.app import create_app
from web.config import Settings
from web.keys import CATALOGUES
from web.pages import calls as call_pages

Client = TestClient[web.Request, web.Application]


def _has_route(app: web.Application, path: str) -> bool:
    return any(r.resource is not None and r.resource.canonical == path for r in app.router.routes())


@pytest.fixture
async def app(settings: Settings, pool: Pool) -> web.Application:
    application = create_app(settings, pool)
    if not _has_route(application, "/calls"):  # until the lead wires it into web.pages.setup
        call_pages.setup(application)
    return application


@pytest.fixture
async def client(app: web.Application) -> AsyncIterator[Client]:
    test_client: Client = TestClient(TestServer(app, host="127.0.0.1"))
    await test_client.start_server()
    yield test_client
    await test_client.close()


@pytest.fixture
async def team(make_manager: MakeManager) -> dict[str, Manager]:
    return {"anna": await make_manager("operator", name="Анна", extensions=("101",)),
            "boris": await make_manager("operator", name="Борис", extensions=("102",)),
            "vera": await make_manager("operator", name="Вера", extensions=("103",)),
            "boss": await make_manager("supervisor", name="Начальник")}


def call_ids(html: str) -> list[str]:
    return re.findall(r'data-call-id="(\d+)"', html)


async def linked_ids(pool: Pool, *linkedids: str) -> list[str]:
    out = []
    for lid in linkedids:
        call = await calls.get_call(pool, lid)
        assert call is not None
        out.append(str(call.id))
    return out


ALL = ("1795345255.0", "1795345298.10", "1795345274.4", "1795345286.6", "1795345330.19", "1795345391.33",
       "1795345427.37", "1795345500.50")


async def test_supervisor_sees_every_call_newest_first(client: Client, pool: Pool, team: dict[str, Manager]) -> None:
    await sc.record(pool, sc.all_scenarios())
    await login(client, team["boss"])
    response = await client.get("/calls")
    assert response.status == 200
    html = await response.text()
    newest_first = sorted(ALL, key=lambda lid: -int(lid.split(".")[0]))
    assert call_ids(html) == await linked_ids(pool, *newest_first)
    assert "Новый клиент +7 916 111-00-01" in html and "Анна" in html and "занято" in html


@pytest.mark.parametrize(("query", "expected"), [
    ("outcome=missed", ("1795345330.19", "1795345286.6", "1795345274.4")),
    ("outcome=answered&direction=outbound", ("1795345427.37", "1795345391.33")),
    ("direction=internal", ("1795345500.50",)),
    ("manager={boris}", ("1795345500.50", "1795345330.19", "1795345298.10")),
])
async def test_journal_filters(client: Client, pool: Pool, team: dict[str, Manager], query: str,
                               expected: tuple[str, ...]) -> None:
    await sc.record(pool, sc.all_scenarios())
    await login(client, team["boss"])
    html = await (await client.get("/calls?" + query.format(boris=team["boris"].id))).text()
    assert call_ids(html) == await linked_ids(pool, *expected)


async def test_date_filter_uses_the_shops_days(client: Client, pool: Pool, team: dict[str, Manager]) -> None:
    await sc.record(pool, [*sc.inbound_answered(), *sc.no_answer(lid="2.1", t=sc.T0 + 86400)])
    await login(client, team["boss"])
    day = datetime.fromtimestamp(sc.T0, UTC).astimezone(ZoneInfo("Europe/Moscow")).date()
    html = await (await client.get(f"/calls?from={day}&to={day}")).text()
    assert call_ids(html) == await linked_ids(pool, "1795345255.0")
    html = await (await client.get(f"/calls?from={day + timedelta(days=1)}")).text()
    assert call_ids(html) == await linked_ids(pool, "2.1")
    response = await client.get("/calls?from=yesterday")
    assert response.status == 200 and "Неверная дата" in await response.text()


async def test_operator_sees_only_calls_they_took_placed_or_that_rang_them(
        client: Client, pool: Pool, team: dict[str, Manager]) -> None:
    await sc.record(pool, [*sc.all_scenarios(), *sc.inbound_answered(lid="3.1", ext="103")])
    await login(client, team["boris"])
    # Asking for someone else's calls does not widen an operator's view.
    html = await (await client.get(f"/calls?manager={team['vera'].id}")).text()
    assert call_ids(html) == await linked_ids(pool, "1795345500.50", "1795345330.19", "1795345298.10")
    assert 'name="manager"' not in html


async def test_journal_is_paged(client: Client, pool: Pool, team: dict[str, Manager]) -> None:
    facts = [fact for n in range(call_pages.PAGE_SIZE + 1) for fact in sc.busy(lid=f"5.{n}", t=sc.T0 + n)]
    await sc.record(pool, facts)
    await login(client, team["boss"])
    html = await (await client.get("/calls?outcome=missed")).text()
    assert len(call_ids(html)) == call_pages.PAGE_SIZE
    assert 'href="/calls?outcome=missed&amp;offset=50"' in html
    html = await (await client.get("/calls?outcome=missed&offset=50")).text()
    assert call_ids(html) == await linked_ids(pool, "5.0")


async def test_hostile_caller_id_is_escaped(client: Client, pool: Pool, team: dict[str, Manager]) -> None:
    await sc.record(pool, sc.no_answer(caller='<img src=x onerror="alert(1)">\x07'))
    await login(client, team["boss"])
    html = await (await client.get("/calls")).text()
    assert "<img src=x" not in html and "\x07" not in html
    assert "&lt;img src=x onerror=&#34;alert(1)&#34;&gt;" in html


async def test_anonymous_caller_is_shown(client: Client, pool: Pool, team: dict[str, Manager]) -> None:
    await sc.record(pool, [*sc.no_answer(caller="anonymous"), *sc.busy(caller="")])
    await login(client, team["boss"])
    html = await (await client.get("/calls")).text()
    assert "anonymous" in html and "Скрытый номер" in html


async def test_journal_needs_login(client: Client) -> None:
    response = await client.get("/calls", allow_redirects=False)
    assert response.status == 303 and response.headers["Location"].startswith("/login")


def render_block(app: web.Application, locale: str, **context: object) -> str:
    env = aiohttp_jinja2.get_env(app)
    catalogues = app[CATALOGUES]
    return env.get_template("calls/_block.html").render(_=lambda key: catalogues.gettext(locale, key), **context)


async def test_calls_block_for_the_customer_card(app: web.Application, pool: Pool, team: dict[str, Manager]) -> None:
    await sc.record(pool, [*sc.inbound_answered(), *sc.no_answer(lid="4.1", caller="79161110001", t=sc.T0 + 600)])
    call = await calls.get_call(pool, "4.1")
    assert call is not None and call.customer_id is not None
    html = render_block(app, "ru", calls=await calls.list_customer_calls(pool, call.customer_id))
    rows = html.split("<tr class=")[1:]
    assert len(rows) == 2  # newest first
    missed, answered = rows
    assert "✗" in missed and "Пропущен" in missed and "не ответили" in missed and "Анна" in missed
    assert "0:08" in missed
    assert "✓" in answered and "Отвечен" in answered and "Анна" in answered
    assert "0:02" in answered and "0:03" in answered
    moscow = datetime.fromtimestamp(sc.T0, UTC).astimezone(ZoneInfo("Europe/Moscow")).strftime("%d.%m.%Y %H:%M")
    assert moscow in answered
    english = render_block(app, "en", calls=await calls.list_customer_calls(pool, call.customer_id))
    assert "no answer" in english and "Answered" in english


async def test_calls_block_when_empty(app: web.Application) -> None:
    assert "Звонков пока нет" in render_block(app, "ru", calls=[])
    assert "No calls yet" in render_block(app, "en", calls=[])
    assert "No calls yet" in render_block(app, "en")  # no `calls` in the context at all
