"""Helpers for the recordings tests: WAV files as MixMonitor writes them, calls in the database, a clock.

Files are real files in the test's temporary directories; calls are written through crm.calls as the
call recorder writes them; time is a `Clock` the test moves (no sleeps), handed to the store.
"""

from __future__ import annotations

import math
import os
import struct
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from crm import calls, customers, orders
from crm.calls import CallEnd, CallStart, LegEvent
from crm.customers import CustomerInput
from crm.database import Pool
from crm.models import CallDirection
from crm.orders import OrderInput
from recordings.settings import RecordingSettings
from recordings.store import RecordingStore
from recordings.wav_check import wav_header

RATE = 8000
DID = "74951234501"


def tone(seconds: float, rate: int = RATE, channels: int = 1) -> bytes:
    """16-bit little-endian samples of a 440 Hz tone (the same on every channel)."""
    frames = int(seconds * rate)
    samples = [int(3000 * math.sin(2 * math.pi * 440 * n / rate)) for n in range(frames) for _ in range(channels)]
    return struct.pack(f"<{len(samples)}h", *samples)


def write_wav(path: Path, seconds: float, *, rate: int = RATE, channels: int = 1, declared: int | None = None,
              age_s: float = 60.0) -> bytes:
    """A PCM WAV of `seconds` of tone; `declared` puts another data size in the header (0: never completed,
    larger: truncated). Its mtime is `age_s` in the past, so it counts as settled. Returns the bytes."""
    audio = tone(seconds, rate, channels)
    header = wav_header(channels=channels, sample_rate=rate, bits=16, data_bytes=len(audio) if declared is None
                        else declared)
    if declared == 0:
        header = header[:4] + struct.pack("<I", 0) + header[8:]
    data = header + audio
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    age(path, age_s)
    return data


def age(path: Path, seconds: float) -> None:
    """Set the file's mtime `seconds` before now (the registration waits for files that just changed)."""
    when = datetime.now(UTC).timestamp() - seconds
    os.utime(path, (when, when), follow_symlinks=False)


@dataclass
class Clock:
    now: datetime = field(default_factory=lambda: datetime.now(UTC))

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def make_store(tmp_path: Path, clock: Clock, **settings: Any) -> RecordingStore:
    store = RecordingStore.from_settings(RecordingSettings(**settings), tmp_path / "data", clock)
    store.ensure_dirs()
    return store


async def answered_call(pool: Pool, linkedid: str, *, caller: str = "79161110001", ext: str = "101",
                        talk_s: float = 3.0, ended_at: datetime | None = None,
                        direction: CallDirection = "inbound") -> None:
    """A call answered by `ext` that ended `ended_at` (default: a minute ago) after `talk_s` of talk."""
    end = ended_at or datetime.now(UTC) - timedelta(minutes=1)
    start = end - timedelta(seconds=talk_s + 2)
    inbound = direction == "inbound"
    await calls.record_call_started(pool, CallStart(linkedid, start, direction,
                                                    caller if inbound else ext, DID if inbound else caller))
    channel = f"PJSIP/{ext}-00000001"
    await calls.record_leg(pool, LegEvent(linkedid, start, channel, ext, None, "ringing"))
    await calls.record_leg(pool, LegEvent(linkedid, start + timedelta(seconds=2), channel, ext, None, "answered",
                                          ring_s=2.0))
    await calls.record_call_ended(pool, CallEnd(
        linkedid, end, direction, "answered", "", caller if not inbound else ext, ext,
        caller, "customer", None, 2.0, talk_s))


async def missed_call(pool: Pool, linkedid: str, *, caller: str = "79161110002", ext: str = "101",
                      ended_at: datetime | None = None) -> None:
    end = ended_at or datetime.now(UTC) - timedelta(minutes=1)
    start = end - timedelta(seconds=8)
    await calls.record_call_started(pool, CallStart(linkedid, start, "inbound", caller, DID))
    channel = f"PJSIP/{ext}-00000002"
    await calls.record_leg(pool, LegEvent(linkedid, start, channel, ext, None, "ringing"))
    await calls.record_call_ended(pool, CallEnd(linkedid, end, "inbound", "missed", "no_answer", None, None, caller,
                                                "pbx", None, 8.0, 0.0))


async def customer_with_order(pool: Pool, phone: str, manager_id: int | None = None,
                              number: str = "10900") -> tuple[int, int]:
    """(customer id, open order id) for a customer with this phone."""
    customer = await customers.create_customer(pool, CustomerInput(name="Петрова Анна", phones=(phone,),
                                                                   responsible_manager_id=manager_id))
    order = await orders.create_order(pool, OrderInput(number=number, customer_id=customer.id, total="1990"), None)
    await pool.execute("UPDATE orders SET created_at = now() - interval '1 day' WHERE id = $1", order.id)
    return customer.id, order.id
