"""Ctrl-C and SIGTERM for one `perezvon` command, from its first line to its last.

A signal must never leave half the service behind: systemd and Docker stop a service with SIGTERM,
often while it is still starting. Until the command says it is serving, a signal cancels the
command's task, so every `finally` on the way out still runs (above all the one that stops the
embedded PostgreSQL). While it serves, a signal asks for an orderly stop instead. Once the command
is on its way out, further signals are ignored: a second Ctrl-C must not cut the cleanup short.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Iterator
from types import TracebackType

log = logging.getLogger(__name__)

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class StopSignals:
    """Install with `with StopSignals() as signals:` inside the command's main coroutine."""

    def __init__(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._task = asyncio.current_task()
        self._stop: asyncio.Event | None = None
        self._leaving = False
        #: The first signal received, if any (its number gives the exit status 128 + n).
        self.received: int | None = None

    def __enter__(self) -> StopSignals:
        for sig in SIGNALS:
            self._loop.add_signal_handler(sig, self._on_signal, sig)
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        for sig in SIGNALS:
            self._loop.remove_signal_handler(sig)

    def _on_signal(self, sig: int) -> None:
        if self.received is None:
            self.received = sig
        if self._leaving:
            log.info("signal %d while stopping: ignored, cleanup goes on", sig)
            return
        if self._stop is not None:
            self._stop.set()
            return
        self._leaving = True
        if self._task is not None:
            self._task.cancel()

    @contextlib.contextmanager
    def serving(self) -> Iterator[asyncio.Event]:
        """While inside, a signal sets the yielded event (an orderly stop) instead of cancelling."""
        stop = asyncio.Event()
        if self.received is not None:
            stop.set()
        self._stop = stop
        try:
            yield stop
        finally:
            self._stop = None
            self._leaving = True
