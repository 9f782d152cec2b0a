"""Benchmark: screen-pop latency, from the ringing event written on the AMI socket to the pop on the operator's tab.

The product runs as deployed: the real `perezvon serve` process (its own uvloop, its own pool) on a
real PostgreSQL, connected over TCP to an AMI server in this process that speaks like Asterisk 22
(`tests/fake_ami_server.py`, the suite's faithful fake). `--clients` operators log in over HTTP and
keep their `/live` websocket open. For each of `--calls` calls this process writes the frames
Asterisk writes for an inbound call ringing one operator's phone (Newchannel for the trunk and the
phone, DialBegin, then Newstate Ringing); the clock starts just before the Ringing frame is written
and stops when that operator's websocket delivers the `pop` for that call. The pop has gone through
the whole path: AMI parser -> tracker -> call record in PostgreSQL -> the caller's card read ->
NOTIFY -> LISTEN -> hub -> websocket. Every caller is a known customer with an open order, so each
pop carries a real card. Calls start and ring at `--rate` per second and stay up, so `--calls` are
live at once by the end (`--warmup` calls ring first, unmeasured: a service in use has its
connections open and its caches warm).

The peer, measured in the same run on the same machine: the transport alone. A bare aiohttp
websocket server that relays each frame written on its TCP socket to one connected client, no
parsing, no database (`peer_p50_ms` / `peer_p99_ms`): the floor any design pays for AMI socket ->
process -> websocket. Figures are medians of `--runs` runs. The last line is one JSON object.

    python bench/screen_pop.py            # 200 calls, 100 clients, 3 runs
    python bench/screen_pop.py --quick    # 60 calls, 30 clients, 1 run, under a minute
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import signal
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make the repo's packages importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import aiohttp  # noqa: E402
import asyncpg  # noqa: E402
from aiohttp import web  # noqa: E402

from bench.common import bench_database, emit_json, percentile  # noqa: E402
from crm import database  # noqa: E402
from tests.fake_ami_server import FakeAmiServer  # noqa: E402
from tests.service_process import log_in, start_service  # noqa: E402

log = logging.getLogger(__name__)

PASSWORD = "bench-password-1"
DID = "74951234501"


def frame(*pairs: tuple[str, str]) -> bytes:
    return "".join(f"{k}: {v}\r\n" for k, v in pairs).encode() + b"\r\n"


def _channel(name: str, state: int, desc: str, num: str, uid: str, lid: str, context: str) -> list[tuple[str, str]]:
    return [("Privilege", "call,all"), ("Timestamp", f"{time.time():.6f}"), ("Channel", name),
            ("ChannelState", str(state)), ("ChannelStateDesc", desc), ("CallerIDNum", num), ("CallerIDName", num),
            ("ConnectedLineNum", "<unknown>"), ("ConnectedLineName", "<unknown>"), ("Language", "en"),
            ("AccountCode", ""), ("Context", context), ("Exten", DID), ("Priority", "1"), ("Uniqueid", uid),
            ("Linkedid", lid)]


@dataclass(frozen=True)
class Call:
    linkedid: str
    caller: str
    extension: str

    def setup(self) -> bytes:
        """What Asterisk writes before the phone rings: both channels and the dial."""
        n = int(self.linkedid.split(".")[1])
        trunk, phone = f"PJSIP/trunk-{n:08x}", f"PJSIP/{self.extension}-{n + 1:08x}"
        uid = f"{self.linkedid.split('.')[0]}.{n + 1}"
        caller = _channel(trunk, 4, "Ring", self.caller, self.linkedid, self.linkedid, "from-trunk")
        dest = _channel(phone, 0, "Down", self.extension, uid, self.linkedid, "from-internal")
        dial = [*caller, *[("Dest" + k, v) for k, v in dest[2:]], ("DialString", self.extension)]
        return (frame(("Event", "Newchannel"), *caller) + frame(("Event", "Newchannel"), *dest)
                + frame(("Event", "DialBegin"), *dial))

    def ringing(self) -> bytes:
        n = int(self.linkedid.split(".")[1])
        uid = f"{self.linkedid.split('.')[0]}.{n + 1}"
        return frame(("Event", "Newstate"), *_channel(f"PJSIP/{self.extension}-{n + 1:08x}", 5, "Ringing",
                                                       self.extension, uid, self.linkedid, "from-internal"))


async def fill(dsn: str, clients: int, calls: int) -> list[Call]:
    """Operators 101.. with logins op101.., and a known customer with an open order per call."""
    from crm import customers, managers, orders
    from crm.customers import CustomerInput
    from crm.managers import ManagerInput
    from crm.orders import OrderInput

    pool = await database.create_pool(dsn, min_size=1, max_size=4)
    try:
        for i in range(clients):
            ext = str(101 + i)
            await managers.create_manager(pool, ManagerInput(login=f"op{ext}", display_name=f"Оператор {ext}",
                                                             role="operator", extensions=(ext,)), PASSWORD)
        result: list[Call] = []
        for i in range(calls):
            caller = f"7916{1000000 + i:07d}"
            customer = await customers.create_customer(pool, CustomerInput(name=f"Клиент {i}", phones=(f"+{caller}",)))
            await orders.create_order(pool, OrderInput(number=f"B{i:06d}", customer_id=customer.id, total="1990"),
                                      None)
            result.append(Call(linkedid=f"1800000000.{2 * i}", caller=caller, extension=str(101 + i % clients)))
        return result
    finally:
        await pool.close()


class Tab:
    """One operator's tab: records when each call's pop arrived; `news` is set on every pop (shared)."""

    def __init__(self, news: asyncio.Event) -> None:
        self.arrived: dict[str, float] = {}
        self.changed = news

    async def listen(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        async for message in ws:
            if message.type is not aiohttp.WSMsgType.TEXT:
                break
            now = time.perf_counter()
            data = json.loads(message.data)
            if data.get("type") == "pop":
                self.arrived.setdefault(data["call"], now)
                self.changed.set()


async def wait_until(check: Callable[[], bool], news: asyncio.Event, deadline_s: float) -> None:
    async with asyncio.timeout(deadline_s):
        while not check():
            news.clear()
            await news.wait()


async def one_run(calls: list[Call], clients: int, rate: float, dsn: str, tmp: Path, warmup: int) -> list[float]:
    """Latencies of `calls[warmup:]`; the first `warmup` calls ring first, unmeasured (connections, caches)."""
    async with FakeAmiServer() as ami:
        env = {"DATABASE_URL": dsn, "PEREZVON_SECRET_KEY": "bench-secret-key-bench-secret-key!!",
               "PEREZVON_AMI_HOST": "127.0.0.1", "PEREZVON_AMI_PORT": str(ami.port),
               "PEREZVON_AMI_USER": ami.username, "PEREZVON_AMI_SECRET": ami.secret,
               "PEREZVON_DB_POOL_MAX": "20", "PEREZVON_LOG_LEVEL": "WARNING"}
        service = await asyncio.to_thread(start_service, "serve", tmp / f"svc-{time.monotonic_ns()}", env=env)
        sessions: list[aiohttp.ClientSession] = []
        listeners: list[asyncio.Task[None]] = []
        try:
            async with asyncio.timeout(60):
                await ami.wait_for_action("CoreShowChannels")
            tabs: dict[str, Tab] = {}
            news = asyncio.Event()
            for i in range(clients):
                ext = str(101 + i)
                http = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
                sessions.append(http)
                await log_in(http, service.url("/"), f"op{ext}", PASSWORD)
                ws = await http.ws_connect(service.url("/live"), origin=service.url(""))
                hello = await ws.receive_json()
                assert hello["type"] == "hello"
                tabs[ext] = Tab(news)
                listeners.append(asyncio.create_task(tabs[ext].listen(ws)))
            started: dict[str, float] = {}
            for call in calls:  # as Asterisk does: the dial, then the phone rings (a fraction of a ms later)
                await ami.send(call.setup())
                started[call.linkedid] = time.perf_counter()
                await ami.send(call.ringing())
                await asyncio.sleep(1 / rate)

            def done() -> bool:
                return all(c.linkedid in tabs[c.extension].arrived for c in calls)

            await wait_until(done, news, 120)
            return [tabs[c.extension].arrived[c.linkedid] - started[c.linkedid] for c in calls[warmup:]]
        finally:
            for task in listeners:
                task.cancel()
            for http in sessions:
                await http.close()
            await asyncio.to_thread(service.stop, signal.SIGTERM)


async def peer_run(count: int, rate: float) -> list[float]:
    """The transport floor: TCP frame in -> a bare aiohttp websocket server -> the client, nothing else."""
    sockets: list[web.WebSocketResponse] = []
    ready = asyncio.Event()

    async def ws_handler(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        sockets.append(ws)
        ready.set()
        async for _ in ws:
            pass
        return ws

    async def relay(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while line := await reader.readline():
            await sockets[0].send_str(line.decode())
        writer.close()

    app = web.Application()
    app.router.add_get("/ws", ws_handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    tcp = await asyncio.start_server(relay, "127.0.0.1", 0)
    tcp_port = tcp.sockets[0].getsockname()[1]
    arrived: dict[str, float] = {}
    got_all = asyncio.Event()
    async with aiohttp.ClientSession() as http, http.ws_connect(f"http://127.0.0.1:{port}/ws") as ws:
        await ready.wait()

        async def listen() -> None:
            async for message in ws:
                arrived[message.data.strip()] = time.perf_counter()
                if len(arrived) == count:
                    got_all.set()

        listener = asyncio.create_task(listen())
        _, writer = await asyncio.open_connection("127.0.0.1", tcp_port)
        started: dict[str, float] = {}
        for i in range(count):
            key = f"call-{i}"
            started[key] = time.perf_counter()
            writer.write(key.encode() + b"\n")
            await writer.drain()
            await asyncio.sleep(1 / rate)
        async with asyncio.timeout(30):
            await got_all.wait()
        listener.cancel()
        writer.close()
    tcp.close()
    await runner.cleanup()
    return [arrived[k] - started[k] for k in started]


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    runs: list[tuple[float, float, float]] = []
    peers: list[tuple[float, float]] = []
    with tempfile.TemporaryDirectory(prefix="perezvon-bench-pop-") as tmp:
        for run in range(args.runs):
            async with bench_database() as db:
                calls = await fill(db.dsn, args.clients, args.calls + args.warmup)
                latencies = await one_run(calls, args.clients, args.rate, db.dsn, Path(tmp), args.warmup)
                conn = await asyncpg.connect(db.dsn)
                try:
                    info = await machine_info_of(conn)
                finally:
                    await conn.close()
            ms = [s * 1000 for s in latencies]
            runs.append((percentile(ms, 50), percentile(ms, 99), max(ms)))
            peer_ms = [s * 1000 for s in await peer_run(args.calls, args.rate)]
            peers.append((percentile(peer_ms, 50), percentile(peer_ms, 99)))
            print(f"run {run + 1}: pop p50 {runs[-1][0]:.1f} ms, p99 {runs[-1][1]:.1f} ms, max {runs[-1][2]:.1f} ms; "
                  f"peer p50 {peers[-1][0]:.2f} ms, p99 {peers[-1][1]:.2f} ms", flush=True)
    return {"bench": "screen_pop", "calls": args.calls, "clients": args.clients, "rate_per_s": args.rate,
            "warmup_calls": args.warmup,
            "runs": args.runs,
            "pop_p50_ms": round(statistics.median(r[0] for r in runs), 2),
            "pop_p99_ms": round(statistics.median(r[1] for r in runs), 2),
            "pop_max_ms": round(statistics.median(r[2] for r in runs), 2),
            "peer_p50_ms": round(statistics.median(p[0] for p in peers), 3),
            "peer_p99_ms": round(statistics.median(p[1] for p in peers), 3),
            "machine": info}


async def machine_info_of(conn: asyncpg.Connection[asyncpg.Record]) -> dict[str, Any]:
    version = await conn.fetchval("SHOW server_version")
    from bench._stats import machine_info as base_info

    return {**base_info(), "postgresql": str(version)}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="60 calls, 30 clients, 1 run (under a minute)")
    parser.add_argument("--calls", type=int, default=None)
    parser.add_argument("--clients", type=int, default=None)
    parser.add_argument("--rate", type=float, default=50.0, help="calls set ringing per second")
    parser.add_argument("--runs", type=int, default=None)
    parser.add_argument("--warmup", type=int, default=10, help="calls rung first and not measured")
    args = parser.parse_args(argv)
    args.calls = args.calls or (60 if args.quick else 200)
    args.clients = min(args.clients or (30 if args.quick else 100), args.calls)
    args.runs = args.runs or (1 if args.quick else 3)
    logging.basicConfig(level=logging.WARNING)
    from web.event_loop import loop_factory

    factory = loop_factory()
    with asyncio.Runner(loop_factory=factory) as runner:
        result = runner.run(main_async(args))
    emit_json(result)


if __name__ == "__main__":
    main()
