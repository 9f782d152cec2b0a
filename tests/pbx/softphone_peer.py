"""The web softphone's AudioSocket end, played on loopback as sipp plays the desk phones.

perezvon routes a call to a softphone operator as ``AudioSocket/127.0.0.1:PORT/<uuid>/c(slin)``;
Asterisk's chan_audiosocket connects here, sends the UUID frame and 8 kHz signed-linear audio. This peer
speaks the real protocol (``pbx_bridge.audiosocket.frames``): it records the UUID, sends `talk_ms` of
audio paced at 20 ms, and then hangs up with a HANGUP frame (the operator hangs up), or with
``talk_ms=0`` waits until Asterisk closes the socket (the customer hangs up).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass, field

from pbx_bridge.audiosocket import frames

_FRAME_S = 0.02


@dataclass
class Connection:
    leg: uuid.UUID | None = None
    audio_bytes_in: int = 0
    audio_bytes_out: int = 0
    closed_by: str = ""
    errors: list[str] = field(default_factory=list)


class SoftphonePeer:
    def __init__(self, port: int, talk_ms: int = 2000) -> None:
        self.port = port
        self.talk_ms = talk_ms
        self.connections: list[Connection] = []
        self._server: asyncio.Server | None = None
        self._changed = asyncio.Condition()

    async def __aenter__(self) -> SoftphonePeer:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def wait_for(self, what: str, timeout_s: float = 30) -> Connection:
        """The first connection that has `what`: "leg" (its UUID arrived) or "closed"."""
        deadline = time.monotonic() + timeout_s

        def found() -> Connection | None:
            return next((c for c in self.connections if (c.leg if what == "leg" else c.closed_by)), None)

        async with self._changed:
            while (connection := found()) is None:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"the softphone peer saw no {what!r} in {timeout_s} s: {self.connections}")
                try:
                    await asyncio.wait_for(self._changed.wait(), left)
                except TimeoutError:
                    pass
            return connection

    async def _note(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connection = Connection()
        self.connections.append(connection)
        parser = frames.FrameReader()
        talking = asyncio.create_task(self._talk(connection, writer))
        try:
            while data := await reader.read(4096):
                for frame in parser.feed(data):
                    if frame.kind is frames.Kind.UUID:
                        connection.leg = frame.uuid()
                        await self._note()
                    elif frame.is_audio:
                        connection.audio_bytes_in += len(frame.payload)
                    elif frame.kind is frames.Kind.HANGUP:
                        connection.closed_by = connection.closed_by or "asterisk"
            connection.closed_by = connection.closed_by or "asterisk"
        except (frames.AudioSocketError, ConnectionError) as exc:
            connection.errors.append(str(exc))
            connection.closed_by = connection.closed_by or "error"
        finally:
            talking.cancel()
            writer.close()
            await self._note()

    async def _talk(self, connection: Connection, writer: asyncio.StreamWriter) -> None:
        """Audio on the 20 ms clock (a 400 Hz square wave), then the operator's HANGUP when `talk_ms` is set."""
        period = bytes(b for _ in range(10) for b in (0x00, 0x10)) + bytes(b for _ in range(10) for b in (0x00, 0xF0))
        pcm = period * (frames.SLIN_FRAME_BYTES // len(period))
        frame = frames.encode(frames.audio_frame(pcm))
        started = time.monotonic()
        while not writer.is_closing():
            if self.talk_ms and time.monotonic() - started >= self.talk_ms / 1000:
                connection.closed_by = "softphone"
                writer.write(frames.encode(frames.HANGUP))
                await self._note()
                return
            writer.write(frame)
            connection.audio_bytes_out += len(pcm)
            await asyncio.sleep(_FRAME_S)  # the audio clock, not a wait for another process
