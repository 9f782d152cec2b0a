"""The simulator's AMI server over real loopback sockets: login, actions, and calls as a client sees them."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import pytest

from pbx_bridge import ami_events as ev
from pbx_bridge import call_facts as cf
from pbx_bridge.ami_frames import Banner, Frame, FrameParser, serialize_action
from pbx_bridge.call_tracker import CallTracker
from pbx_bridge.simulator import Simulator, SimulatorSettings
from pbx_bridge.simulator.clock import ManualClock
from pbx_bridge.simulator.scenarios import CallParams

#: Protocol code: it must work on the service's uvloop and on asyncio's own loop alike.
pytestmark = pytest.mark.both_loops

START = 1795345255.25
SETTINGS = SimulatorSettings(ami_port=0, calls_per_minute=0, ami_username="bridge", ami_secret="s3cret", seed=7)


class AmiClient:
    """A bare AMI client: the project's frame parser on a plain asyncio socket."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.parser = FrameParser()
        self.pending: list[Frame | Banner] = []
        self.raw = bytearray()

    @classmethod
    async def connect(cls, port: int) -> AmiClient:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        return cls(reader, writer)

    async def next(self) -> Frame | Banner:
        while not self.pending:
            data = await asyncio.wait_for(self.reader.read(65536), 5)
            assert data, "server closed the connection"
            self.raw += data
            self.pending.extend(self.parser.feed(data))
        return self.pending.pop(0)

    async def frame(self) -> Frame:
        item = await self.next()
        assert isinstance(item, Frame), item
        return item

    async def until(self, match: Callable[[Frame], bool]) -> list[Frame]:
        frames: list[Frame] = []
        while True:
            frame = await self.frame()
            frames.append(frame)
            if match(frame):
                return frames

    async def action(self, **fields: str) -> Frame:
        self.writer.write(serialize_action(fields))
        await self.writer.drain()
        frames = await self.until(lambda f: f.get("Response") is not None and f.get("Event") is None)
        self.events = frames[:-1]
        return frames[-1]

    async def login(self, secret: str = "s3cret") -> Frame:
        banner = await self.next()
        assert isinstance(banner, Banner) and banner.text == "Asterisk Call Manager/11.0.0"
        return await self.action(Action="Login", Username="bridge", Secret=secret, ActionID="login-1")

    async def close(self) -> None:
        self.writer.close()
        await self.writer.wait_closed()


@pytest.fixture
async def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture
async def sim(clock: ManualClock) -> AsyncIterator[Simulator]:
    simulator = Simulator(SETTINGS, clock=clock)
    await simulator.start()
    yield simulator
    await simulator.stop()


async def test_login_fully_booted_and_ping(sim: Simulator) -> None:
    client = await AmiClient.connect(sim.port)
    response = await client.login()
    assert response.headers == (("Response", "Success"), ("ActionID", "login-1"),
                                ("Message", "Authentication accepted"))
    booted = await client.frame()
    assert booted.get("Event") == "FullyBooted" and booted.get("Status") == "Fully Booted"
    assert booted.get("Timestamp") is None
    auth = await client.frame()
    assert auth.get("Event") == "SuccessfulAuth" and auth.get("AccountID") == "bridge"
    assert auth.get("Timestamp") == f"{START:.6f}"

    pong = await client.action(Action="Ping", ActionID="p-2")
    assert pong.get("Response") == "Success" and pong.get("Ping") == "Pong" and pong.get("ActionID") == "p-2"
    assert float(pong.get("Timestamp") or 0) == pytest.approx(START)

    unknown = await client.action(Action="DoSomethingOdd", ActionID="u-3")
    assert unknown.headers == (("Response", "Error"), ("ActionID", "u-3"), ("Message", "Invalid/unknown command"))
    # The wire format itself: banner line, CRLF everywhere, a blank line after each frame.
    assert client.raw.startswith(b"Asterisk Call Manager/11.0.0\r\nResponse: Success\r\nActionID: login-1\r\n")
    assert b"\n" not in client.raw.replace(b"\r\n", b"")

    bye = await client.action(Action="Logoff", ActionID="bye")
    assert bye.get("Response") == "Goodbye"
    assert await asyncio.wait_for(client.reader.read(), 5) == b""
    await client.close()


async def test_wrong_secret_is_refused(sim: Simulator, clock: ManualClock) -> None:
    client = await AmiClient.connect(sim.port)
    refused = await client.login(secret="guess")
    assert refused.headers == (("Response", "Error"), ("ActionID", "login-1"), ("Message", "Authentication failed"))
    denied = await client.action(Action="Ping", ActionID="p")
    assert denied.get("Response") == "Error" and denied.get("Message") == "Authentication Required"
    observer = await AmiClient.connect(sim.port)
    await observer.login()
    sim.start_call("inbound_busy", CallParams(customer="79161110004"))
    await observer.until(lambda f: f.get("Event") == "Newchannel")
    clock.advance(60)
    await observer.until(lambda f: f.get("Event") == "Hangup" and (f.get("Channel") or "").startswith("PJSIP/trunk"))
    await sim.wait_calls()
    # No events reach a client that did not log in: the next thing it reads is its own answer.
    again = await client.action(Action="Ping", ActionID="p2")
    assert again.get("ActionID") == "p2" and client.events == []
    await client.close()
    await observer.close()


