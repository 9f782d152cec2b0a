"""Recordings and transcripts on the real Asterisk: the customer speaks (sipp sends a festival-made Russian phrase
as RTP), MixMonitor records, perezvon registers the files, transcribes them with the bundled Whisper base, and
the call becomes searchable and linked to the order the customer named.

It also proves what MixMonitor's options write. The shipped dialplan records a mixed `<L>.wav` (option b)
and `<L>.raw` with option D: both directions interleaved as 16-bit 8 kHz stereo. `r(<L>-in.wav)` and
`t(<L>-out.wav)`, started on the live call from Asterisk's CLI, write each direction alone. On the customer's
trunk channel (where the dialplan records) the `r()` file and the D stream's first channel are what the
*customer* said: the stereo transcript says so, and the one-side files match the stereo channels. Only the
stereo recording is transcribed (the best of the call's: both voices apart); the mixed one is heard worse.
"""

from __future__ import annotations

import array
import asyncio
import io
import math
import re
import wave
from pathlib import Path
from typing import Any

import aiohttp

from tests.pbx.asterisk_process import Asterisk
from tests.pbx.conftest import Phones
from tests.pbx.phones import PhoneBehaviour
from tests.pbx.provider import InboundCall, alaw_speech, call_in
from tests.pbx.records import wait_for_calls, wait_for_recording_state
from tests.pbx.service_process import Service, admin_download
from tests.transcription_helpers import SPEECH

CALLER = "79161110095"


def _samples(data: bytes) -> array.array[int]:
    samples = array.array("h")
    samples.frombytes(data)
    return samples


def _channels(wav_bytes: bytes) -> tuple[array.array[int], array.array[int]]:
    with wave.open(io.BytesIO(wav_bytes)) as wav:
        both = _samples(wav.readframes(wav.getnframes()))
    return both[0::2], both[1::2]


def _mono(wav_bytes: bytes) -> array.array[int]:
    with wave.open(io.BytesIO(wav_bytes)) as wav:
        return _samples(wav.readframes(wav.getnframes()))


def _loudness(samples: array.array[int]) -> float:
    """Root mean square of the samples (0 for none)."""
    return math.sqrt(sum(v * v for v in samples) / len(samples)) if samples else 0.0


async def _order(perezvon: Service, number: str) -> int:
    """An order of another customer (the caller rings from a number the shop does not know)."""
    headers = {"Authorization": f"Bearer {perezvon.token}"}
    async with aiohttp.ClientSession(headers=headers) as http:
        async with http.post(perezvon.config.base_url + "/api/v1/orders", json={
                "number": number, "customer_phone": "+79161110096", "customer_name": "Соколова Ирина",
                "total": "4990"}) as resp:
            assert resp.status == 201, await resp.text()
            order: dict[str, Any] = await resp.json()
    return int(order["id"])


async def _trunk_channel(asterisk: Asterisk, timeout_s: float = 15) -> tuple[str, str]:
    """The customer's trunk channel of the call up now, and its Uniqueid (the call's Linkedid)."""
    async with asyncio.timeout(timeout_s):  # another process: poll its CLI
        while True:
            for line in (await asterisk.cli("core show channels concise")).splitlines():
                fields = line.split("!")
                if fields[0].startswith("PJSIP/trunk-") and fields[4] == "Up":
                    return fields[0], fields[-1]
            await asyncio.sleep(0.2)


async def _hits(perezvon: Service, query: str, linkedid: str, count: int, timeout_s: float = 180) -> list[Any]:
    """Search hits in this call, once `count` of its recordings have been transcribed (the model loads first)."""
    async with asyncio.timeout(timeout_s):
        while True:
            found = [h for h in (await perezvon.get_json(f"/api/v1/search/transcripts?q={query}"))["items"]
                     if h["call"] == linkedid]
            if len({h["recording_id"] for h in found}) >= count:
                return found
            await asyncio.sleep(0.5)


async def test_the_customers_words_are_recorded_transcribed_searchable_and_link_the_order(
        asterisk: Asterisk, perezvon: Service, phones: Phones, workdir: Path) -> None:
    order_id = await _order(perezvon, "10234")
    speech = await alaw_speech(SPEECH / "ru_order_digits.wav", workdir)
    phone = await phones.start("101", PhoneBehaviour(mode="answer", answer_ms=500))
    call = await call_in(asterisk, InboundCall(caller=CALLER, mode="hangup", talk_ms=10_000, speech=speech), workdir)
    await call.wait_event("answered")
    channel, linkedid = await _trunk_channel(asterisk)
    rec = asterisk.scratch.values.recordings_dir
    await asterisk.cli(f"mixmonitor start {channel} {workdir}/sides-mixed.wav,r({rec}/{linkedid}-in.wav)"
                       f"t({rec}/{linkedid}-out.wav)")
    assert await call.finish(60) == 0, call.sipp.describe()
    await phone.wait_event("other side hung up")

    [record] = await wait_for_calls(perezvon, "+" + CALLER)
    assert record["linkedid"] == linkedid and record["outcome"] == "answered", record
    recorded = await wait_for_recording_state(perezvon, linkedid)
    kinds = {r["kind"]: r for r in recorded["recordings"]}
    assert set(kinds) == {"mixed", "customer", "operator", "stereo"}, recorded
    seconds = {}
    for kind, item in kinds.items():
        audio = await admin_download(perezvon, item["id"])
        with wave.open(io.BytesIO(audio)) as wav:
            assert wav.getframerate() == 8000 and wav.getnchannels() == (2 if kind == "stereo" else 1), kind
            seconds[kind] = wav.getnframes() / 8000
    # Asterisk writes a frame only when audio comes: once the phrase (7.4 s) is over and nobody sends RTP,
    # the files stop growing, so they hold the phrase, not the whole talk time.
    assert all(6.5 <= s <= record["talk_s"] + 1.0 for s in seconds.values()), (seconds, record["talk_s"])

    stereo = await admin_download(perezvon, kinds["stereo"]["id"])
    first, second = _channels(stereo)
    received = _mono(await admin_download(perezvon, kinds["customer"]["id"]))
    sent = _mono(await admin_download(perezvon, kinds["operator"]["id"]))
    # The two sides differ (the customer's phrase is louder than the phone's pcap clip), and each one-side file
    # is one of the stereo channels: r() what the channel heard (the customer), t() what it was sent.
    louder, quieter = _loudness(first), _loudness(second)
    assert louder > 1.3 * quieter, (louder, quieter)
    assert abs(_loudness(received) - louder) <= 0.2 * louder, (_loudness(received), louder)
    assert abs(_loudness(sent) - quieter) <= 0.2 * quieter, (_loudness(sent), quieter)

    [hit] = await _hits(perezvon, "заказ", linkedid, count=1)
    assert (hit["recording_id"], hit["speaker"]) == (kinds["stereo"]["id"], "customer"), hit
    assert re.search(r"10[\s,]?234", hit["text"]), hit
    [linked] = await wait_for_calls(perezvon, "+" + CALLER)
    assert linked["order_id"] == order_id, linked  # the order the customer named
