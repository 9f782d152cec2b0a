"""The live AMI client: log in, keep the connection alive, reconnect, resynchronise, hand out typed events.

The composition root creates one :class:`AmiClient` with :class:`~pbx_bridge.ami_settings.AmiSettings`
and a consumer (the call tracker), and runs :meth:`AmiClient.run` as a long-lived task (or uses
``async with``). Nothing starts at import. The wire and panoramisk live in
:mod:`pbx_bridge.ami_connection`; this module owns the connection's life:

* **Session.** Connect, ``Login``, wait for ``FullyBooted`` (all within the connect timeout), then
  ``CoreShowChannels``: its ``CoreShowChannel`` events reach the consumer like any other, so the
  tracker, reset by ``FullyBooted``, seeds the calls already in progress and still ends them right.
* **Keepalive and watchdog.** A ``Ping`` every ping interval; if no frame at all (event or Ping
  answer) arrived for the watchdog time the connection is dropped and re-made. A silently dead
  connection (TCP open, nothing arriving) is the most common failure of AMI clients, and TCP
  itself may not notice it for hours.
* **Reconnect.** Exponential backoff with jitter (:func:`reconnect_delay`), reset once a session
  got as far as connected. Every reconnect is logged with its reason; :attr:`AmiClient.status`
  (for ``/healthz``) says ``connected``, ``reconnecting`` with the last error, or ``disabled``.
* **Actions.** :meth:`AmiClient.send` and friends work only while connected: they raise
  :class:`~pbx_bridge.ami_actions.AmiNotConnected` rather than queue, and an action in flight when
  the connection drops fails with :class:`~pbx_bridge.ami_actions.AmiConnectionLost` (never re-sent).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import random
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, fields
from enum import StrEnum
from types import TracebackType
from typing import Any, Protocol

from pbx_bridge import ami_events as ev
from pbx_bridge.ami_actions import (
    Action,
    ActionResponse,
    AmiActionFailed,
    AmiError,
    AmiLoginFailed,
    AmiNotConnected,
    AmiTimeout,
    CoreShowChannels,
    DeviceStateList,
    Login,
    Ping,
    PJSIPShowContacts,
)
from pbx_bridge.ami_connection import AmiConnection, InputCounters, answer_of
from pbx_bridge.ami_frames import FrameStats
from pbx_bridge.ami_settings import AmiSettings

logger = logging.getLogger(__name__)


class AmiEventConsumer(Protocol):
    """Where typed events go, in wire order. Called on the event loop: keep it synchronous and cheap."""

    def on_event(self, event: ev.AmiEvent) -> None: ...


class AmiState(StrEnum):
    CONNECTED = "connected"
    RECONNECTING = "reconnecting"
    DISABLED = "disabled"


@dataclass(frozen=True, slots=True)
class AmiStatus:
    """A snapshot for ``/healthz`` and metrics; counters are totals since the client was created."""

    state: AmiState
    #: Why the last connection attempt or session ended; kept after a later successful reconnect.
    last_error: str | None
    #: The version from Asterisk's banner (``11.0.0`` is the AMI protocol version, not Asterisk's).
    ami_version: str | None
    #: Sessions that reached ``connected`` (the first one included).
    sessions: int
    #: Times a connection attempt or session ended and a retry was scheduled.
    reconnects: int
    events: int
    unhandled_events: int
    malformed_frames: int
    #: Responses whose ActionID matched nothing pending (answers that came after their timeout).
    unmatched_responses: int
    #: Lines the frame parser skipped: no header name, invalid UTF-8, oversized lines and frames.
    parse_problems: int
    consumer_errors: int
    #: Seconds since the client was last connected (or since it started, if never); None while connected.
    down_for_s: float | None = None

    def as_dict(self) -> dict[str, object]:
        """JSON-ready, for ``/healthz``."""
        out: dict[str, object] = {f.name: getattr(self, f.name) for f in fields(self)}
        out["state"] = self.state.value
        return out


def reconnect_delay(failures: int, minimum: float, maximum: float, rng: random.Random) -> float:
    """Seconds to wait before the next attempt: doubling per failure, capped, with "equal jitter".

    Half the delay is fixed and half random, so bridges cut off together (a PBX restart) do not
    hammer it in lockstep, yet the delay still grows with every failure.
    """
    ceiling = min(maximum, minimum * 2.0 ** min(failures, 32))
    return ceiling / 2 + rng.uniform(0.0, ceiling / 2)


class AmiClient:
    """The long-lived AMI client; see the module docstring for its behaviour."""

    def __init__(self, settings: AmiSettings, consumer: AmiEventConsumer, *,
                 rng: random.Random | None = None) -> None:
        problems = settings.problems()
        if problems:
            raise ValueError("; ".join(problems))
        self._settings = settings
        self._consumer = consumer
        self._rng = rng or random.Random()
        self._ids = itertools.count(1)
        self._id_prefix = f"pz-{uuid.uuid4().hex[:8]}"
        self._counters = InputCounters()
        self._frame_stats = FrameStats()
        self._conn: AmiConnection | None = None
        self._state = AmiState.RECONNECTING if settings.enabled else AmiState.DISABLED
        self._last_error: str | None = None
        self._ami_version: str | None = None
        self._sessions = 0
        self._reconnects = 0
        #: monotonic time the client last stopped being connected (created: not connected yet)
        self._down_since: float | None = time.monotonic()
        self._changed = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    # --- state ---------------------------------------------------------------------------------

    @property
    def status(self) -> AmiStatus:
        c = self._counters
        return AmiStatus(state=self._state, last_error=self._last_error, ami_version=self._ami_version,
                         sessions=self._sessions, reconnects=self._reconnects, events=c.events,
                         unhandled_events=c.unhandled_events, malformed_frames=c.malformed_frames,
                         unmatched_responses=c.unmatched_responses, parse_problems=self._frame_stats.problems,
                         consumer_errors=c.consumer_errors,
                         down_for_s=None if self._down_since is None else time.monotonic() - self._down_since)

    async def wait_status(self, predicate: Callable[[AmiStatus], bool]) -> AmiStatus:
        """Wait until ``predicate(status)`` holds, checked on every state change (bound it with ``asyncio.timeout``)."""
        while not predicate(status := self.status):
            await self._changed.wait()
        return status

    def _set_state(self, state: AmiState, error: str | None = None) -> None:
        if state is AmiState.CONNECTED:
            self._down_since = None
        elif self._down_since is None:
            self._down_since = time.monotonic()
        self._state = state
        if error is not None:
            self._last_error = error
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    # --- lifecycle -----------------------------------------------------------------------------

    async def __aenter__(self) -> AmiClient:
        self._task = asyncio.create_task(self.run(), name="ami-client")
        self._task.add_done_callback(_log_task_end)
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.wait({task})

    async def run(self) -> None:
        """Stay connected until cancelled; returns at once when the AMI is disabled (no host)."""
        settings = self._settings
        if not settings.enabled:
            logger.info("AMI disabled: PEREZVON_AMI_HOST is empty")
            self._set_state(AmiState.DISABLED)
            return
        failures = 0
        try:
            while True:
                reached, reason = await self._attempt()
                failures = 0 if reached else failures + 1
                delay = reconnect_delay(failures, settings.reconnect_min_s, settings.reconnect_max_s, self._rng)
                self._reconnects += 1
                self._set_state(AmiState.RECONNECTING, reason)
                c = self._counters
                logger.warning("AMI %s:%d: %s; reconnecting in %.2f s (attempt %d; so far %d events, "
                               "%d unhandled, %d malformed frames, %d bad lines)", settings.host, settings.port,
                               reason, delay, failures + 1, c.events, c.unhandled_events, c.malformed_frames,
                               self._frame_stats.problems)
                await asyncio.sleep(delay)
        finally:
            self._set_state(AmiState.RECONNECTING if settings.enabled else AmiState.DISABLED, "stopped")

    async def _attempt(self) -> tuple[bool, str]:
        """One connection, from connect to its end: (did it reach connected, why it ended)."""
        conn: AmiConnection | None = None
        reached = False
        try:
            conn = await self._open()
            await self._resync(conn)
            self._conn = conn
            self._sessions += 1
            reached = True
            self._set_state(AmiState.CONNECTED)
            logger.info("AMI connected to %s:%d (session %d)", self._settings.host, self._settings.port,
                        self._sessions)
            return True, await self._supervise(conn)
        except (OSError, TimeoutError, AmiError) as exc:
            return reached, _describe(exc)
        except Exception as exc:  # a bug must not end the client: log it whole, then reconnect
            logger.exception("AMI session failed unexpectedly")
            return reached, _describe(exc)
        finally:
            self._conn = None
            if conn is not None:
                conn.abort("session ended")

    async def _open(self) -> AmiConnection:
        """TCP connect, log in, and wait for ``FullyBooted``, all within the connect timeout."""
        settings = self._settings
        loop = asyncio.get_running_loop()
        conn: AmiConnection | None = None
        try:
            async with asyncio.timeout(settings.connect_timeout_s):
                _, conn = await loop.create_connection(
                    lambda: AmiConnection(self._consumer.on_event, self._counters, self._frame_stats),
                    settings.host, settings.port)
                login = Login(username=settings.username, secret=settings.secret)
                response, _ = answer_of(await conn.send_action(login, self._next_id(login)))
                if response is None or not response.success:
                    raise AmiLoginFailed(login.name, response.message if response else "no answer")
                self._ami_version = conn.banner
                await conn.booted
        except TimeoutError:
            if conn is not None:
                conn.abort("handshake timed out")
            raise TimeoutError(f"connect, login and FullyBooted took over {settings.connect_timeout_s:g} s") from None
        except BaseException:
            if conn is not None:
                conn.abort("handshake failed")
            raise
        return conn

    async def _resync(self, conn: AmiConnection) -> None:
        """What Asterisk has now, before we report connected; the lists reach the consumer as events.

        ``CoreShowChannels``: the live channels (the tracker seeds the calls in progress).
        ``DeviceStateList`` and ``PJSIPShowContacts``: which phones are registered. Asterisk reports
        device and contact states only when they change, so without asking, a phone that was
        unregistered before this login would count as reachable and be rung.
        """
        steps: tuple[tuple[Action, type[ev.AmiEvent], str, str], ...] = (
            (CoreShowChannels(), ev.CoreShowChannel, "live channels", "calls in progress stay unknown"),
            (DeviceStateList(), ev.DeviceStateChange, "device states",
             "phone registration is known only from later changes (read class 'reporting' needed)"),
            (PJSIPShowContacts(), ev.ContactListItem, "registered contacts",
             "contacts are known only from later changes (write class 'system' needed)"),
        )
        for action, item, what, consequence in steps:
            result = await self._await(conn, action, conn.send_action(action, self._next_id(action)))
            response, events = answer_of(result)
            if response is None or not response.success:
                message = response.message if response else "no answer"
                if isinstance(action, PJSIPShowContacts) and "no contacts" in message.lower():
                    logger.info("AMI resync: no registered contacts")
                    continue
                # A user without the class gets an error: retrying will not help.
                logger.error("AMI resync %s refused (%s): %s", action.name, message, consequence)
                continue
            logger.info("AMI resync: %d %s", sum(isinstance(event, item) for event in events), what)

    async def _supervise(self, conn: AmiConnection) -> str:
        """Ping and watch the connection until it ends; returns why."""
        settings = self._settings
        loop = asyncio.get_running_loop()
        next_ping = loop.time() + settings.ping_interval_s
        while not conn.lost.done():
            now = loop.time()
            silent_for = now - conn.last_received
            if silent_for >= settings.watchdog_timeout_s:
                reason = f"watchdog: nothing received for {silent_for:.1f} s"
                conn.abort(reason)
                return reason
            if now >= next_ping:
                ping = Ping()
                conn.send_action(ping, self._next_id(ping)).add_done_callback(_ignore_result)
                next_ping = now + settings.ping_interval_s
            deadline = min(next_ping, conn.last_received + settings.watchdog_timeout_s)
            await asyncio.wait({conn.lost}, timeout=max(0.0, deadline - now))
        return conn.lost.result()

    # --- actions -------------------------------------------------------------------------------

    def _next_id(self, action: Action) -> str:
        return action.action_id or f"{self._id_prefix}-{next(self._ids)}"

    async def _await(self, conn: AmiConnection, action: Action, future: asyncio.Future[Any]) -> Any:
        # Not asyncio.wait_for: on Python 3.11 it swallows a cancellation that coincides with the
        # answer, and the client task would then outlive its stop.
        try:
            async with asyncio.timeout(self._settings.action_timeout_s):
                return await future
        except TimeoutError:
            raise AmiTimeout(f"{action.describe()}: no answer within {self._settings.action_timeout_s:g} s") from None

    async def send(self, action: Action) -> ActionResponse:
        """Send one action and return Asterisk's response; ``Response: Error`` raises :class:`AmiActionFailed`.

        The ActionID is the action's own, or a fresh unique one (``response.action_id`` tells which);
        events carrying it later (``OriginateResponse``) reach the consumer like all events.
        """
        conn = self._conn
        if conn is None:
            raise AmiNotConnected(f"{action.describe()}: AMI is {self._state.value}")
        action_id = self._next_id(action)
        response, _ = answer_of(await self._await(conn, action, conn.send_action(action, action_id)))
        if response is None:
            raise AmiActionFailed(action.name, "no response frame")
        if not response.success:
            raise AmiActionFailed(action.name, response.message)
        return response

    async def ping(self) -> ActionResponse:
        return await self.send(Ping())

    async def core_show_channels(self) -> list[ev.CoreShowChannel]:
        """The live channels now, as typed events (they also reach the consumer, in wire order)."""
        conn = self._conn
        action = CoreShowChannels()
        if conn is None:
            raise AmiNotConnected(f"{action.describe()}: AMI is {self._state.value}")
        response, events = answer_of(await self._await(conn, action, conn.send_action(action, self._next_id(action))))
        if response is None or not response.success:
            raise AmiActionFailed(action.name, response.message if response else "no response frame")
        return [event for event in events if isinstance(event, ev.CoreShowChannel)]


def _describe(exc: BaseException) -> str:
    if isinstance(exc, AmiLoginFailed):
        return f"login failed: {exc.message}"
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _ignore_result(future: asyncio.Future[Any]) -> None:
    """Keepalive answers are not awaited: the watchdog sees them arrive. Retrieve any failure."""
    if not future.cancelled():
        future.exception()


def _log_task_end(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        logger.error("AMI client task ended with an error", exc_info=task.exception())
