"""One AMI TCP connection: the only module that imports panoramisk.

What we take from panoramisk 1.4: its ``AMIProtocol.handle_message`` (matching a response or a
list event to the pending action by ``ActionID``) and its ``Action`` (a future per action, with the
rules for when a multi-message answer such as ``CoreShowChannels`` is complete).

What we replace, and why:

* **Framing.** panoramisk decodes each chunk as ASCII dropping what it cannot read (Russian caller
  names vanish), splits only on CRLF CRLF, and keeps everything before the next blank line in an
  unbounded string that is rebuilt on every chunk: a 1 MB header line or a peer sending garbage
  without a blank line grows memory without limit, quadratically in time. ``data_received`` here
  feeds :class:`pbx_bridge.ami_frames.FrameParser` (bounded, UTF-8, CRLF or LF, never raises), and
  each frame becomes a typed event through :func:`pbx_bridge.ami_events.event_from_frame`.
* **Sending.** Actions are written with :func:`pbx_bridge.ami_frames.serialize_action`, which
  refuses CR/LF in values; panoramisk would write them as they are.
* **Closing.** panoramisk's ``close`` queues unanswered actions to re-send after a reconnect; an
  ``Originate`` re-sent minutes later would ring a customer nobody is waiting for. Here every
  pending action fails with :class:`~pbx_bridge.ami_actions.AmiConnectionLost` instead.
* **The manager.** panoramisk's ``Manager`` (fixed whole-second reconnect delay, no backoff or
  watchdog, a failed login left connected) is not used: :mod:`pbx_bridge.ami_client` owns the
  connection's life.

Events are handed to ``on_event`` in wire order, *before* correlation, so the list items of a
``CoreShowChannels`` reach the consumer interleaved with live events exactly as Asterisk sent them.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

from panoramisk.actions import Action as _PanoramiskAction
from panoramisk.ami_protocol import AMIProtocol
from panoramisk.message import Message

from pbx_bridge import ami_events as ev
from pbx_bridge.ami_actions import (
    Action,
    ActionResponse,
    AmiConnectionLost,
    action_id_of,
    response_from_frame,
)
from pbx_bridge.ami_frames import Banner, Frame, FrameParser, FrameStats, serialize_action

logger = logging.getLogger(__name__)


@dataclass(slots=True)
class InputCounters:
    """What arrived over all connections of one client; shared by its connections."""

    frames: int = 0
    events: int = 0
    #: Events the bridge does not model (Newexten, RTCPSent...): normal, counted for visibility.
    unhandled_events: int = 0
    #: Frames that are neither an event nor a response, or events missing a header they need.
    malformed_frames: int = 0
    #: Responses whose ActionID matches nothing pending (late answers after a timeout).
    unmatched_responses: int = 0
    consumer_errors: int = 0


class _FrameMessage(Message):  # type: ignore[misc]  # panoramisk ships no type hints
    """panoramisk's message view of one of our frames, keeping the frame for typed decoding."""

    def __init__(self, frame: Frame) -> None:
        super().__init__(frame.first_values())
        self.frame = frame


class _NoDispatch:
    """panoramisk's protocol hands uncorrelated events to its factory; ours were delivered already."""

    def dispatch(self, message: Any) -> None:
        return None


