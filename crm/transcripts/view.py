"""Reading transcripts: one with its segments (under the recording's player), and full-text search.

Who may read a transcript is who may play its recording (crm/recordings.py `PLAYABLE`): supervisors and
admins all; an operator their own calls and their customers'. Search runs PostgreSQL full text over the
segments in both the `russian` and the `english` configuration, so «возврата» finds «возврат» and
"refund" finds "refunds"; each hit is one segment, linking to the call at that moment.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from crm.database import Pool
from crm.errors import InvalidInput, NotFound
from crm.models import Manager
from crm.recordings import PLAYABLE

QUERY_MAX = 200


@dataclass(frozen=True)
class SegmentView:
    position: int
    start_s: float
    end_s: float
    speaker: str | None
    text: str


@dataclass(frozen=True)
class TranscriptView:
    id: int
    recording_id: int
    call_id: int
    linkedid: str
    call_started_at: datetime
    direction: str
    caller: str
    customer_id: int | None
    customer_name: str | None
    order_id: int | None
    order_number: str | None
    state: str
    error: str
    language: str
    engine: str
    orders_mentioned: tuple[str, ...]
    keywords_found: tuple[str, ...]
    segments: tuple[SegmentView, ...]


SELECT = """
SELECT t.*, r.id AS rec_id, c.linkedid, c.started_at AS call_started_at, c.direction, c.caller,
       coalesce(r.customer_id, c.customer_id) AS cust_id, cu.name AS customer_name,
       coalesce(c.order_id, r.order_id) AS ord_id, o.number AS order_number
FROM transcripts t JOIN recordings r ON r.id = t.recording_id JOIN calls c ON c.id = t.call_id
LEFT JOIN customers cu ON cu.id = coalesce(r.customer_id, c.customer_id)
LEFT JOIN orders o ON o.id = coalesce(c.order_id, r.order_id)
"""


def _scope(viewer: Manager, param: str) -> str:
    return "" if viewer.sees_everything else " AND " + PLAYABLE.format(p=param)


async def get(pool: Pool, transcript_id: int, viewer: Manager) -> TranscriptView:
    args: list[object] = [transcript_id] if viewer.sees_everything else [transcript_id, viewer.id]
    row = await pool.fetchrow(SELECT + " WHERE t.id = $1" + _scope(viewer, "$2"), *args)
    if row is None:
        raise NotFound(f"no transcript {transcript_id}")
    segments = await pool.fetch("SELECT position, start_s, end_s, speaker, text FROM transcript_segments "
                                "WHERE transcript_id = $1 ORDER BY start_s, position", transcript_id)
    return TranscriptView(
        row["id"], row["rec_id"], row["call_id"], row["linkedid"], row["call_started_at"], row["direction"],
        row["caller"], row["cust_id"], row["customer_name"], row["ord_id"], row["order_number"], row["state"],
        row["error"], row["language"], row["engine"], tuple(row["orders_mentioned"]), tuple(row["keywords_found"]),
        tuple(SegmentView(s["position"], s["start_s"], s["end_s"], s["speaker"], s["text"]) for s in segments))


async def of_call(pool: Pool, recording_id: int) -> int | None:
    """The transcript to show for a recording: its own, else that of another recording of the same call."""
    found: int | None = await pool.fetchval(
        "SELECT t.id FROM recordings r JOIN transcripts t ON t.call_id = r.call_id WHERE r.id = $1 "
        "ORDER BY t.recording_id = r.id DESC, t.id LIMIT 1", recording_id)
    return found


@dataclass(frozen=True)
class Hit:
    transcript_id: int
    recording_id: int
    linkedid: str
    call_started_at: datetime
    customer_id: int | None
    customer_name: str | None
    order_number: str | None
    start_s: float
    speaker: str | None
    text: str
    #: The segment with the matched words between ⟦ and ⟧ (plain text: `marked_parts` splits it for the page).
    highlighted: str


SEARCH = """
WITH q AS (SELECT websearch_to_tsquery('russian', $1) || websearch_to_tsquery('english', $1) AS query)
SELECT t.id, t.recording_id, c.linkedid, c.started_at, cu.id AS cust_id, cu.name AS customer_name,
       o.number AS order_number, s.start_s, s.speaker, s.text,
       ts_headline('russian', s.text, q.query, 'StartSel=⟦, StopSel=⟧, HighlightAll=true') AS highlighted
FROM q, transcript_segments s
JOIN transcripts t ON t.id = s.transcript_id
JOIN recordings r ON r.id = t.recording_id
JOIN calls c ON c.id = t.call_id
LEFT JOIN customers cu ON cu.id = coalesce(r.customer_id, c.customer_id)
LEFT JOIN orders o ON o.id = coalesce(c.order_id, r.order_id)
WHERE s.search @@ q.query AND ($2::timestamptz IS NULL OR c.started_at >= $2)
"""


async def search(pool: Pool, text: str, viewer: Manager, *, since: datetime | None = None, limit: int = 50,
                 offset: int = 0) -> list[Hit]:
    """Segments saying `text` (web-search syntax: words, "a phrase", -not), newest call first."""
    query = text.strip()
    if not query:
        raise InvalidInput("q: say what to look for")
    if len(query) > QUERY_MAX:
        raise InvalidInput(f"q: at most {QUERY_MAX} characters")
    args: list[object] = [query, since]
    scope = ""
    if not viewer.sees_everything:
        args.append(viewer.id)
        scope = " AND " + PLAYABLE.format(p="$3")
    args += [min(max(limit, 1), 200), max(offset, 0)]
    n = len(args)
    rows = await pool.fetch(SEARCH + scope + f" ORDER BY c.started_at DESC, s.start_s LIMIT ${n - 1} OFFSET ${n}",
                            *args)
    return [Hit(r["id"], r["recording_id"], r["linkedid"], r["started_at"], r["cust_id"], r["customer_name"],
                r["order_number"], r["start_s"], r["speaker"], r["text"], r["highlighted"]) for r in rows]


def marked_parts(highlighted: str) -> list[tuple[str, bool]]:
    """The headline as (text, matched) pieces, so a template escapes each and marks the matched ones."""
    parts: list[tuple[str, bool]] = []
    for n, chunk in enumerate(highlighted.replace("⟧", "⟦").split("⟦")):
        if chunk:
            parts.append((chunk, n % 2 == 1))
    return parts
