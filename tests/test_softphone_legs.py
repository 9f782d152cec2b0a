"""The web softphone's legs: AudioSocket frames, the UUID that names the operator, and everyone who reads it.

The router writes the extension into the leg's UUID; the live tracker, the CDR recovery and the router's
own dial strings must all read it the same way, for every extension shape and for UUIDs that are not ours.
"""

from __future__ import annotations

import uuid

import pytest

from crm.recovery.cdr_calls import party_of
from crm.routing.policy import ManagerTarget, RouteDecision
from pbx_bridge.agi_settings import AgiSettings
from pbx_bridge.audiosocket import frames, legs
from pbx_bridge.tracker_state import ChannelClassifier, PartyKind, TrackerSettings
from web.routing_service import dial_strings

SERVER = "127.0.0.1:9092"


@pytest.mark.parametrize("extension", ["101", "0101", "7", "12345678901"])
def test_a_legs_uuid_names_its_extension_in_every_reader(extension: str) -> None:
    dial = legs.dial_string(SERVER, extension)
    leg = uuid.UUID(dial.split("/")[2])
    channel = f"AudioSocket/{SERVER}-{leg}"  # what chan_audiosocket names it
    assert leg.version == 4 and legs.extension_of(leg) == extension
    assert legs.channel_extension(dial) == legs.channel_extension(channel) == extension
    assert legs.device(dial) == legs.device(channel)
    party = ChannelClassifier(TrackerSettings()).classify(channel)
    assert (party.kind, party.endpoint) == (PartyKind.OPERATOR, extension)
    assert party_of(channel) == ("operator", extension)


def test_every_leg_has_its_own_uuid() -> None:
    assert len({legs.leg_uuid("101") for _ in range(100)}) == 100


@pytest.mark.parametrize("channel", [
    "AudioSocket/127.0.0.1:9092-00000000-0000-4000-8000-000000000101",  # someone else's application
    "AudioSocket/127.0.0.1:9092-eb6b81cb-12bd-45a9-9df1-ffffffffffff",  # all padding, no digits
    "AudioSocket/127.0.0.1:9092-eb6b81cb-12bd-45a9-9df1-fffff10fff03",  # padding inside the digits
    "AudioSocket/127.0.0.1:9092",                                       # no UUID at all
])
def test_audiosocket_channels_that_are_not_ours_belong_to_nobody(channel: str) -> None:
    assert legs.channel_extension(channel) is None
    assert ChannelClassifier(TrackerSettings()).classify(channel).kind is PartyKind.OTHER
    assert party_of(channel)[0] == "other"


@pytest.mark.parametrize("extension", ["", "abc", "10 1", "123456789012", "１０１"])
def test_a_leg_needs_a_plain_extension(extension: str) -> None:
    with pytest.raises(ValueError):
        legs.leg_uuid(extension)


def _decision(*targets: ManagerTarget) -> RouteDecision:
    return RouteDecision(targets=targets, ring_timeout_s=20, fallback="queue:sales", reason="did_rule",
                         explanation="", customer_id=None, customer_e164=None, order_id=None, order_number=None,
                         caller_name="")


def test_the_router_rings_the_softphone_after_its_owners_desk_phones() -> None:
    both = ManagerTarget(1, "Вера", ("101",), True, "101")
    only_softphone = ManagerTarget(2, "Олег", (), True, "102")
    desk = ManagerTarget(3, "Ира", ("103",), False)
    out = dial_strings(_decision(both, only_softphone, desk), SERVER)
    assert out[0] == "PJSIP/101" and out[3] == "PJSIP/103" and len(out) == 4
    assert [legs.channel_extension(d) for d in out[1:3]] == ["101", "102"]
    assert all(d.startswith(f"AudioSocket/{SERVER}/") and d.endswith("/c(slin)") for d in out[1:3])
    # No server configured: softphone managers ring their desk phones only.
    assert dial_strings(_decision(both, only_softphone, desk)) == ("PJSIP/101", "PJSIP/103")


@pytest.mark.parametrize(("value", "ok"), [("", True), ("127.0.0.1:9092", True), ("pbx-host.local:9092", True),
                                           ("[::1]:9092", True), ("127.0.0.1", False), ("127.0.0.1:0", False),
                                           ("a b:1", False), ("host:9092/x", False)])
def test_the_softphone_server_setting_is_host_and_port(value: str, ok: bool) -> None:
    problems = [p for p in AgiSettings(softphone_audiosocket=value).problems() if "SOFTPHONE" in p]
    assert (problems == []) is ok, problems


# --- frames --------------------------------------------------------------------------------------------------

def test_frames_survive_any_split() -> None:
    leg = legs.leg_uuid("101")
    stream = b"".join(frames.encode(f) for f in (
        frames.uuid_frame(leg), frames.audio_frame(b"\x01\x00" * 160), frames.Frame(frames.Kind.DTMF, b"5"),
        frames.HANGUP))
    for size in (1, 2, 3, 7, 64, len(stream)):
        reader, got = frames.FrameReader(), []
        for start in range(0, len(stream), size):
            got += reader.feed(stream[start:start + size])
        assert [f.kind for f in got] == [frames.Kind.UUID, frames.Kind.AUDIO, frames.Kind.DTMF, frames.Kind.HANGUP]
        assert got[0].uuid() == leg and got[1].is_audio and got[2].digit() == "5" and reader.pending == 0


@pytest.mark.parametrize(("data", "message"), [
    (b"\x42\x00\x00", "unknown frame kind 0x42"),
    (b"\x42\x00\x10abc", "unknown frame kind 0x42"),       # refused before its payload arrives
    (b"\x10\xff\xff", "over 8192"),                         # a length we would have to buffer
    (b"\x01\x00\x04abcd", "16 bytes"),                      # a UUID that is not one
    (b"\x03\x00\x01x", "one digit"),
    (b"\x03\x00\x02" + b"12", "one digit"),
    (b"\x10\x00\x03abc", "whole 16-bit samples"),
])
def test_malformed_frames_are_refused_with_what_was_wrong(data: bytes, message: str) -> None:
    with pytest.raises(frames.AudioSocketError, match=message):
        frames.FrameReader().feed(data)


def test_a_frame_cut_off_is_pending_not_lost() -> None:
    reader = frames.FrameReader()
    assert reader.feed(frames.encode(frames.audio_frame(b"\x00" * 320))[:100]) == []
    assert reader.pending == 100


def test_an_oversized_frame_cannot_be_encoded() -> None:
    with pytest.raises(frames.AudioSocketError):
        frames.encode(frames.audio_frame(b"\x00" * (frames.MAX_PAYLOAD_BYTES + 2)))
