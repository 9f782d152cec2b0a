"""The FastAGI server: Asterisk asks ``agi://HOST:4573/route`` where an inbound call goes.

One connection per call. The server reads the ``agi_*`` environment exactly as Asterisk 22
sends it, builds a :class:`~pbx_bridge.agi_contract.RouteRequest`, asks the :class:`Router`
(implemented in the composition root on top of the CRM) and answers with ``SET VARIABLE``
commands, reading Asterisk's reply to each. The call must never wait on perezvon: the router
gets ``deadline_ms``; if it is late or fails, the configured fallback (a queue) is answered at
once and the router's work is cancelled. A peer that sends garbage or stalls is dropped after
``client_timeout_s``; an unknown script gets no commands at all, so the dialplan's own fallback
applies.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import ipaddress
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import TracebackType

from pbx_bridge import agi_protocol as proto
from pbx_bridge.agi_contract import (
    ARG_DID,
    ARG_LINKEDID,
    ARG_SECRET,
    ROUTE_SCRIPT,
    VAR_CALLER_NAME,
    RouteAnswer,
    Router,
    RouteRequest,
)
from pbx_bridge.agi_settings import AgiSettings
from pbx_bridge.log_safe import printable

logger = logging.getLogger(__name__)

FALLBACK_TIMEOUT = "fallback_timeout"
FALLBACK_ERROR = "fallback_error"
#: Bounds on what a peer may send before the blank line: Asterisk sends ~25 lines of < 200 bytes.
MAX_LINE_BYTES = 8192
MAX_ENV_LINES = 200
#: agi_callingpres: presentation "prohibited" is 0x20..0x23 (Q.931 presentation bits 01).
_PRES_MASK, _PRES_PROHIBITED = 0x60, 0x20


@dataclass
class AgiStats:
    """Counters for /healthz and logs; never reset while the server runs."""

    connections: int = 0
    routed: int = 0
    fallback_timeout: int = 0
    fallback_error: int = 0
    unknown_script: int = 0
    bad_environment: int = 0
    hangups: int = 0
    command_errors: int = 0
    refused_peer: int = 0
    bad_secret: int = 0


def _known(value: str | None) -> str:
    """Asterisk writes ``unknown`` for an absent caller ID, DNID or RDNIS."""
    return "" if value is None or value == "unknown" else value


def script_name(env: Mapping[str, str]) -> str:
    """``agi_network_script`` without a leading slash or a query string."""
    return env.get("agi_network_script", "").lstrip("/").split("?", 1)[0]


def request_from_env(env: Mapping[str, str]) -> RouteRequest:
    """The route request from Asterisk's environment and the dialplan's arguments (see agi_contract)."""
    linkedid = env.get(f"agi_arg_{ARG_LINKEDID}", "").strip() or env.get("agi_uniqueid", "")
    did = (env.get(f"agi_arg_{ARG_DID}", "").strip() or _known(env.get("agi_dnid"))
           or _known(env.get("agi_extension")))
    try:
        pres = int(env.get("agi_callingpres", "0"))
    except ValueError:
        pres = 0
    return RouteRequest(
        caller_number=_known(env.get("agi_callerid")), caller_name=_known(env.get("agi_calleridname")),
        did=did, uniqueid=env.get("agi_uniqueid", ""), linkedid=linkedid, channel=env.get("agi_channel", ""),
        restricted=(pres & _PRES_MASK) == _PRES_PROHIBITED,
    )


class AgiServer:
    """``await start()`` -> bound port; ``await close()`` stops listening and drops open connections."""

    def __init__(self, settings: AgiSettings, router: Router,
                 on_fallback: Callable[[RouteRequest, RouteAnswer], None] | None = None) -> None:
        """`on_fallback` hears of every call answered with the fallback (router late or failing), so the
        composition root can still record that decision on the call; it must be cheap and not block."""
        if problems := settings.problems():
            raise ValueError("; ".join(problems))
        self._settings = settings
        self._router = router
        self._on_fallback = on_fallback
        self._server: asyncio.Server | None = None
        self._connections: dict[asyncio.Task[object], asyncio.StreamWriter] = {}
        self._port: int | None = None
        self._allowed = settings.allowed_networks()
        self.stats = AgiStats()

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("FastAGI server not started")
        return self._port

    def fallback(self, reason: str) -> RouteAnswer:
        """The safe answer: no targets, the configured fallback route."""
        return RouteAnswer(targets=(), ring_timeout_s=self._settings.fallback_ring_timeout_s,
                           fallback=self._settings.fallback, reason=reason)

    async def start(self) -> int:
        self._server = await asyncio.start_server(self._handle, self._settings.host, self._settings.port,
                                                  limit=MAX_LINE_BYTES)
        self._port = int(self._server.sockets[0].getsockname()[1])
        logger.info("FastAGI router on %s:%d (deadline %d ms, fallback %s)", self._settings.host, self._port,
                    self._settings.deadline_ms, self._settings.fallback)
        return self._port

    async def close(self) -> None:
        if self._server is None:
            return
        self._server.close()
        # Close the peers rather than cancel the handlers (asyncio's stream callback would log the
        # cancellation as an error): each handler then sees its peer gone and ends on its own.
        for writer in list(self._connections.values()):
            writer.close()
        await asyncio.gather(*self._connections, return_exceptions=True)
        await self._server.wait_closed()
        self._server = None

    async def __aenter__(self) -> AgiServer:
        await self.start()
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.close()

    # --- one connection --------------------------------------------------------------------

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._connections[task] = writer
        self.stats.connections += 1
        try:
            peer = writer.get_extra_info("peername")
            if not self._peer_allowed(peer):
                self.stats.refused_peer += 1
                logger.warning("FastAGI: connection from %s refused (not in PEREZVON_AGI_ALLOWED_PEERS)",
                               printable(peer[0] if isinstance(peer, tuple) and peer else peer))
                return
            await self._serve(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError) as exc:
            logger.info("FastAGI peer went away: %s", exc)
        except Exception:
            logger.exception("FastAGI connection failed")
        finally:
            if task is not None:
                self._connections.pop(task, None)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    def _peer_allowed(self, peer: object) -> bool:
        """Whether the peer's address is in the allowlist (a Unix socket or unknown peer is not)."""
        if not isinstance(peer, tuple) or not peer or not isinstance(peer[0], str):
            return False
        try:
            ip = ipaddress.ip_address(peer[0].split("%", 1)[0])
        except ValueError:
            return False
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        return any(ip in net for net in self._allowed)

    def _secret_ok(self, env: Mapping[str, str]) -> bool:
        expected = self._settings.secret
        if not expected:
            return True
        supplied = env.get(f"agi_arg_{ARG_SECRET}", "")
        return hmac.compare_digest(supplied.encode(), expected.encode())

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        env = await self._read_environment(reader)
        if env is None:
            self.stats.bad_environment += 1
            return
        script = script_name(env)
        if script != ROUTE_SCRIPT:
            self.stats.unknown_script += 1
            logger.warning("FastAGI: unknown script %r from channel %s: closing, the dialplan falls back",
                           script[:60], printable(env.get("agi_channel", "?")))
            return
        if not self._secret_ok(env):
            self.stats.bad_secret += 1
            logger.warning("FastAGI: route request from channel %s without the right secret (agi_arg_%d): "
                           "closing unanswered", printable(env.get("agi_channel", "?")), ARG_SECRET)
            return
        request = request_from_env(env)
        answer = await self._decide(request)
        try:
            commands = _commands(answer)
        except ValueError:
            logger.exception("call %s: router answer cannot be sent; answering the fallback",
                             printable(request.linkedid))
            self.stats.fallback_error += 1
            answer = self.fallback(FALLBACK_ERROR)
            commands = _commands(answer)
        logger.info("call %s from %s to %s: %s -> %s (fallback %s)", printable(request.linkedid),
                    printable(request.caller_number), printable(request.did), answer.reason,
                    "&".join(answer.targets) or "-", answer.fallback)
        if answer.reason in (FALLBACK_TIMEOUT, FALLBACK_ERROR) and self._on_fallback is not None:
            try:
                self._on_fallback(request, answer)
            except Exception:  # the answer to Asterisk matters more than recording it
                logger.exception("call %s: fallback hook failed", printable(request.linkedid))
        await self._send(reader, writer, commands, printable(request.linkedid))

    async def _read_environment(self, reader: asyncio.StreamReader) -> dict[str, str] | None:
        """The ``agi_*`` block up to its blank line; None for garbage, a stall, or a peer that left."""
        env: dict[str, str] = {}
        try:
            async with asyncio.timeout(self._settings.client_timeout_s):
                while True:
                    line = await reader.readline()
                    if not line:
                        logger.info("FastAGI peer closed before the end of its environment")
                        return None
                    if line in (b"\n", b"\r\n"):
                        break
                    name, value = proto.parse_env_line(line)
                    env[name] = value
                    if len(env) > MAX_ENV_LINES:
                        raise proto.BadEnvironment("environment too long")
        except TimeoutError:
            logger.warning("FastAGI peer sent no complete environment in %.1f s: closing",
                           self._settings.client_timeout_s)
            return None
        except (proto.BadEnvironment, ValueError) as exc:  # ValueError: a line over MAX_LINE_BYTES
            logger.warning("FastAGI peer sent no AGI environment (%s): closing", exc)
            return None
        return env

    async def _decide(self, request: RouteRequest) -> RouteAnswer:
        """The router's answer within the deadline, else the fallback at once (the router is cancelled)."""
        task = asyncio.create_task(self._router.route(request), name=f"route-{request.linkedid}")
        done, _ = await asyncio.wait({task}, timeout=self._settings.deadline_s)
        if not done:
            task.cancel()
            task.add_done_callback(_consume)
            self.stats.fallback_timeout += 1
            logger.warning("call %s: router over the %d ms deadline, answering the fallback",
                           printable(request.linkedid), self._settings.deadline_ms)
            return self.fallback(FALLBACK_TIMEOUT)
        exc = task.exception()
        if exc is not None:
            self.stats.fallback_error += 1
            logger.error("call %s: router failed, answering the fallback", printable(request.linkedid),
                         exc_info=exc)
            return self.fallback(FALLBACK_ERROR)
        self.stats.routed += 1
        return task.result()

    async def _send(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, commands: list[bytes],
                    call_id: str) -> None:
        for command in commands:
            if writer.is_closing():
                # Asterisk hung up while the router thought. uvloop raises on a write to a closed
                # transport (asyncio's loop only drops it), so look before writing.
                logger.info("call %s: Asterisk closed the AGI connection before the answer", call_id)
                self.stats.hangups += 1
                return
            writer.write(command)
            await writer.drain()
            reply = await self._read_reply(reader)
            if reply is None:
                logger.info("call %s: Asterisk closed the AGI connection mid-answer", call_id)
                return
            if reply.kind is proto.ReplyKind.HANGUP:
                self.stats.hangups += 1
                logger.info("call %s: caller hung up while being routed", call_id)
                return
            if not reply.ok:
                self.stats.command_errors += 1
                logger.warning("call %s: Asterisk refused %r: %s", call_id, command.decode(errors="replace").strip(),
                               reply.text)
                if reply.kind is proto.ReplyKind.DEAD:
                    return

    async def _read_reply(self, reader: asyncio.StreamReader) -> proto.Reply | None:
        """One reply (a whole ``520-`` usage block counts as one); None at EOF or after the client timeout."""
        try:
            async with asyncio.timeout(self._settings.client_timeout_s):
                in_usage = False
                while True:
                    line = await reader.readline()
                    if not line:
                        return None
                    reply, more = proto.parse_reply_line(line)
                    if in_usage:  # the usage text between "520-..." and "520 End of proper usage."
                        if reply.code == 520 and not more:
                            return reply
                    elif more:
                        in_usage = True
                    else:
                        return reply
        except TimeoutError:
            logger.warning("FastAGI: no reply in %.1f s", self._settings.client_timeout_s)
            return None
        except ValueError:
            return None


def _commands(answer: RouteAnswer) -> list[bytes]:
    """The ``SET VARIABLE`` lines for ``answer``; the caller name is display text and may be cut."""
    return [proto.set_variable(name, proto.display_text(value) if name == VAR_CALLER_NAME else value)
            for name, value in answer.variables()]


def _consume(task: asyncio.Task[RouteAnswer]) -> None:
    """A late router's outcome is no longer wanted, but its exception must not go unretrieved."""
    if not task.cancelled() and task.exception() is not None:
        logger.warning("late router failed", exc_info=task.exception())
