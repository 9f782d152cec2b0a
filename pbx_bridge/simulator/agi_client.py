"""The simulator's FastAGI client: asks the router about an inbound call as Asterisk 22's dialplan does.

``AGI(agi://HOST:PORT/route,${CHANNEL(linkedid)},${DID})`` opens a TCP connection, writes the
``agi_*`` environment in Asterisk 22's order (the ``agi_arg_N`` lines after ``agi_threadid``), an
empty line, then answers every command with ``200 result=1`` until the server closes. Commands are
split with res_agi's own rules (:func:`~pbx_bridge.agi_protocol.split_command`), so a value quoted
wrongly by the router shows up here as it would on a real PBX. Unreachable or stalled router:
``None`` (the dialplan's ``AGISTATUS`` is ``FAILURE`` and it dials its own fallback).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass

from pbx_bridge import agi_protocol as proto
from pbx_bridge.agi_contract import ROUTE_SCRIPT

logger = logging.getLogger(__name__)

_OK = b"200 result=1\n"
_MAX_COMMANDS = 50


@dataclass(frozen=True, slots=True)
class AgiCall:
    """What Asterisk knows about the trunk channel when the dialplan reaches the AGI."""

    channel: str
    uniqueid: str
    linkedid: str
    caller: str
    caller_name: str
    did: str
    context: str = "from-trunk"
    priority: int = 3
    callingpres: int = 0


@dataclass(frozen=True, slots=True)
class AgiTarget:
    """Where the simulated dialplan finds the router."""

    host: str
    port: int
    timeout_s: float = 2.0
    #: The router's PEREZVON_AGI_SECRET, passed as the third AGI argument as the dialplan does; "" for none.
    secret: str = ""


def environment(call: AgiCall, target: AgiTarget, *, script: str = ROUTE_SCRIPT) -> bytes:
    """The exact block Asterisk 22.10 writes (see ``tests/fixtures/asterisk-22/*.agi``), with the two args
    (three with a secret)."""
    pairs = [
        ("agi_network", "yes"), ("agi_network_script", script),
        ("agi_request", f"agi://{target.host}:{target.port}/{script}"), ("agi_channel", call.channel),
        ("agi_language", "en"), ("agi_type", call.channel.split("/", 1)[0]), ("agi_uniqueid", call.uniqueid),
        ("agi_version", "22.10.1"), ("agi_callerid", call.caller or "unknown"),
        ("agi_calleridname", call.caller_name or "unknown"), ("agi_callingpres", str(call.callingpres)),
        ("agi_callingani2", "0"), ("agi_callington", "0"), ("agi_callingtns", "0"), ("agi_dnid", call.did),
        ("agi_rdnis", "unknown"), ("agi_context", call.context), ("agi_extension", call.did),
        ("agi_priority", str(call.priority)), ("agi_enhanced", "0.0"), ("agi_accountcode", ""),
        ("agi_threadid", "140702747117248"), ("agi_arg_1", call.linkedid), ("agi_arg_2", call.did),
    ]
    if target.secret:
        pairs.append(("agi_arg_3", target.secret))
    return proto.env_block(pairs)


async def ask_router(target: AgiTarget, call: AgiCall) -> list[tuple[str, str]] | None:
    """The ``SET VARIABLE`` (name, value) pairs the router sent, in order; None if it could not be asked."""
    try:
        async with asyncio.timeout(target.timeout_s):
            reader, writer = await asyncio.open_connection(target.host, target.port)
            try:
                writer.write(environment(call, target))
                await writer.drain()
                variables: list[tuple[str, str]] = []
                for _ in range(_MAX_COMMANDS):
                    line = await reader.readline()
                    if not line or writer.is_closing():  # uvloop raises on a write to a closed transport
                        break
                    words = proto.split_command(line.decode("utf-8", errors="replace"))
                    if len(words) == 4 and [w.upper() for w in words[:2]] == ["SET", "VARIABLE"]:
                        variables.append((words[2], words[3]))
                        writer.write(_OK)
                    else:
                        writer.write(b"510 Invalid or unknown command\n")
                    await writer.drain()
                return variables
            finally:
                writer.close()
                with contextlib.suppress(Exception):
                    await writer.wait_closed()
    except (OSError, TimeoutError) as exc:
        logger.warning("call %s: FastAGI router %s:%d unreachable (%s): AGISTATUS=FAILURE", call.linkedid,
                       target.host, target.port, exc)
        return None
