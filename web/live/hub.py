"""This instance's live tabs and who may receive what.

Every message names its audience (managers by id, and/or the supervisors' overview); the hub
hands it only to the tabs of those people. Each tab has a bounded queue drained by its own
websocket writer: a tab that does not keep up (a dead network, a frozen laptop) is dropped when
its queue is full, and the page reconnects and catches up from the snapshot, so one slow
client never delays the others.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger(__name__)

DEFAULT_QUEUE_SIZE = 256
SESSION_ENDED = "session.ended"
#: Why the hub closed a tab (the websocket turns each into its close code).
SESSION_ENDED_REASON = "session ended"
STOPPING_REASON = "server stopping"
TOO_SLOW_REASON = "too slow"


def session_hash(token: str) -> str:
    """How live messages name a session: never the token itself."""
    return hashlib.sha256(token.encode()).hexdigest()[:32]


@dataclass(frozen=True)
class Audience:
    """Who receives a message: these managers' tabs, and the supervisors' (and admins') when `supervisors`."""

    managers: frozenset[int] = frozenset()
    supervisors: bool = False

    def to_json(self) -> dict[str, Any]:
        return {"managers": sorted(self.managers), "supervisors": self.supervisors}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Audience:
        raw = data.get("managers", [])
        ids = frozenset(int(m) for m in raw if isinstance(m, int)) if isinstance(raw, list) else frozenset()
        return cls(managers=ids, supervisors=data.get("supervisors") is True)


@dataclass(eq=False)
class LiveClient:
    """One open tab: its user, its session (so logout closes it) and its outgoing queue."""

    manager_id: int
    supervisor: bool
    session_hash: str
    queue: asyncio.Queue[str] = field(default_factory=lambda: asyncio.Queue(DEFAULT_QUEUE_SIZE))
    #: Set when the hub drops the tab (too slow, session ended); the websocket then closes with `close_reason`.
    closed: asyncio.Event = field(default_factory=asyncio.Event)
    close_reason: str = ""

    def close(self, reason: str) -> None:
        if not self.closed.is_set():
            self.close_reason = reason
            self.closed.set()


@dataclass
class HubStats:
    clients: int = 0
    delivered: int = 0
    dropped_slow: int = 0


class LiveHub:
    """The local fan-out: `deliver` is synchronous and never waits on a client."""

    def __init__(self) -> None:
        self._clients: set[LiveClient] = set()
        self.stats = HubStats()

    @property
    def clients(self) -> int:
        return len(self._clients)

    def add(self, client: LiveClient) -> None:
        self._clients.add(client)
        self.stats.clients = len(self._clients)

    def remove(self, client: LiveClient) -> None:
        self._clients.discard(client)
        self.stats.clients = len(self._clients)

    def deliver(self, audience: Audience, message: Mapping[str, Any]) -> int:
        """Queue `message` for every tab of `audience`; returns how many tabs got it.

        A `session.ended` message is the hub's own: it closes the tabs of those sessions (or of all
        the audience's sessions when it names none) instead of being sent.
        """
        if message.get("type") == SESSION_ENDED:
            sessions = message.get("sessions")
            if isinstance(sessions, list) and sessions:
                self.end_sessions(str(s) for s in sessions)
            else:
                for manager_id in audience.managers:
                    self.end_manager(manager_id)
            return 0
        text: str | None = None
        count = 0
        for client in self._targets(audience):
            if client.closed.is_set():
                continue
            text = text or json.dumps(message, ensure_ascii=False, separators=(",", ":"))
            try:
                client.queue.put_nowait(text)
            except asyncio.QueueFull:
                self.stats.dropped_slow += 1
                log.warning("live tab of manager %d is %d messages behind: dropped (it reconnects and catches up)",
                            client.manager_id, client.queue.qsize())
                client.close(TOO_SLOW_REASON)
                continue
            count += 1
        self.stats.delivered += count
        return count

    def end_sessions(self, session_hashes: Iterable[str]) -> None:
        """Close the tabs of ended sessions (logout, logout everywhere, an admin's revoke)."""
        ended = set(session_hashes)
        for client in list(self._clients):
            if client.session_hash in ended:
                client.close(SESSION_ENDED_REASON)

    def close_all(self, reason: str) -> None:
        """Close every tab (the service is stopping: they reconnect to whichever instance is up)."""
        for client in list(self._clients):
            client.close(reason)

    def end_manager(self, manager_id: int) -> None:
        for client in list(self._clients):
            if client.manager_id == manager_id:
                client.close(SESSION_ENDED_REASON)

    def _targets(self, audience: Audience) -> list[LiveClient]:
        return [c for c in self._clients
                if c.manager_id in audience.managers or (audience.supervisors and c.supervisor)]
