"""A TCP proxy that can cut its connections: for failure tests and benchmarks, never used in serving.

It forwards bytes both ways between each accepted client and a new connection to the target, and
:meth:`TcpProxy.cut` aborts every pair at once (both sides see a reset, like a lost link) while
the proxy keeps listening, so a client that reconnects goes through it again. The idea is
asyncpg's test proxy. Created and closed by its user (``async with``); nothing runs at import.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from types import TracebackType

logger = logging.getLogger(__name__)

_CHUNK = 64 * 1024


@dataclass(slots=True, eq=False)
class _Pair:
    client: asyncio.StreamWriter
    server: asyncio.StreamWriter
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    def abort(self) -> None:
        for writer in (self.client, self.server):
            writer.transport.abort()


class TcpProxy:
    """Listen on ``listen_host`` (an ephemeral port by default) and forward to ``target``."""

    def __init__(self, target_host: str, target_port: int, *, listen_host: str = "127.0.0.1",
                 listen_port: int = 0) -> None:
        self._target = (target_host, target_port)
        self._listen = (listen_host, listen_port)
        self._server: asyncio.Server | None = None
        self._pairs: set[_Pair] = set()
        self._handlers: set[asyncio.Task[None]] = set()
        #: Connections accepted so far.
        self.accepted = 0

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("proxy not started")
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    async def start(self) -> TcpProxy:
        self._server = await asyncio.start_server(self._handle, *self._listen)
        return self

    async def __aenter__(self) -> TcpProxy:
        return await self.start()

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.close()

    def cut(self) -> int:
        """Abort every forwarded connection now; returns how many were cut."""
        pairs = list(self._pairs)
        for pair in pairs:
            pair.abort()
        return len(pairs)

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        # Cutting ends every handler (cancelling one would make asyncio report the CancelledError).
        self.cut()
        if self._handlers:
            await asyncio.wait(list(self._handlers))
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        self.accepted += 1
        try:
            try:
                up_reader, up_writer = await asyncio.open_connection(*self._target)
            except OSError as exc:
                logger.warning("proxy: cannot reach %s:%d: %s", *self._target, exc)
                writer.transport.abort()
                return
            pair = _Pair(client=writer, server=up_writer)
            self._pairs.add(pair)
            try:
                pair.tasks = [asyncio.create_task(_pump(reader, up_writer)),
                              asyncio.create_task(_pump(up_reader, writer))]
                await asyncio.wait(pair.tasks, return_when=asyncio.FIRST_COMPLETED)
            finally:
                pair.abort()
                for pump in pair.tasks:
                    pump.cancel()
                if pair.tasks:
                    await asyncio.wait(pair.tasks)
                for pump in pair.tasks:
                    if not pump.cancelled() and pump.exception() is not None:
                        logger.warning("proxy pump failed: %r", pump.exception())
                self._pairs.discard(pair)
        finally:
            self._handlers.discard(task)


async def _pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(ConnectionError):
        while data := await reader.read(_CHUNK):
            if writer.is_closing():  # uvloop raises on a write to a closed transport
                return
            writer.write(data)
            await writer.drain()
