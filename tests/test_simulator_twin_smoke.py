"""The simulator-vs-Asterisk comparison (tests/pbx/simulator_twin.py) on recorded real Asterisk 22 calls.

The PBX tier compares live calls; here the same comparison runs in the fast suite on the shared
captures: the record a real capture leaves must equal the record the simulator's scenario leaves.
And the comparison must name a drift when there is one.
"""

from __future__ import annotations

from typing import Any

import pytest

from crm.database import Pool
from pbx_bridge.simulator.scenarios import CallParams
from tests.conftest import MakeManager
from tests.fake_ami_server import capture_after_login
from tests.pbx.simulator_twin import differences, record_of_bytes, simulated_record
from tests.tracker_helpers import ASTERISK22

OUR_CAPTURES = ASTERISK22.with_name("asterisk-22-perezvon")


@pytest.mark.parametrize(("capture", "scenario", "params"), [
    ("inbound_answered", "inbound_answered", CallParams(customer="79161110001", ring_s=2.0, talk_s=3.0)),
    ("inbound_busy", "inbound_busy", CallParams(customer="79161110004", ring_s=0.0)),
    ("inbound_ringall_two_operators", "inbound_ringall",
     CallParams(customer="79161110006", extensions=("101", "102"), answering="102", ring_s=3.0, talk_s=3.0)),
])
async def test_the_simulator_leaves_the_record_a_real_capture_leaves(
        pool: Pool, make_manager: MakeManager, capture: str, scenario: str, params: CallParams) -> None:
    await make_manager("operator", extensions=("101",))
    await make_manager("operator", extensions=("102",))
    real = await record_of_bytes(pool, capture_after_login(ASTERISK22 / f"{capture}.ami"))
    simulated = await simulated_record(pool, scenario, params)
    assert differences(real, simulated) == []


async def test_a_drift_is_named_field_by_field(pool: Pool, make_manager: MakeManager) -> None:
    await make_manager("operator", extensions=("101",))
    simulated = await simulated_record(pool, "inbound_answered", CallParams(customer="79161110001"))
    assert differences(simulated, simulated) == []
    drifted: dict[str, Any] = {**simulated, "hung_up_by": "operator", "talk_s": simulated["talk_s"] + 5,
                               "legs": [{**simulated["legs"][0], "result": "busy"}]}
    found = differences(simulated, drifted)
    assert len(found) == 3 and any(line.startswith("hung_up_by") for line in found), found


@pytest.mark.parametrize(("capture", "scenario", "customer"), [
    ("transfer_blind_ami", "inbound_blind_transfer", "79161110201"),
    ("pickup_group", "inbound_pickup", "79161110211"),
])
async def test_the_simulator_plays_transfers_and_pickups_as_our_captures_show(
        pool: Pool, make_manager: MakeManager, capture: str, scenario: str, customer: str) -> None:
    """Our own captures from the PBX tier (tests/fixtures/asterisk-22-perezvon): 101 takes the call,
    102 takes it over (a blind transfer, a pickup)."""
    await make_manager("operator", extensions=("101",))
    await make_manager("operator", extensions=("102",))
    real = await record_of_bytes(pool, capture_after_login(OUR_CAPTURES / f"{capture}.ami"))
    simulated = await simulated_record(pool, scenario, CallParams(
        customer=customer, extensions=("101",), colleague="102", ring_s=real["ring_s"], talk_s=real["talk_s"]))
    assert differences(real, simulated) == []
    assert (simulated["answered_by"], simulated["operator_extension"]) == (real["answered_by"], "102")