def _tracker_feed(tracker: CallTracker, frames: list[Frame]) -> list[cf.CallFact]:
    facts: list[cf.CallFact] = []
    for frame in frames:
        event = ev.event_from_frame(frame)
        if event is not None:
            facts.extend(tracker.feed(event))
    return facts


def _ended(facts: list[cf.CallFact]) -> cf.CallEnded:
    (end,) = [fact for fact in facts if isinstance(fact, cf.CallEnded)]
    return end


async def test_a_call_as_two_clients_see_it_with_core_show_channels(sim: Simulator, clock: ManualClock) -> None:
    first = await AmiClient.connect(sim.port)
    await first.login()
    params = CallParams(customer="79161110021", did="74951234501", extensions=("101", "102"), answering="102",
                        ring_s=5, talk_s=30)
    sim.start_call("inbound_ringall", params)

    # Until both phones ring: the clock stands still, the call waits for the answer.
    seen = await first.until(lambda f: f.get("Event") == "Newstate" and (f.get("Channel") or "").startswith(
        "PJSIP/102-") and f.get("ChannelStateDesc") == "Ringing")
    trunk = next(f for f in seen if f.get("Event") == "Newchannel")
    assert trunk.get("Uniqueid") == trunk.get("Linkedid") == f"{int(START)}.0"

    # A second client connects mid-call, as the bridge does after a restart, and resyncs.
    second = await AmiClient.connect(sim.port)
    await second.login()
    clock.advance(3.5)
    listing_response = await second.action(Action="CoreShowChannels", ActionID="csc")
    assert listing_response.get("EventList") == "start"
    listing = await second.until(lambda f: f.get("Event") == "CoreShowChannelsComplete")
    rows = {(f.get("Channel") or "").split("-")[0]: f for f in listing[:-1]}
    assert set(rows) == {"PJSIP/trunk", "PJSIP/101", "PJSIP/102"}
    assert listing[-1].get("ListItems") == "3" and listing[-1].get("ActionID") == "csc"
    assert rows["PJSIP/trunk"].get("ChannelStateDesc") == "Ring"
    assert rows["PJSIP/trunk"].get("Application") == "Dial"
    assert rows["PJSIP/101"].get("ChannelStateDesc") == "Ringing"
    assert rows["PJSIP/101"].get("Application") == "AppDial"
    assert all(f.get("BridgeId") == "" and f.get("Duration") == "00:00:03" for f in rows.values())
    assert all(f.get("Linkedid") == trunk.get("Uniqueid") and f.get("ActionID") == "csc" for f in rows.values())
    assert all(f.get("Timestamp") is None and f.get("Privilege") is None for f in listing)

    second_tracker = CallTracker()
    second_facts = _tracker_feed(second_tracker, [*second.events, *listing])
    clock.advance(1000)

    first_tracker = CallTracker()
    first_facts = _tracker_feed(first_tracker, seen)
    while not any(isinstance(f, cf.CallEnded) for f in first_facts):
        first_facts += _tracker_feed(first_tracker, [await first.frame()])
    while not any(isinstance(f, cf.CallEnded) for f in second_facts):
        second_facts += _tracker_feed(second_tracker, [await second.frame()])

    for facts in (first_facts, second_facts):
        end = _ended(facts)
        assert (end.outcome, end.answered_by, end.hung_up_by) == (cf.Outcome.ANSWERED, "102", cf.HungUpBy.CUSTOMER)
        assert end.call_id == trunk.get("Linkedid")
    full = _ended(first_facts)
    assert full.ring_s == pytest.approx(5, abs=0.05) and full.talk_s == pytest.approx(30, abs=0.05)
    # The late client learnt of the call from CoreShowChannels, then followed it to its end.
    assert [f.resynced for f in second_facts if isinstance(f, cf.CallStarted)] == [True]
    await first.close()
    await second.close()


async def test_originate_plays_a_click_to_call(sim: Simulator, clock: ManualClock) -> None:
    client = await AmiClient.connect(sim.port)
    await client.login()
    queued = await client.action(Action="Originate", ActionID="c2c-9", Channel="PJSIP/103", Context="from-internal",
                                 Exten="79161110013", Priority="1", CallerID='"Иванов И." <79161110013>',
                                 Timeout="20000", Async="true")
    assert queued.headers == (("Response", "Success"), ("ActionID", "c2c-9"),
                              ("Message", "Originate successfully queued"))
    clock.advance(3600)
    tracker = CallTracker()
    facts = _tracker_feed(tracker, client.events)
    frames: list[Frame] = list(client.events)
    while not any(isinstance(f, cf.CallEnded) for f in facts):
        frame = await client.frame()
        frames.append(frame)
        facts += _tracker_feed(tracker, [frame])
    (response,) = [f for f in frames if f.get("Event") == "OriginateResponse"]
    assert (response.get("ActionID"), response.get("Response"), response.get("Reason")) == ("c2c-9", "Success", "4")
    assert (response.get("Channel") or "").startswith("PJSIP/103-")
    end = _ended(facts)
    assert end.click_to_call and end.outcome is cf.Outcome.ANSWERED
    assert (end.operator, end.customer_number, end.answered_by) == ("103", "79161110013", "79161110013")

    bad = await client.action(Action="Originate", ActionID="bad", Channel="Local/x@y")
    assert bad.get("Response") == "Error"
    await client.close()
