"""The event loop the service runs on: uvloop (libuv) where available, else asyncio's own.

The service is socket-bound (AMI, FastAGI, HTTP, PostgreSQL); uvloop does the same work with
less CPU per wake-up, which is what the router's per-call budget is made of (bench/route_latency.py).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    try:
        import uvloop
    except ImportError:  # a platform without uvloop wheels still runs, on asyncio's loop
        return None
    return uvloop.new_event_loop


def run(main: Coroutine[Any, Any, T]) -> T:
    """`asyncio.run`, on uvloop when it is installed."""
    with asyncio.Runner(loop_factory=loop_factory()) as runner:
        return runner.run(main)
