"""A fake Asterisk manager (AMI) on 127.0.0.1 that answers like Asterisk 22 does.

Wire behaviour copied from the real captures in ``tests/fixtures/asterisk-22`` and Asterisk's
manager.c: the banner ``Asterisk Call Manager/11.0.0``, CRLF line ends, ActionID echoed on every
answer, a failed login answered with ``Message: Authentication failed`` and then the connection
closed, ``FullyBooted`` right after a login, ``Ping: Pong`` with a ``Timestamp``, and
``CoreShowChannels`` as ``EventList: start``, one ``CoreShowChannel`` per channel and
``CoreShowChannelsComplete``. It parses actions itself (not with the code under test).

Each accepted connection takes the next :class:`SessionScript` (or ``default_script``): what to
send after login (e.g. a real capture's bytes), which channels ``CoreShowChannels`` reports, what
to send after that, and whether to answer pings at all (a silent server for the watchdog).
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TypeVar

from pbx_bridge import ami_events as ev
from pbx_bridge.ami_settings import AmiSettings

BANNER = b"Asterisk Call Manager/11.0.0\r\n"
FULLY_BOOTED = (b"Event: FullyBooted\r\nPrivilege: system,all\r\nUptime: 1\r\nLastReload: 1\r\n"
                b"Status: Fully Booted\r\n\r\n")
Headers = Sequence[tuple[str, str]]
E = TypeVar("E", bound=ev.AmiEvent)


def frame(*pairs: tuple[str, str]) -> bytes:
    return "".join(f"{key}: {value}\r\n" for key, value in pairs).encode() + b"\r\n"


def capture_frames(path: Path) -> list[bytes]:
    """A capture's frames as raw bytes, each ending with its blank line."""
    data = path.read_bytes()
    return [chunk + b"\r\n\r\n" for chunk in data.split(b"\r\n\r\n") if chunk.strip()]


def capture_after_login(path: Path) -> bytes:
    """A capture's bytes without its first frame (our Login's response): what Asterisk sent next."""
    return b"".join(capture_frames(path)[1:])


@dataclass
class SessionScript:
    #: Sent right after a successful Login response (Asterisk sends FullyBooted first).
    after_login: bytes = FULLY_BOOTED
    #: CoreShowChannel items: header pairs without ``Event`` and ``ActionID``.
    channels: list[Headers] = field(default_factory=list)
    #: Sent after the CoreShowChannelsComplete.
    after_resync: bytes = b""
    #: DeviceStateList answer: (device, state) pairs, e.g. ("PJSIP/101", "NOT_INUSE").
    devices: list[tuple[str, str]] = field(default_factory=list)
    answer_pings: bool = True
    #: False: Originate/Hangup/Redirect are received but never answered.
    answer_calls: bool = True


@dataclass
class Received:
    """One action the server read, with the session (1-based connection number) it came on."""

    session: int
    headers: list[tuple[str, str]]

    def get(self, key: str) -> str | None:
        return next((value for name, value in self.headers if name.lower() == key.lower()), None)

    def get_all(self, key: str) -> list[str]:
        return [value for name, value in self.headers if name.lower() == key.lower()]


