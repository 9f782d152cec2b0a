"""The PBX tier: a real Asterisk 22 (built once into ~/.cache/perezvon by tools/asterisk/build.sh), sipp
as the provider and the desk phones, and the real `perezvon serve` process.

Session fixtures, in the order they build on each other:
    asterisk_prefix   the install prefix; builds Asterisk when the cache lacks it. A failed build FAILS
                      the tier: only PEREZVON_SKIP_PBX=1 skips it (for machines without a toolchain).
    cdr_database      `perezvon db serve` on perezvon's data directory: its embedded PostgreSQL, migrated,
                      up before Asterisk (whose cdr_pgsql writes into it) and whether perezvon runs or not
    asterisk          a running Asterisk on a scratch copy of asterisk-conf/ (scratch_conf.py), fully booted
    perezvon          `perezvon serve` on that embedded PostgreSQL, AMI connected to that Asterisk,
                      answering its FastAGI; staff 101..105 online, open around the clock
Per test:
    workdir           where this test's sipp files go
    phones            `await phones.start("101", PhoneBehaviour(...))`; every phone is switched off
                      (unregistered) after the test
The fast suite does not collect this directory (Makefile: `pytest --ignore=tests/pbx`); `make test-pbx` runs it.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest

from tests.pbx.asterisk_process import (
    Asterisk,
    AsteriskError,
    build_asterisk,
    hang_up_everything,
    start_asterisk,
    stop_asterisk,
)
from tests.pbx.database_process import DatabaseProcess, start_database, stop_database
from tests.pbx.phones import Phone, PhoneBehaviour, start_phone, stop_phone
from tests.pbx.ports import free_port, free_tcp_and_udp_port, free_udp_range
from tests.pbx.scratch_conf import PROVIDER_HOST, ScratchValues, make_scratch
from tests.pbx.service_process import (
    OPERATOR_LOGINS,
    Service,
    ServiceConfig,
    admin_health,
    create_staff,
    open_around_the_clock,
    set_presence,
    start_service,
    stop_service,
)

SKIP_VARIABLE = "PEREZVON_SKIP_PBX"


@pytest.fixture(scope="session")
def asterisk_prefix() -> Path:
    if os.environ.get(SKIP_VARIABLE) == "1":
        pytest.skip(f"{SKIP_VARIABLE}=1: the PBX tier is skipped on request")
    try:
        return build_asterisk()
    except AsteriskError as exc:
        pytest.fail(f"the PBX tier needs Asterisk, and it could not be built (set {SKIP_VARIABLE}=1 to skip "
                    f"the tier on purpose): {exc}", pytrace=False)


@pytest.fixture(scope="session")
def pbx_root(request: pytest.FixtureRequest) -> Iterator[Path]:
    """This run's directory for Asterisk, perezvon and sipp files; kept when a test failed (for its logs).

    Not pytest's tmp_path: another pytest run on the machine deletes all but the newest three of those,
    which pulled the data directory from under a running perezvon once.
    """
    root = Path(tempfile.mkdtemp(prefix="perezvon-pbx-"))
    yield root
    if request.session.testsfailed:
        print(f"\nPBX tier files kept in {root}")
    else:
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
async def cdr_database(asterisk_prefix: Path, pbx_root: Path) -> AsyncIterator[DatabaseProcess]:
    """`perezvon db serve` on the session perezvon's data directory, up before Asterisk and after perezvon:
    Asterisk's cdr_pgsql writes into it (also while a test has perezvon stopped)."""
    db = await start_database(service_data_dir(pbx_root))
    try:
        yield db
    finally:
        await stop_database(db)


@pytest.fixture(scope="session")
def scratch_values(pbx_root: Path, cdr_database: DatabaseProcess) -> ScratchValues:
    """Free loopback ports for this run, and the secrets the scratch config uses."""
    rtp_start, rtp_end = free_udp_range(200)
    root = pbx_root
    return ScratchValues(sip_port=free_tcp_and_udp_port(), ami_port=free_port(), rtp_start=rtp_start, rtp_end=rtp_end,
                         provider_port=free_tcp_and_udp_port(PROVIDER_HOST), agi_port=free_port(),
                         recordings_dir=root / "recordings", cdr_db_host=cdr_database.socket_dir)


