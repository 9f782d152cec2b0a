"""The hub's fan-out rules and the pop's bounds, without a network."""

from __future__ import annotations

import asyncio
import json

from web.live.bus import decode, encode
from web.live.hub import SESSION_ENDED, Audience, LiveClient, LiveHub
from web.live.pop_payload import bounded, fit


def _client(manager_id: int, *, supervisor: bool = False, session: str = "s", size: int = 8) -> LiveClient:
    return LiveClient(manager_id=manager_id, supervisor=supervisor, session_hash=session,
                      queue=asyncio.Queue(size))


def test_a_message_reaches_only_its_audience() -> None:
    hub = LiveHub()
    anna, boris, head = _client(1), _client(2), _client(3, supervisor=True)
    for client in (anna, boris, head):
        hub.add(client)
    assert hub.deliver(Audience(frozenset({1})), {"type": "pop"}) == 1
    assert hub.deliver(Audience(supervisors=True), {"type": "calls.changed"}) == 1
    assert [anna.queue.qsize(), boris.queue.qsize(), head.queue.qsize()] == [1, 0, 1]


def test_a_slow_tab_is_dropped_and_the_others_still_get_everything() -> None:
    hub = LiveHub()
    slow, fast = _client(1, size=2), _client(1, size=1000)
    hub.add(slow)
    hub.add(fast)
    for n in range(100):
        hub.deliver(Audience(frozenset({1})), {"type": "pop", "n": n})
    assert slow.closed.is_set() and slow.close_reason == "too slow"
    assert fast.queue.qsize() == 100 and not fast.closed.is_set()
    assert hub.stats.dropped_slow == 1


def test_session_ended_closes_that_session_or_every_session_of_the_manager() -> None:
    hub = LiveHub()
    tab_a, tab_b, colleague = _client(1, session="a"), _client(1, session="b"), _client(2, session="c")
    for client in (tab_a, tab_b, colleague):
        hub.add(client)
    hub.deliver(Audience(frozenset({1})), {"type": SESSION_ENDED, "sessions": ["a"]})
    assert [tab_a.closed.is_set(), tab_b.closed.is_set()] == [True, False]
    hub.deliver(Audience(frozenset({1})), {"type": SESSION_ENDED, "sessions": []})
    assert tab_b.closed.is_set() and not colleague.closed.is_set()
    assert tab_b.queue.empty()  # a control message is never sent to the page


def test_bus_payloads_round_trip_and_garbage_is_ignored() -> None:
    audience = Audience(frozenset({5, 7}), supervisors=True)
    assert decode(encode(audience, {"type": "pop"})) == (audience, {"type": "pop"})
    for garbage in ["", "{", "[]", '{"to": 1, "message": {}}', json.dumps({"to": {"managers": ["x"]}, "message": {}})]:
        decoded = decode(garbage)
        assert decoded is None or decoded[0].managers == frozenset()


def test_free_text_is_bounded_and_stripped_of_control_characters() -> None:
    assert bounded("a\x00b\x1b[2Jc", 80) == "a b [2Jc"
    assert bounded("Я" * 10_000, 80) == "Я" * 79 + "…"


def test_fit_empties_the_least_useful_lists_first() -> None:
    message = {"type": "pop", "notes": ["n" * 3000], "calls": ["c" * 3000], "open_orders": ["o" * 100]}
    fitted = fit(message, limit=2000)
    assert fitted["notes"] == [] and fitted["calls"] == [] and fitted["open_orders"] == ["o" * 100]
