"""Every sipp scenario of the tier is well-formed XML (sipp only says "Invalid XML in scenario"), and every
variable it reads from the command line is declared `<Global>` (sipp refuses `-set` otherwise)."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from tests.pbx.sipp_process import SCENARIOS

FILES = sorted(SCENARIOS.glob("*.xml"))


def test_there_are_scenarios() -> None:
    assert {path.name for path in FILES} >= {"phone_register.xml", "phone_inbound.xml", "phone_unregister.xml",
                                              "phone_call_out.xml", "provider_call_in.xml", "provider_answer.xml"}


@pytest.mark.parametrize("path", FILES, ids=lambda path: path.name)
def test_scenario_is_well_formed(path: Path) -> None:
    root = ET.parse(path).getroot()
    assert root.tag == "scenario"
    declared = {name for node in root.iter("Global") for name in node.get("variables", "").split(",") if name}
    read_by_todouble = {node.get("variable") for node in root.iter("todouble")}
    text = path.read_text(encoding="utf-8")
    assert read_by_todouble <= declared | {None}, path.name
    for name in declared:
        assert len(re.findall(rf"\b{name}\b", text)) >= 2, f"{name}: sipp wants each variable referenced twice"
