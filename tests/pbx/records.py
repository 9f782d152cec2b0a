"""Reading back what a call left behind: perezvon's call record (`GET /api/v1/calls`) and Asterisk's CDR.

Both are written a moment after the last BYE (perezvon when the AMI Hangup events arrive, cdr_custom
when the CDR is finalised), so the readers poll with a deadline for an observable end instead of sleeping.
"""

from __future__ import annotations

import asyncio
import csv
import io
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from tests.pbx.service_process import Service

#: cdr_custom.conf's column order (asterisk-conf/cdr_custom.conf).
CDR_COLUMNS = ("linkedid", "uniqueid", "start", "answer", "end", "clid", "src", "dst", "dcontext", "channel",
               "dstchannel", "lastapp", "lastdata", "duration", "billsec", "disposition", "userfield", "sequence")

Call = dict[str, Any]


def _finished(call: Call) -> bool:
    return call.get("ended_at") is not None and call.get("outcome") is not None


async def wait_for_calls(service: Service, phone: str | None = None, count: int = 1, timeout_s: float = 30, *,
                         since: datetime | None = None, where: Callable[[Call], bool] = lambda call: True,
                         done: Callable[[Call], bool] = _finished) -> list[Call]:
    """The calls `GET /api/v1/calls` lists (for `phone`, and/or started `since`, and matching `where`),
    once `count` of them are finished (`done`). A number that is no phone (an anonymous caller) is found
    with `since` and `where` instead."""
    query = {key: value for key, value in (("phone", phone), ("since", since and since.isoformat())) if value}
    deadline = time.monotonic() + timeout_s
    while True:
        page = await service.get_json(f"/api/v1/calls?{urlencode(query)}")
        items: list[Call] = [call for call in page.get("items", []) if where(call)] if isinstance(page, dict) else []
        if len([call for call in items if done(call)]) >= count:
            return items
        if time.monotonic() > deadline:
            raise AssertionError(f"no {count} finished call(s) for {query} within {timeout_s} s; last answer: {page}")
        await asyncio.sleep(0.2)


def read_cdr(path: Path) -> list[dict[str, str]]:
    """Every row cdr_custom has written so far."""
    if not path.exists():
        return []
    text = path.read_text(encoding="utf-8", errors="replace")
    return [dict(zip(CDR_COLUMNS, row, strict=False)) for row in csv.reader(io.StringIO(text)) if row]


async def wait_for_cdr(path: Path, linkedid: str, timeout_s: float = 15) -> list[dict[str, str]]:
    """The CDR rows of one call (by Linkedid), once there is at least one."""
    deadline = time.monotonic() + timeout_s
    while True:
        rows = [row for row in read_cdr(path) if row["linkedid"] == linkedid]
        if rows:
            return rows
        if time.monotonic() > deadline:
            raise AssertionError(f"no CDR row for {linkedid} in {path} within {timeout_s} s")
        await asyncio.sleep(0.1)


def read_queue_log(path: Path) -> list[list[str]]:
    """app_queue's queue_log rows: `time|callid|queue|agent|event|data...`, split on "|"."""
    if not path.exists():
        return []
    return [line.split("|") for line in path.read_text(encoding="utf-8", errors="replace").splitlines() if line]


async def wait_for_queue_events(path: Path, callid: str, until: str, timeout_s: float = 15) -> list[list[str]]:
    """The queue_log rows of one caller (callid: the caller channel's Uniqueid, the Linkedid of an inbound
    call), once one of them is the event `until` (e.g. COMPLETECALLER, ABANDON, EXITWITHTIMEOUT)."""
    deadline = time.monotonic() + timeout_s
    while True:
        rows = [row for row in read_queue_log(path) if len(row) > 4 and row[1] == callid]
        if any(row[4] == until for row in rows):
            return rows
        if time.monotonic() > deadline:
            raise AssertionError(f"no {until} for {callid} in {path} within {timeout_s} s; rows: {rows}")
        await asyncio.sleep(0.1)


async def wait_for_recording_state(service: Service, linkedid: str, timeout_s: float = 45) -> Call:
    """The call's record once perezvon has registered its recording(s) or given up on them (the registration
    job waits for MixMonitor to close the file and for it to settle a few seconds)."""
    deadline = time.monotonic() + timeout_s
    while True:
        page = await service.get_json("/api/v1/calls?limit=200")
        found = [call for call in page.get("items", []) if call.get("linkedid") == linkedid]
        if found and found[0].get("recording_state") in ("registered", "missing", "corrupt"):
            call: Call = found[0]
            return call
        if time.monotonic() > deadline:
            raise AssertionError(f"call {linkedid}: no registered recording within {timeout_s} s; last: {found}")
        await asyncio.sleep(0.3)
