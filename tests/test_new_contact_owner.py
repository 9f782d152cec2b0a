"""A contact made for an unknown caller becomes the customer of the operator who took the call (a setting)."""

from __future__ import annotations

from crm.database import Pool
from crm.routing import config as routing_config
from tests.calls_scenarios import inbound_answered, no_answer, record
from tests.conftest import MakeManager


async def _responsible(pool: Pool, phone: str) -> int | None:
    value = await pool.fetchval("SELECT c.responsible_manager_id FROM customers c JOIN customer_phones p "
                                "ON p.customer_id = c.id WHERE p.e164 = $1", phone)
    return None if value is None else int(value)


async def test_the_operator_who_took_the_call_gets_the_new_contact(pool: Pool, make_manager: MakeManager) -> None:
    anna = await make_manager("operator", extensions=("101",))
    await record(pool, inbound_answered(lid="1800000100.1", caller="79035551001", ext="101"))
    assert await _responsible(pool, "+79035551001") == anna.id
    # A missed call's new contact stays shared: nobody talked to them.
    await record(pool, no_answer(lid="1800000101.1", caller="79035551002"))
    assert await _responsible(pool, "+79035551002") is None


async def test_switched_off_new_contacts_stay_unassigned_and_known_ones_are_never_taken(
        pool: Pool, make_manager: MakeManager) -> None:
    await make_manager("operator", extensions=("101",))
    await routing_config.set_new_contacts_go_to_operator(pool, False)
    await record(pool, inbound_answered(lid="1800000102.1", caller="79035551003", ext="101"))
    assert await _responsible(pool, "+79035551003") is None
    await routing_config.set_new_contacts_go_to_operator(pool, True)
    await record(pool, inbound_answered(lid="1800000103.1", caller="79035551003", ext="101"))
    assert await _responsible(pool, "+79035551003") is None  # not made for this call: not taken over
