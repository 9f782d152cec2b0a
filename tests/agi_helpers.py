"""Helpers for the FastAGI tests: the captured Asterisk 22 requests, a scripted peer, and simple routers."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from pbx_bridge.agi_contract import RouteAnswer, RouteRequest
from pbx_bridge.agi_server import AgiServer
from pbx_bridge.agi_settings import AgiSettings

ASTERISK22 = Path(__file__).resolve().parent / "fixtures" / "asterisk-22"
AGI_CAPTURES = sorted(path.stem for path in ASTERISK22.glob("*.agi"))
TEST_SETTINGS = AgiSettings(host="127.0.0.1", port=0, deadline_ms=300, client_timeout_s=2.0)


@dataclass(frozen=True)
class Capture:
    """One ``*.agi`` file split as Asterisk sent it: the environment block and the replies."""

    name: str
    env_block: bytes
    replies: tuple[bytes, ...]
    sidecar: dict[str, Any]


def load_capture(name: str) -> Capture:
    data = (ASTERISK22 / f"{name}.agi").read_bytes()
    head, sep, tail = data.partition(b"\n\n")
    assert sep, f"{name}: no blank line after the environment"
    replies = tuple(line + b"\n" for line in tail.split(b"\n") if line)
    sidecar = json.loads((ASTERISK22 / f"{name}.json").read_text(encoding="utf-8"))
    return Capture(name, head + sep, replies, sidecar)


@dataclass
class RecordingRouter:
    """Answers ``answer`` and keeps every request it was asked."""

    answer: RouteAnswer
    requests: list[RouteRequest] = field(default_factory=list)

    async def route(self, request: RouteRequest) -> RouteAnswer:
        self.requests.append(request)
        return self.answer


@dataclass
class StuckRouter:
    """Never answers (waits on an event nobody sets); says when it was cancelled."""

    never: asyncio.Event = field(default_factory=asyncio.Event)
    cancelled: asyncio.Event = field(default_factory=asyncio.Event)

    async def route(self, request: RouteRequest) -> RouteAnswer:
        try:
            await self.never.wait()
        except asyncio.CancelledError:
            self.cancelled.set()
            raise
        raise AssertionError("unreachable")


@dataclass
class GatedRouter:
    """Answers ``answer`` once ``release`` is set; ``asked`` is set when a request arrives."""

    answer: RouteAnswer
    asked: asyncio.Event = field(default_factory=asyncio.Event)
    release: asyncio.Event = field(default_factory=asyncio.Event)

    async def route(self, request: RouteRequest) -> RouteAnswer:
        self.asked.set()
        await self.release.wait()
        return self.answer


class FailingRouter:
    async def route(self, request: RouteRequest) -> RouteAnswer:
        raise RuntimeError("database is down")


@asynccontextmanager
async def agi_server(router: Any, **overrides: Any) -> AsyncIterator[AgiServer]:
    server = AgiServer(replace(TEST_SETTINGS, **overrides), router)
    await server.start()
    try:
        yield server
    finally:
        await server.close()


async def exchange(port: int, env_block: bytes, replies: Iterable[bytes] = (), *,
                   default_reply: bytes = b"200 result=1\n", stop_after: int | None = None) -> list[bytes]:
    """Play Asterisk: send the environment, answer each command with the next reply, until the server closes.

    Returns the command lines the server sent. ``stop_after``: close our side after that many commands.
    """
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    pending = list(replies)
    commands: list[bytes] = []
    try:
        writer.write(env_block)
        await writer.drain()
        async with asyncio.timeout(5):
            while True:
                line = await reader.readline()
                if not line:
                    break
                commands.append(line)
                if stop_after is not None and len(commands) >= stop_after:
                    break
                writer.write(pending.pop(0) if pending else default_reply)
                await writer.drain()
    finally:
        writer.close()
        await writer.wait_closed()
    return commands


def answer_from_capture(capture: Capture) -> RouteAnswer:
    """The RouteAnswer that drove the captured call (its variables that the contract names)."""
    values: dict[str, str] = {}
    for item in capture.sidecar["router_answer"]:
        command: str = item["command"]
        _, _, name, quoted = command.split(" ", 3)
        values[name] = quoted[1:-1]
    return RouteAnswer(targets=tuple(t for t in values["ROUTE_TARGETS"].split("&") if t),
                       ring_timeout_s=int(values["RING_TIMEOUT"]), fallback=values["ROUTE_FALLBACK"],
                       reason=values["ROUTE_REASON"], caller_name=values.get("CALLERID(name)"))


def env_of(pairs: list[tuple[str, str]]) -> bytes:
    return b"".join(f"{k}: {v}\n".encode() for k, v in pairs) + b"\n"