def service_data_dir(pbx_root: Path) -> Path:
    """The session perezvon's data directory (its embedded PostgreSQL, shared with `perezvon db serve`)."""
    return pbx_root / "perezvon" / "data"


@pytest.fixture(scope="session")
async def asterisk(asterisk_prefix: Path, scratch_values: ScratchValues, pbx_root: Path) -> AsyncIterator[Asterisk]:
    scratch = make_scratch(pbx_root / "asterisk", asterisk_prefix, scratch_values)
    pbx = await start_asterisk(scratch)
    try:
        yield pbx
    finally:
        await stop_asterisk(pbx)


@pytest.fixture(scope="session")
async def perezvon(asterisk: Asterisk, pbx_root: Path) -> AsyncIterator[Service]:
    values = asterisk.scratch.values
    config = ServiceConfig(data_dir=service_data_dir(pbx_root), ami_port=values.ami_port,
                           ami_secret=values.ami_secret, agi_port=values.agi_port, agi_secret=values.agi_secret,
                           recordings_dir=values.recordings_dir)
    token = await create_staff(config)
    service = await start_service(config, token)
    try:
        await open_around_the_clock(config.base_url)
        for login in OPERATOR_LOGINS.values():
            await set_presence(config.base_url, login, "online")
        yield service
    finally:
        await stop_service(service)


@pytest.fixture
def workdir(pbx_root: Path, request: pytest.FixtureRequest) -> Path:
    """This test's directory for sipp's logs (under the run's directory)."""
    path = pbx_root / "tests" / re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name)
    path.mkdir(parents=True, exist_ok=True)
    return path


class Phones:
    """Starts desk phones for one test and switches them all off afterwards.

    With a `service`, each start (and the final switch-off) also waits until perezvon's routing view
    has the phone registered (unregistered): the registration reaches perezvon as an AMI event a moment
    after the phone's 200 OK, and a call placed before it would be routed as if the phone were away.
    """

    def __init__(self, asterisk: Asterisk, workdir: Path, service: Service | None = None) -> None:
        self.asterisk = asterisk
        self.workdir = workdir
        self.service = service
        self.started: list[Phone] = []

    async def start(self, ext: str, behaviour: PhoneBehaviour | None = None) -> Phone:
        phone = await start_phone(self.asterisk, ext, self.workdir, behaviour or PhoneBehaviour())
        self.started.append(phone)
        await self._wait_registered(lambda registered: ext in registered, f"{ext} registered")
        return phone

    async def stop(self, phone: Phone) -> None:
        """Switch one phone off now (the others stay registered)."""
        self.started.remove(phone)
        await stop_phone(phone)
        await self._wait_registered(lambda registered: phone.ext not in registered, f"{phone.ext} unregistered")

    async def stop_all(self) -> None:
        stopped = {phone.ext for phone in self.started}
        while self.started:
            await stop_phone(self.started.pop())
        await self._wait_registered(lambda registered: not stopped & registered, f"{sorted(stopped)} unregistered")

    async def _wait_registered(self, done: Callable[[set[str]], bool], what: str, timeout_s: float = 15) -> None:
        if self.service is None or self.service.process.returncode is not None:
            return
        deadline = time.monotonic() + timeout_s
        while True:
            health = await admin_health(self.service)
            registered = set(health.get("phones_registered", []))
            if done(registered):
                return
            if time.monotonic() > deadline:
                raise AssertionError(f"perezvon never saw {what} within {timeout_s} s: {health}")
            await asyncio.sleep(0.1)


@pytest.fixture
async def phones(asterisk: Asterisk, workdir: Path, request: pytest.FixtureRequest) -> AsyncIterator[Phones]:
    """Desk phones for one test; afterwards every phone is switched off and the PBX must be idle.

    A call the test left up is hung up here and fails this test's teardown, instead of making the next
    test's operator "busy".
    """
    leftover = await hang_up_everything(asterisk)
    assert not leftover, f"{leftover} channel(s) were up before the test started"
    service: Service | None = request.getfixturevalue("perezvon") if "perezvon" in request.fixturenames else None
    started = Phones(asterisk, workdir, service)
    try:
        yield started
    finally:
        try:
            await started.stop_all()
        finally:
            leftover = await hang_up_everything(asterisk)
        assert not leftover, f"the test left {leftover} channel(s) up in Asterisk (hung up now)"