class AmiConnection(AMIProtocol):  # type: ignore[misc]  # panoramisk ships no type hints
    """An asyncio protocol for one connection; create it through ``loop.create_connection``."""

    def __init__(self, on_event: Callable[[ev.AmiEvent], None], counters: InputCounters,
                 frame_stats: FrameStats) -> None:
        super().__init__()
        self._on_event = on_event
        self._counters = counters
        self._parser = FrameParser(stats=frame_stats)
        self._loop = asyncio.get_running_loop()
        # uvloop's TCP transport is no subclass of asyncio.Transport: keep to the base interface.
        self._transport: asyncio.WriteTransport | None = None
        self._malformed_logged = False
        #: Loop time of the last complete frame: what the watchdog looks at.
        self.last_received = self._loop.time()
        self.banner: str | None = None
        #: Set by the first ``FullyBooted`` event.
        self.booted: asyncio.Future[None] = self._loop.create_future()
        #: Set with the reason text when the connection is gone.
        self.lost: asyncio.Future[str] = self._loop.create_future()

    # --- asyncio.Protocol ---------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self._transport = cast(asyncio.WriteTransport, transport)
        self.factory = _NoDispatch()
        self.log = logger
        self.last_received = self._loop.time()

    def data_received(self, data: bytes) -> None:
        for item in self._parser.feed(data):
            self.last_received = self._loop.time()
            if isinstance(item, Banner):
                self.banner = item.version or item.text
                continue
            self._frame(item)

    def eof_received(self) -> bool:
        self._finish("connection closed by Asterisk")
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self._finish("connection closed" if exc is None else f"connection lost: {exc or type(exc).__name__}")

    # --- frames -------------------------------------------------------------------------------

    def _frame(self, frame: Frame) -> None:
        counters = self._counters
        counters.frames += 1
        event = ev.event_from_frame(frame)
        if event is not None:
            counters.events += 1
            if isinstance(event, ev.Unhandled):
                if event.problem is None:
                    counters.unhandled_events += 1
                else:
                    counters.malformed_frames += 1
            if isinstance(event, ev.FullyBooted) and not self.booted.done():
                self.booted.set_result(None)
            try:
                self._on_event(event)
            except Exception:
                counters.consumer_errors += 1
                logger.exception("AMI event consumer failed on %s", type(event).__name__)
        elif response_from_frame(frame) is None:
            counters.malformed_frames += 1
            log = logger.debug if self._malformed_logged else logger.warning
            self._malformed_logged = True
            log("AMI frame that is neither an event nor a response skipped: %r", frame.headers[:4])
            return
        action_id = action_id_of(frame)
        if action_id is None or action_id not in self.responses:
            if event is None:
                counters.unmatched_responses += 1
                logger.debug("AMI response for no pending action: %r", action_id)
            return
        try:
            self.handle_message(_FrameMessage(frame))
        except Exception:  # panoramisk's bookkeeping must never take the connection down
            logger.exception("AMI response handling failed for ActionID %r", action_id)

    # --- actions ------------------------------------------------------------------------------

    def send_action(self, action: Action, action_id: str) -> asyncio.Future[Any]:
        """Write ``action``; the future gets panoramisk's answer (a message, or a list for event lists).

        Raises ``ValueError`` (nothing written) when a value holds a line break.
        """
        if self._transport is None or self._transport.is_closing() or self.lost.done():
            raise AmiConnectionLost(f"{action.describe()}: connection is closed")
        data = serialize_action(action.to_fields(action_id))
        # Only the name and id go into panoramisk's object: it never sees (or logs) a secret.
        # ``as_list=None`` lets panoramisk decide from ``EventList: start``; False ends at the first
        # response, so an OriginateResponse event later flows to the consumer like any event.
        as_list = None if action.answers_with_list else False
        pending = _PanoramiskAction({"Action": action.name, "ActionID": action_id}, as_list=as_list)
        self.responses[action_id] = pending
        self._transport.write(data)
        future: asyncio.Future[Any] = pending.future
        return future

    def abort(self, reason: str) -> None:
        """Drop the connection at once (no flush: a dead peer may never read it) and fail pending actions."""
        self._finish(reason)
        if self._transport is not None:
            self._transport.abort()

    def close(self) -> None:
        """panoramisk's name for closing; never re-queues actions (see the module docstring)."""
        self.abort("connection closed")

    def _finish(self, reason: str) -> None:
        if not self.lost.done():
            self.lost.set_result(reason)
        self.closed = True
        if not self.booted.done():
            self.booted.set_exception(AmiConnectionLost(reason))
            self.booted.exception()  # retrieved: nobody may be waiting any more
        pending: dict[str, Any] = getattr(self, "responses", {})
        for action in list(pending.values()):
            future: asyncio.Future[Any] = action.future
            if not future.done():
                future.set_exception(AmiConnectionLost(reason))
        pending.clear()
        self._parser.reset()


def answer_of(result: Any) -> tuple[ActionResponse | None, list[ev.AmiEvent]]:
    """panoramisk's answer (one message, or the response then the list's events) as typed values."""
    messages = result if isinstance(result, list) else [result]
    response: ActionResponse | None = None
    events: list[ev.AmiEvent] = []
    for message in messages:
        if not isinstance(message, _FrameMessage):
            continue
        event = ev.event_from_frame(message.frame)
        if event is not None:
            events.append(event)
        elif response is None:
            response = response_from_frame(message.frame)
    return response, events

