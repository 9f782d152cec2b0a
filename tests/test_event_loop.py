"""The service's event loop: uvloop when installed (it is a dependency on Linux)."""

from __future__ import annotations

import asyncio

import uvloop

from web import event_loop


def test_run_uses_uvloop_and_returns_the_result() -> None:
    async def which_loop() -> str:
        await asyncio.sleep(0)
        return type(asyncio.get_running_loop()).__module__

    assert event_loop.loop_factory() is uvloop.new_event_loop
    assert event_loop.run(which_loop()).startswith("uvloop")


async def test_async_tests_run_on_the_service_loop() -> None:
    """The suite's async tests share the service's loop (tests/conftest.py), so loop-specific bugs show."""
    assert type(asyncio.get_running_loop()).__module__.startswith("uvloop")
