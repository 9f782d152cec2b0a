"""Test base: one real PostgreSQL per test session, a fresh database per test.

The server is the embedded one (in a temporary directory) unless `DATABASE_URL` names
another. Migrations run once into a template database; each test gets its own copy
(`CREATE DATABASE ... TEMPLATE`), so tests are isolated and can run in any order.

Async tests run on the loop the service runs on (`web.event_loop`: uvloop on Linux): a socket of
ours that only works on asyncio's own loop once shipped green. Tests marked `both_loops` (the
protocol clients and servers) run on asyncio's loop as well.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from crm import database, managers
from crm.database import Pool
from crm.embedded import start_embedded
from crm.managers import ManagerInput
from crm.models import Manager, Role
from tests.transcription_helpers import base_transcriber, model_cache  # noqa: F401  (one model per session)
from web import event_loop
from web.app import create_app
from web.config import Settings, load_settings

TEMPLATE_DB = "perezvon_test_template"
PASSWORD = "correct-horse-battery"
_counter = itertools.count()


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "both_loops: run the async test on uvloop and on asyncio's own loop")


LoopFactory = Callable[[], asyncio.AbstractEventLoop]


def pytest_asyncio_loop_factories(config: pytest.Config, item: pytest.Item) -> dict[str, LoopFactory]:
    """The service's loop for every async test; asyncio's too for tests marked `both_loops`."""
    service_loop = event_loop.loop_factory() or asyncio.new_event_loop
    factories: dict[str, LoopFactory] = {"service-loop": service_loop}
    if item.get_closest_marker("both_loops") is not None:
        factories["asyncio-loop"] = asyncio.new_event_loop
    return factories


@dataclass(frozen=True)
class PgServer:
    """How to reach the test server: `dsn(name)` gives a DSN for database `name`."""

    base_dsn: str

    def dsn(self, name: str) -> str:
        parts = urlsplit(self.base_dsn)
        return urlunsplit(parts._replace(path="/" + name))


@pytest.fixture(scope="session", autouse=True)
def _cheap_password_hashing() -> Iterator[None]:
    """Argon2id with small parameters in-process: the same algorithm and code path, a fraction of the
    cost, so the many logins of the suite stay fast. (CLI and demo tests run real processes with the
    production parameters.)"""
    from argon2 import PasswordHasher

    from crm import passwords

    original = passwords._hasher
    passwords._hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    yield
    passwords._hasher = original


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    url = os.environ.get("DATABASE_URL")
    if url:
        yield PgServer(url)
        return
    with tempfile.TemporaryDirectory(prefix="perezvon-test-pg-") as tmp:
        embedded = start_embedded(Path(tmp), delete_on_stop=True)
        try:
            yield PgServer(embedded.uri("postgres"))
        finally:
            embedded.stop()


@pytest.fixture(scope="session")
async def template_db(pg_server: PgServer) -> str:
    admin = await asyncpg.connect(pg_server.base_dsn)
    try:
        await admin.execute(f"DROP DATABASE IF EXISTS {TEMPLATE_DB} WITH (FORCE)")
        await admin.execute(f"CREATE DATABASE {TEMPLATE_DB} TEMPLATE template0 ENCODING 'UTF8'")
    finally:
        await admin.close()
    conn = await database.connect(pg_server.dsn(TEMPLATE_DB))
    try:
        await database.migrate(conn)
    finally:
        await conn.close()
    return TEMPLATE_DB


@pytest.fixture
async def db_dsn(pg_server: PgServer, template_db: str) -> AsyncIterator[str]:
    name = f"perezvon_test_{os.getpid()}_{next(_counter)}"
    admin = await asyncpg.connect(pg_server.base_dsn)
    try:
        # (STRATEGY FILE_COPY was measured: its checkpoint per database makes the suite slower, not faster.)
        await admin.execute(f"CREATE DATABASE {name} TEMPLATE {template_db}")
    finally:
        await admin.close()
    yield pg_server.dsn(name)
    admin = await asyncpg.connect(pg_server.base_dsn)
    try:
        await admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    finally:
        await admin.close()


@pytest.fixture
async def pool(db_dsn: str) -> AsyncIterator[Pool]:
    db_pool = await database.create_pool(db_dsn, min_size=1, max_size=5)
    yield db_pool
    await db_pool.close()


@pytest.fixture
def settings(tmp_path: Path, db_dsn: str) -> Settings:
    base = load_settings(environ={"DATABASE_URL": db_dsn, "PEREZVON_DATA_DIR": str(tmp_path / "data"),
                                  "PEREZVON_SECRET_KEY": "test-secret-key-test-secret-key!!"}, env_file=None)
    return replace(base, web=replace(base.web, login_max_failures=3))


MakeManager = Callable[..., Awaitable[Manager]]


@pytest.fixture
def make_manager(pool: Pool) -> MakeManager:
    """Create a manager with password `PASSWORD`; logins are unique per call."""
    numbers = itertools.count(1)

    async def make(role: Role = "operator", *, login: str | None = None, name: str | None = None,
                   extensions: tuple[str, ...] = ()) -> Manager:
        n = next(numbers)
        data = ManagerInput(login=login or f"{role}{n}", display_name=name or f"{role.title()} {n}",
                            role=role, extensions=extensions)
        return await managers.create_manager(pool, data, PASSWORD)

    return make


@pytest.fixture
async def client(settings: Settings, pool: Pool) -> AsyncIterator[TestClient[web.Request, web.Application]]:
    """A real aiohttp server on 127.0.0.1 serving the whole app, and a client with a cookie jar."""
    app = create_app(settings, pool)
    server = TestServer(app, host="127.0.0.1")
    test_client: TestClient[web.Request, web.Application] = TestClient(server)
    await test_client.start_server()
    yield test_client
    await test_client.close()


async def open_around_the_clock(pool: Pool) -> None:
    """Every schedule open 00:00-24:00 every day: a test of what happens in opening hours passes at any hour."""
    await pool.execute("UPDATE routing_schedules SET hours = $1", {str(day): ["00:00", "24:00"] for day in range(1, 8)})


async def csrf_from(client: TestClient[web.Request, web.Application], path: str = "/login") -> str:
    """The CSRF token the page at `path` embeds in its forms."""
    html = await (await client.get(path)).text()
    marker = 'name="_csrf" value="'
    start = html.index(marker) + len(marker)
    return html[start:html.index('"', start)]


async def login(client: TestClient[web.Request, web.Application], manager: Manager, password: str = PASSWORD) -> str:
    """Log in through the real form; returns the session's CSRF token for later forms."""
    token = await csrf_from(client)
    response = await client.post("/login", data={"login": manager.login, "password": password, "_csrf": token},
                                 allow_redirects=False)
    assert response.status == 303, await response.text()
    return await csrf_from(client, "/")


@pytest.fixture(autouse=True)
async def _fail_on_loop_exceptions() -> AsyncIterator[None]:
    """Fail any test that leaves an unhandled exception in the event loop (asyncpg's habit)."""
    errors: list[dict[str, object]] = []
    loop = asyncio.get_running_loop()
    previous = loop.get_exception_handler()
    loop.set_exception_handler(lambda _loop, context: errors.append(context))
    yield
    loop.set_exception_handler(previous)
    assert not errors, f"unhandled exceptions in the event loop: {errors}"