class FakeAmiServer:
    def __init__(self, *, username: str = "bridge", secret: str = "s3cret") -> None:
        self.username = username
        self.secret = secret
        self.scripts: deque[SessionScript] = deque()
        self.default_script = SessionScript()
        self.received: list[Received] = []
        self.connections = 0
        self.writers: dict[int, asyncio.StreamWriter] = {}
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._changed = asyncio.Event()

    @property
    def port(self) -> int:
        assert self._server is not None
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    async def __aenter__(self) -> FakeAmiServer:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        # Handlers end on their own once their sockets are gone (cancelling one would make asyncio
        # report the CancelledError as an unhandled exception).
        for writer in self.writers.values():
            writer.transport.abort()
        if self._tasks:
            await asyncio.wait(list(self._tasks))
        await self._server.wait_closed()

    def actions(self, name: str) -> list[Received]:
        return [item for item in self.received if (item.get("Action") or "").lower() == name.lower()]

    async def wait_for_action(self, name: str, count: int = 1) -> Received:
        """Wait until ``count`` actions named ``name`` arrived; return the last (bound with asyncio.timeout)."""
        while len(self.actions(name)) < count:
            await self._wait_change()
        return self.actions(name)[count - 1]

    async def send(self, data: bytes, session: int | None = None) -> None:
        """Write raw bytes to a session (the latest by default)."""
        writer = self.writers[session if session is not None else self.connections]
        writer.write(data)
        await writer.drain()

    async def _wait_change(self) -> None:
        await self._changed.wait()

    def _notify(self) -> None:
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self.connections += 1
        session = self.connections
        self.writers[session] = writer
        script = self.scripts.popleft() if self.scripts else self.default_script
        self._notify()
        try:
            writer.write(BANNER)
            await self._serve(session, script, reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.transport.abort()
            self._tasks.discard(task)

    async def _serve(self, session: int, script: SessionScript, reader: asyncio.StreamReader,
                     writer: asyncio.StreamWriter) -> None:
        logged_in = False
        while True:
            block = await reader.readuntil(b"\r\n\r\n")
            headers = [_split(line) for line in block.decode().split("\r\n") if line]
            item = Received(session, headers)
            self.received.append(item)
            self._notify()
            action = (item.get("Action") or "").lower()
            action_id = item.get("ActionID") or ""
            aid = ("ActionID", action_id)
            if action == "login":
                if item.get("Username") == self.username and item.get("Secret") == self.secret:
                    logged_in = True
                    writer.write(frame(("Response", "Success"), aid, ("Message", "Authentication accepted")))
                    writer.write(script.after_login)
                else:
                    writer.write(frame(("Response", "Error"), aid, ("Message", "Authentication failed")))
                    await writer.drain()
                    return  # Asterisk closes the session after a failed login
            elif not logged_in:
                writer.write(frame(("Response", "Error"), aid, ("Message", "Permission denied")))
            elif action == "ping":
                if script.answer_pings:
                    writer.write(frame(("Response", "Success"), aid, ("Ping", "Pong"),
                                       ("Timestamp", f"{time.time():.6f}")))
            elif action == "coreshowchannels":
                writer.write(frame(("Response", "Success"), aid, ("EventList", "start"),
                                   ("Message", "Channels will follow")))
                for channel in script.channels:
                    writer.write(frame(("Event", "CoreShowChannel"), aid, *channel))
                writer.write(frame(("Event", "CoreShowChannelsComplete"), aid, ("EventList", "Complete"),
                                   ("ListItems", str(len(script.channels)))))
                writer.write(script.after_resync)
            elif action == "devicestatelist":
                writer.write(frame(("Response", "Success"), aid, ("EventList", "start"),
                                   ("Message", "Device State Changes will follow")))
                for device, state in script.devices:
                    writer.write(frame(("Event", "DeviceStateChange"), aid, ("Device", device), ("State", state)))
                writer.write(frame(("Event", "DeviceStateListComplete"), aid, ("EventList", "Complete"),
                                   ("ListItems", str(len(script.devices)))))
            elif action == "pjsipshowcontacts":
                writer.write(frame(("Response", "Error"), aid, ("Message", "No Contacts found")))
            elif action in ("originate", "hangup", "redirect"):
                if script.answer_calls:
                    writer.write(self._call_answer(action, item, aid, script))
            elif action == "logoff":
                writer.write(frame(("Response", "Goodbye"), aid, ("Message", "Thanks for all the fish.")))
                await writer.drain()
                return
            else:
                writer.write(frame(("Response", "Error"), aid, ("Message", "Invalid/unknown command")))
            await writer.drain()

    @staticmethod
    def _call_answer(action: str, item: Received, aid: tuple[str, str], script: SessionScript) -> bytes:
        if action == "originate":
            return frame(("Response", "Success"), aid, ("Message", "Originate successfully queued"))
        live = {value for channel in script.channels for key, value in channel if key == "Channel"}
        if item.get("Channel") not in live:
            return frame(("Response", "Error"), aid, ("Message", "No such channel"))
        if action == "hangup":
            return frame(("Response", "Success"), aid, ("Message", "Channel Hungup"))
        return frame(("Response", "Success"), aid, ("Message", "Redirect successful"))


def _split(line: str) -> tuple[str, str]:
    key, _, value = line.partition(":")
    return key.strip(), value[1:] if value.startswith(" ") else value


class EventRecorder:
    """An AMI event consumer that keeps what it gets and lets a test wait for a condition on it."""

    def __init__(self) -> None:
        self.events: list[ev.AmiEvent] = []
        self._changed = asyncio.Event()

    def on_event(self, event: ev.AmiEvent) -> None:
        self.events.append(event)
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    def of(self, kind: type[E]) -> list[E]:
        return [event for event in self.events if isinstance(event, kind)]

    async def wait_for(self, predicate: Callable[[list[ev.AmiEvent]], bool]) -> None:
        """Wait until ``predicate(events)`` holds (bound it with ``asyncio.timeout``)."""
        while not predicate(self.events):
            await self._changed.wait()


def ami_settings(port: int, **overrides: Any) -> AmiSettings:
    """Settings for a client of the fake server: short timeouts and backoff, long keepalive unless asked."""
    base = AmiSettings(host="127.0.0.1", port=port, username="bridge", secret="s3cret", connect_timeout_s=3.0,
                       action_timeout_s=3.0, ping_interval_s=5.0, watchdog_timeout_s=20.0,
                       reconnect_min_s=0.01, reconnect_max_s=0.05)
    return replace(base, **overrides)
