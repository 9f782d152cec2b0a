"""Every sipp scenario of the tier is well-formed XML once its `@name@` placeholders are filled (sipp only
says "Invalid XML in scenario"), and every jump target exists."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from tests.pbx.sipp_process import _PLACEHOLDER, SCENARIOS, render_scenario

FILES = sorted(SCENARIOS.glob("*.xml"))
SAMPLE = {"on_invite": "ringing", "answer_ms": "500", "talk_ms": "2000", "on_ring_timeout": "answer",
          "on_ringing": "progress", "cancel_ms": "3000", "after_talk": "refer", "refer_to": "102",
          "refer_quiet_ms": "300", "audio": "<exec play_pcap_audio=\"/usr/share/sip-tester/g711a.pcap\" />",
          "answer_audio": "<exec play_pcap_audio=\"/usr/share/sip-tester/dtmf_2833_1.pcap\" />"}


def test_there_are_scenarios() -> None:
    assert {path.name for path in FILES} >= {"phone_register.xml", "phone_inbound.xml", "phone_unregister.xml",
                                              "phone_call_out.xml", "provider_call_in.xml", "provider_answer.xml"}


@pytest.mark.parametrize("path", FILES, ids=lambda path: path.name)
def test_scenario_is_well_formed(path: Path, tmp_path: Path) -> None:
    placeholders = set(_PLACEHOLDER.findall(path.read_text(encoding="utf-8")))
    assert placeholders <= set(SAMPLE), placeholders - set(SAMPLE)
    root = ET.parse(render_scenario(path.name, SAMPLE, tmp_path, "check")).getroot()
    assert root.tag == "scenario"
    labels = {node.get("id") for node in root.iter("label")}
    targets = {node.get(attr) for node in root.iter() for attr in ("next", "ontimeout") if node.get(attr)}
    # Jump targets that are placeholders can be any of their values: every label they may name must exist.
    text = path.read_text(encoding="utf-8")
    for name in re.findall(r'(?:next|ontimeout)="@([a-z_]+)@"', text):
        targets |= {"on_invite": {"ringing", "busy"}, "on_ring_timeout": {"answer", "unavailable"},
                    "on_ringing": {"progress", "ring_timer"}, "after_talk": {"hangup", "refer"}}[name]
    assert targets <= labels, targets - labels
