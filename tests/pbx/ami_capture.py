"""Our recording tool: a second AMI session beside perezvon's that keeps the raw bytes and sends actions.

A tier scenario opens one before it places its call (`async with AmiCapture.open(asterisk) as ami`), may
drive the call with AMI actions (`await ami.action("BlindTransfer", Channel=..., Exten="102")`), and at
the end `await ami.save(name, expected)`: with ``PEREZVON_RECORD_CAPTURES=1`` (``make record-captures``)
the bytes Asterisk sent — from the Login response on, CRLF kept, exactly as the shared captures in
``../shared/fixtures/asterisk-22`` are made — go to ``tests/fixtures/asterisk-22-perezvon/<name>.ami``
beside a sidecar ``<name>.json`` with the ground truth the test just checked against the live record.
Without the variable nothing is written: the tier stays read-only on the repository.

It logs in as the shipped manager.conf's perezvon user, so a capture holds exactly the event classes
perezvon itself receives. The fast suite replays the captures (`tests/test_captures_perezvon.py`).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import time
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from tests.pbx.asterisk_process import Asterisk
from tests.pbx.scratch_conf import PBX_HOST, REPO

CAPTURES = REPO / "tests" / "fixtures" / "asterisk-22-perezvon"
RECORD_VARIABLE = "PEREZVON_RECORD_CAPTURES"
_ids = itertools.count(1)

Message = dict[str, str]


def _parse(raw: bytes) -> Message:
    headers: Message = {}
    for line in raw.decode("utf-8", errors="replace").split("\r\n"):
        key, sep, val = line.partition(": ")
        if sep and key not in headers:
            headers[key] = val
    return headers


class AmiCapture:
    """One AMI session: every byte after the banner kept; messages parsed for waiting and for actions."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, name: str) -> None:
        self._reader, self._writer = reader, writer
        self.name = name
        self.raw = bytearray()
        self.messages: list[Message] = []
        self._changed = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    @classmethod
    @asynccontextmanager
    async def open(cls, asterisk: Asterisk, name: str = "capture", timeout_s: float = 10,
                   keep_in: Path | None = None) -> AsyncIterator[AmiCapture]:
        """`keep_in`: the test's directory, where the raw bytes are also written at the end (they stay
        with the other logs when the test fails)."""
        values = asterisk.scratch.values
        reader, writer = await asyncio.wait_for(asyncio.open_connection(PBX_HOST, values.ami_port), timeout_s)
        banner = await asyncio.wait_for(reader.readline(), timeout_s)
        if not banner.startswith(b"Asterisk Call Manager/"):
            raise ConnectionError(f"not an AMI banner: {banner!r}")
        capture = cls(reader, writer, name)
        capture._task = asyncio.create_task(capture._read())
        try:
            reply = await capture.action("Login", Username="perezvon", Secret=values.ami_secret, Events="on")
            if reply.get("Response") != "Success":
                raise PermissionError(f"AMI login refused: {reply}")
            yield capture
        finally:
            capture._task.cancel()
            if keep_in is not None:
                await asyncio.to_thread((keep_in / f"{name}.ami").write_bytes, bytes(capture.raw))
            writer.close()
            try:
                await writer.wait_closed()
            except OSError:
                pass

    async def _read(self) -> None:
        buffer = b""
        while chunk := await self._reader.read(65536):
            self.raw += chunk
            buffer += chunk
            *frames, buffer = buffer.split(b"\r\n\r\n")
            self.messages.extend(_parse(frame) for frame in frames if frame.strip())
            self._changed.set()

    async def wait_for(self, predicate: Callable[[Message], bool], what: str, timeout_s: float = 30,
                       start: int = 0) -> Message:
        """The first message from index `start` on that matches (waits for it); AssertionError after the timeout."""
        deadline = time.monotonic() + timeout_s
        seen = start
        while True:
            for message in self.messages[seen:]:
                if predicate(message):
                    return message
            seen = len(self.messages)
            left = deadline - time.monotonic()
            if left <= 0 or (self._task is not None and self._task.done()):
                raise AssertionError(f"AMI never sent {what} within {timeout_s} s")
            self._changed.clear()
            try:
                await asyncio.wait_for(self._changed.wait(), left)
            except TimeoutError:
                pass

    async def wait_event(self, event: str, timeout_s: float = 30, **headers: str) -> Message:
        """The first event named `event` whose headers include `headers` (values compared by prefix)."""
        def match(m: Message) -> bool:
            return m.get("Event") == event and all(m.get(k, "").startswith(v) for k, v in headers.items())
        return await self.wait_for(match, f"{event} {headers}", timeout_s)

    async def action(self, action: str, timeout_s: float = 10, **headers: str) -> Message:
        """Send an action; its Response (raises when Asterisk says Error, except for Login)."""
        action_id = f"{self.name}-{next(_ids)}"
        lines = [f"Action: {action}", f"ActionID: {action_id}", *(f"{k}: {v}" for k, v in headers.items())]
        mark = len(self.messages)
        self._writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
        await self._writer.drain()
        reply = await self.wait_for(lambda m: m.get("ActionID") == action_id and "Response" in m,
                                    f"the response to {action}", timeout_s, start=mark)
        if reply.get("Response") == "Error" and action != "Login":
            raise AssertionError(f"AMI {action} {headers} refused: {reply}")
        return reply

    def channel_of(self, endpoint: str, linkedid: str | None = None) -> str:
        """The newest live channel name of an endpoint (``PJSIP/101-0000002a``) seen in this session."""
        prefix = f"PJSIP/{endpoint}-"
        alive: dict[str, bool] = {}
        for m in self.messages:
            name = m.get("Channel", "")
            if not name.startswith(prefix) or (linkedid and m.get("Linkedid") not in (None, linkedid)):
                continue
            alive[name] = m.get("Event") != "Hangup"
        live = [name for name, up in alive.items() if up]
        if not live:
            raise AssertionError(f"no live channel of {endpoint} in the AMI stream")
        return live[-1]

    async def settle(self, linkedids: set[str], timeout_s: float = 30) -> None:
        """Wait until every channel of these calls hung up and their Cdr events came, then a Ping round trip.

        Asterisk writes the Cdr a moment after the Hangups (the CDR engine runs on its own thread): a
        capture ends once every call has its Cdr, so a replay sees the whole call.
        """
        deadline = time.monotonic() + timeout_s

        def open_channels() -> set[str]:
            up: set[str] = set()
            for m in self.messages:
                if m.get("Linkedid") in linkedids and "Uniqueid" in m:
                    if m.get("Event") == "Hangup":
                        up.discard(m["Uniqueid"])
                    elif m.get("Event") == "Newchannel":
                        up.add(m["Uniqueid"])
            return up

        def cdr_calls() -> set[str]:
            return {m.get("UniqueID", "") for m in self.messages if m.get("Event") == "Cdr"}

        while open_channels() or not linkedids <= cdr_calls():
            if time.monotonic() > deadline:
                raise AssertionError(f"calls {linkedids} not over in the AMI stream within {timeout_s} s")
            self._changed.clear()
            try:
                await asyncio.wait_for(self._changed.wait(), 0.5)
            except TimeoutError:
                pass
        await self.action("Ping")

    def linkedids(self, endpoint: str = "trunk") -> list[str]:
        """Linkedids of the calls whose first channel is this endpoint's, in order."""
        out: list[str] = []
        for m in self.messages:
            if (m.get("Event") == "Newchannel" and m.get("Channel", "").startswith(f"PJSIP/{endpoint}-")
                    and m.get("Uniqueid") == m.get("Linkedid") and m["Linkedid"] not in out):
                out.append(m["Linkedid"])
        return out

    async def save(self, name: str, expected: Mapping[str, Any], *, scenario: str,
                   linkedids: list[str], notes: str = "") -> Path | None:
        """Write the capture and its sidecar when recording is on (``PEREZVON_RECORD_CAPTURES=1``)."""
        await self.settle(set(linkedids))
        if os.environ.get(RECORD_VARIABLE) != "1":
            return None
        sidecar = {"name": name, "scenario": scenario, "linkedids": linkedids, "expected": expected,
                   "notes": notes, "recorded_with": "tests/pbx/ami_capture.py (AMI user perezvon)",
                   "bytes": len(self.raw), "messages": len(self.messages)}
        return await asyncio.to_thread(_write_capture, name, bytes(self.raw), sidecar)


def _write_capture(name: str, raw: bytes, sidecar: Mapping[str, Any]) -> Path:
    CAPTURES.mkdir(parents=True, exist_ok=True)
    path = CAPTURES / f"{name}.ami"
    path.write_bytes(raw)
    (CAPTURES / f"{name}.json").write_text(json.dumps(sidecar, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return path
