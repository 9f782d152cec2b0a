"""The simulated Asterisk's AMI server: the real wire protocol on a loopback TCP port.

What a client sees is what Asterisk 22 sends: the banner ``Asterisk Call Manager/11.0.0``, CRLF
line ends, ``Response`` then ``ActionID`` then the action's own headers, and on a good login
``FullyBooted`` (no Timestamp) and ``SuccessfulAuth``. Every logged-in client with events on gets
every event of every simulated call. Action names and header names are matched case-insensitively,
as Asterisk does. A client too slow to read its events is disconnected rather than buffered forever.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass

from pbx_bridge.ami_frames import Frame, FrameParser
from pbx_bridge.simulator.channels import PbxCore

logger = logging.getLogger(__name__)

BANNER = b"Asterisk Call Manager/11.0.0\r\n"
#: A client whose unread events pass this many bytes is dropped.
MAX_BUFFERED = 4 * 1024 * 1024
_CHANNEL = re.compile(r"(?:PJSIP|SIP)/(\d{2,6})")
#: A self-check call (web/self_check_caller.py): the shop's own number dialled out through the trunk.
_SELF_CHECK = re.compile(r"Local/(\d{1,20})@perezvon-selfcheck")
_CALLER_ID = re.compile(r'\s*"?(?P<name>[^"<]*?)"?\s*<(?P<num>[^>]*)>\s*')


@dataclass(frozen=True, slots=True)
class OriginateRequest:
    """An ``Originate`` the simulator plays as a click-to-call: ring ``extension``, then dial ``customer``.

    A self-check call instead (``self_check_did`` set) comes back as the shop's inbound call from
    ``customer`` (the Originate's caller ID number) to that number, as the provider would send it.
    """

    action_id: str
    extension: str
    customer: str
    caller_name: str
    channel_id: str = ""
    self_check_did: str = ""


def _pairs(*pairs: tuple[str, str]) -> Frame:
    return Frame.from_pairs(pairs)


class AmiServer:
    """Accepts AMI clients on ``host:port`` and feeds them the core's events once logged in."""

    def __init__(self, core: PbxCore, *, username: str, secret: str,
                 on_originate: Callable[[OriginateRequest], None], phones: tuple[str, ...] = ()) -> None:
        self.core = core
        #: The simulated desk phones: registered, listed by DeviceStateList and PJSIPShowContacts.
        self.phones = phones
        self.username = username
        self._secret = secret
        self.on_originate = on_originate
        self._server: asyncio.Server | None = None
        self._sessions: set[_Session] = set()
        self._started = time.monotonic()

    async def start(self, host: str, port: int) -> int:
        """Listen; returns the bound port (useful with port 0)."""
        self._server = await asyncio.start_server(self._accept, host, port)
        bound: int = self._server.sockets[0].getsockname()[1]
        logger.info("simulated AMI listening on %s:%d", host, bound)
        return bound

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for session in list(self._sessions):
            session.close()
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None

    def accepts(self, username: str | None, secret: str | None) -> bool:
        return username == self.username and secret == self._secret

    @property
    def session_count(self) -> int:
        return len(self._sessions)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        session = _Session(self, reader, writer)
        self._sessions.add(session)
        try:
            await session.run()
        except (ConnectionError, asyncio.IncompleteReadError):
            logger.debug("AMI client %s went away", session.peer)
        finally:
            self._sessions.discard(session)
            session.close()


class _Session:
    """One AMI connection: login state, the action dispatcher, and the event subscription."""

    def __init__(self, server: AmiServer, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.server = server
        self.reader = reader
        self.writer = writer
        peer = writer.get_extra_info("peername")
        sock = writer.get_extra_info("sockname")
        self.peer = f"{peer[0]}/{peer[1]}" if peer else "?"
        self.local = f"{sock[0]}/{sock[1]}" if sock else "?"
        self.authenticated = False
        self._unsubscribe: Callable[[], None] | None = None
        self._closed = False

    async def run(self) -> None:
        self.writer.write(BANNER)
        parser = FrameParser()
        while not self._closed:
            data = await self.reader.read(65536)
            if not data:
                return
            for item in parser.feed(data):
                if isinstance(item, Frame) and not self._closed:
                    self._action(item)
            await self.writer.drain()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._unsubscribe is not None:
            self._unsubscribe()
        with contextlib.suppress(RuntimeError):
            self.writer.close()

    def send(self, frame: Frame) -> None:
        if self._closed:
            return
        if self.writer.transport.get_write_buffer_size() > MAX_BUFFERED:
            logger.warning("AMI client %s reads too slowly: disconnected", self.peer)
            self.close()
            return
        self.writer.write(bytes(frame))

    # --- actions -----------------------------------------------------------------------------

    def _action(self, frame: Frame) -> None:
        fields = {key.lower(): value for key, value in reversed(frame.headers)}
        action = fields.get("action", "").strip().lower()
        action_id = fields.get("actionid")
        if not action:
            self._respond(action_id, "Error", ("Message", "Missing action in request"))
        elif action == "login":
            self._login(fields, action_id)
        elif action == "logoff":
            self._respond(action_id, "Goodbye", ("Message", "Thanks for all the fish."))
            self.close()
        elif not self.authenticated:
            self._respond(action_id, "Error", ("Message", "Authentication Required"))
        elif action == "ping":
            self._respond(action_id, "Success", ("Ping", "Pong"), ("Timestamp", f"{self.server.core.clock.now():.6f}"))
        elif action == "coreshowchannels":
            self._core_show_channels(action_id)
        elif action == "originate":
            self._originate(fields, action_id)
        elif action == "devicestatelist":
            self._device_state_list(action_id)
        elif action == "pjsipshowcontacts":
            self._show_contacts(action_id)
        else:
            self._respond(action_id, "Error", ("Message", "Invalid/unknown command"))

    def _respond(self, action_id: str | None, response: str, *rest: tuple[str, str]) -> None:
        head = [("Response", response)] + ([("ActionID", action_id)] if action_id is not None else [])
        self.send(Frame.from_pairs([*head, *rest]))

    def _login(self, fields: dict[str, str], action_id: str | None) -> None:
        server = self.server
        if not server.accepts(fields.get("username"), fields.get("secret")):
            logger.info("AMI login refused for %r from %s", fields.get("username"), self.peer)
            self._respond(action_id, "Error", ("Message", "Authentication failed"))
            return
        self.authenticated = True
        self._respond(action_id, "Success", ("Message", "Authentication accepted"))
        if fields.get("events", "on").strip().lower() in ("off", "no", "false", "0"):
            return
        uptime = str(int(time.monotonic() - server._started))
        self.send(_pairs(("Event", "FullyBooted"), ("Privilege", "system,all"), ("Uptime", uptime),
                         ("LastReload", uptime), ("Status", "Fully Booted")))
        now = server.core.clock.now()
        tv = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now % 1 * 1000):03d}+0000"
        self.send(_pairs(
            ("Event", "SuccessfulAuth"), ("Privilege", "security,all"), ("Timestamp", f"{now:.6f}"),
            ("EventTV", tv), ("Severity", "Informational"), ("Service", "AMI"), ("EventVersion", "1"),
            ("AccountID", server.username), ("SessionID", f"0x{id(self):x}"),
            ("LocalAddress", f"IPV4/TCP/{self.local}"), ("RemoteAddress", f"IPV4/TCP/{self.peer}"),
            ("UsingPassword", "0"), ("SessionTV", tv),
        ))
        self._unsubscribe = server.core.subscribe(self.send)

    def _core_show_channels(self, action_id: str | None) -> None:
        core = self.server.core
        self._respond(action_id, "Success", ("EventList", "start"), ("Message", "Channels will follow"))
        head = [("ActionID", action_id)] if action_id is not None else []
        channels = core.live_channels()
        now = core.clock.now()
        for channel in channels:
            age = max(0, int(now - channel.created_at))
            duration = f"{age // 3600:02d}:{age // 60 % 60:02d}:{age % 60:02d}"
            self.send(Frame.from_pairs([
                ("Event", "CoreShowChannel"), *head, *channel.block(), ("BridgeId", channel.bridge_id),
                ("Application", channel.application), ("ApplicationData", channel.application_data),
                ("Duration", duration),
            ]))
        self.send(Frame.from_pairs([("Event", "CoreShowChannelsComplete"), *head, ("EventList", "Complete"),
                                    ("ListItems", str(len(channels)))]))

    def _device_state_list(self, action_id: str | None) -> None:
        """As res_manager_devicestate answers: one DeviceStateChange per device, then the Complete event."""
        head = [("ActionID", action_id)] if action_id is not None else []
        self._respond(action_id, "Success", ("EventList", "start"), ("Message", "Device State Changes will follow"))
        for phone in self.server.phones:
            self.send(Frame.from_pairs([("Event", "DeviceStateChange"), *head, ("Device", f"PJSIP/{phone}"),
                                        ("State", "NOT_INUSE")]))
        self.send(Frame.from_pairs([("Event", "DeviceStateListComplete"), *head, ("EventList", "Complete"),
                                    ("ListItems", str(len(self.server.phones)))]))

    def _show_contacts(self, action_id: str | None) -> None:
        """As res_pjsip answers PJSIPShowContacts (an error when nothing is registered)."""
        if not self.server.phones:
            self._respond(action_id, "Error", ("Message", "No Contacts found"))
            return
        head = [("ActionID", action_id)] if action_id is not None else []
        self._respond(action_id, "Success", ("EventList", "start"),
                      ("Message", "A listing of Contacts follows, presented as ContactList events"))
        for index, phone in enumerate(self.server.phones):
            uri = f"sip:{phone}@127.0.0.1:{5070 + index}"
            self.send(Frame.from_pairs([
                ("Event", "ContactList"), *head, ("ObjectType", "contact"), ("ObjectName", f"{phone};@sim{index}"),
                ("Endpoint", phone), ("Uri", uri), ("Status", "Reachable"), ("RoundtripUsec", "1200"),
            ]))
        self.send(Frame.from_pairs([("Event", "ContactListComplete"), *head, ("EventList", "Complete"),
                                    ("ListItems", str(len(self.server.phones)))]))

    def _originate(self, fields: dict[str, str], action_id: str | None) -> None:
        self_check = _SELF_CHECK.fullmatch(fields.get("channel", "").strip())
        match = _CALLER_ID.fullmatch(fields.get("callerid", ""))
        if self_check is not None and match is not None and match.group("num").strip().isdigit():
            self._respond(action_id, "Success", ("Message", "Originate successfully queued"))
            self.server.on_originate(OriginateRequest(action_id=action_id or "", extension="",
                                                       customer=match.group("num").strip(), caller_name="",
                                                       channel_id=fields.get("channelid", "").strip()[:64],
                                                       self_check_did=self_check.group(1)))
            return
        channel = _CHANNEL.fullmatch(fields.get("channel", "").strip())
        customer = fields.get("exten", "").strip()
        if channel is None or not customer:
            self._respond(action_id, "Error", ("Message", "Originate failed: Channel PJSIP/<ext> and Exten needed"))
            return
        match = _CALLER_ID.fullmatch(fields.get("callerid", ""))
        name = match.group("name").strip() if match else fields.get("callerid", "").strip()
        self._respond(action_id, "Success", ("Message", "Originate successfully queued"))
        self.server.on_originate(OriginateRequest(action_id=action_id or "", extension=channel.group(1),
                                                   customer=customer, caller_name=name,
                                                   channel_id=fields.get("channelid", "").strip()[:64]))
