"""Acting on a finished transcript: link the call to the order it names, alert on keywords, propose promised
follow-ups. Each is once per transcript, whoever runs it and however often (unique causes and keys).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import tzinfo

from crm.database import Pool
from crm.phones import format_phone
from crm.transcripts.data import Claimed
from crm.transcripts.insights import find_keywords, find_promises
from recordings.transcription import Transcript, find_order_numbers


@dataclass(frozen=True)
class Findings:
    #: Order numbers spoken that exist as orders (the first links the call when it had no order).
    orders: list[str]
    keywords: list[str]
    alert_id: int | None
    suggestion_ids: list[int]


async def existing_orders(pool: Pool, numbers: Sequence[str]) -> list[str]:
    if not numbers:
        return []
    found = {r["number"] for r in await pool.fetch("SELECT number FROM orders WHERE number = ANY($1)",
                                                   list(numbers))}
    return [n for n in numbers if n in found]


async def link_order(pool: Pool, claimed: Claimed, number: str) -> None:
    """The call (and its recording) belong to the order spoken of, unless the call already had one."""
    order_id = await pool.fetchval("SELECT id FROM orders WHERE number = $1", number)
    await pool.execute("UPDATE calls SET order_id = $2 WHERE id = $1 AND order_id IS NULL", claimed.call_id, order_id)
    await pool.execute("UPDATE recordings SET order_id = $2 WHERE id = $1 AND order_id IS NULL",
                       claimed.recording_id, order_id)


async def raise_keyword_alert(pool: Pool, claimed: Claimed, keywords: list[str]) -> int | None:
    caller = await pool.fetchval("SELECT coalesce(customer_e164, caller) FROM calls WHERE id = $1", claimed.call_id)
    who = format_phone(caller) if caller else "неизвестный номер"
    heard = ", ".join(f"«{k}»" for k in keywords)
    alert_id: int | None = await pool.fetchval(
        "INSERT INTO alerts (kind, message, call_id, cause) VALUES ('keyword', $1, $2, $3) "
        "ON CONFLICT (cause) WHERE cause IS NOT NULL DO NOTHING RETURNING id",
        f"В разговоре прозвучало {heard}: {who}"[:500], claimed.call_id, f"keyword:{claimed.transcript_id}")
    return alert_id


async def suggest_follow_ups(pool: Pool, claimed: Claimed, transcript: Transcript, tz: tzinfo) -> list[int]:
    operator_said = [s.text for s in transcript.segments if s.speaker in (None, "operator")]
    ids: list[int] = []
    for promise in find_promises(operator_said, claimed.call_started_at, tz):
        suggestion_id = await pool.fetchval(
            "INSERT INTO task_suggestions (transcript_id, call_id, manager_id, title, phrase, due_at) "
            "VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (transcript_id, phrase) DO NOTHING RETURNING id",
            claimed.transcript_id, claimed.call_id, claimed.call_manager_id,
            f"Обещали клиенту: «{promise.phrase}»"[:300], promise.phrase, promise.due_at)
        if suggestion_id is not None:
            ids.append(suggestion_id)
    return ids


async def act_on(pool: Pool, claimed: Claimed, transcript: Transcript, keywords: list[str], tz: tzinfo) -> Findings:
    orders = await existing_orders(pool, find_order_numbers(transcript.text))
    if orders:
        await link_order(pool, claimed, orders[0])
    heard = find_keywords(transcript.text, keywords)
    alert_id = await raise_keyword_alert(pool, claimed, heard) if heard else None
    return Findings(orders, heard, alert_id, await suggest_follow_ups(pool, claimed, transcript, tz))
