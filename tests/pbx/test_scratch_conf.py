"""The tier loads the SHIPPED configuration: the scratch copy differs from asterisk-conf/ only in the
values the README says to change (CHANGE-ME), and each of those is changed. No Asterisk needed."""

from __future__ import annotations

import difflib
import re
from pathlib import Path

from tests.pbx.scratch_conf import SHIPPED, ScratchValues, edits_for, rewrite


def _values(tmp_path: Path) -> ScratchValues:
    return ScratchValues(sip_port=15060, ami_port=15038, rtp_start=20000, rtp_end=20199, provider_port=25060,
                         agi_port=14573, recordings_dir=tmp_path / "recordings", cdr_db_host=tmp_path / "pg")


def test_only_the_readme_values_change(tmp_path: Path) -> None:
    edits = edits_for(_values(tmp_path))
    changed: list[str] = []
    for path in sorted(SHIPPED.glob("*.conf")):
        shipped = path.read_text(encoding="utf-8")
        scratch, applied = rewrite(path.name, shipped, edits)
        diff = [line for line in difflib.unified_diff(shipped.splitlines(), scratch.splitlines(), lineterm="", n=0)
                if line.startswith(("+", "-")) and not line.startswith(("+++", "---"))]
        # One removed and one added line per applied edit, and nothing else.
        assert len(diff) == 2 * len(applied), (path.name, diff)
        changed += [f"{a.file} [{a.section}] {a.key}: {a.old} -> {a.new}" for a in applied]
        # No CHANGE-ME value is left (comments may still say CHANGE-ME; values may not).
        values = [line for line in scratch.splitlines() if not line.lstrip().startswith(";")]
        assert not [line for line in values if "CHANGE-ME" in line], path.name
    assert len(changed) == 25, "\n".join(changed)


def test_every_change_me_value_in_the_shipped_files_has_an_edit(tmp_path: Path) -> None:
    marked = set()
    for path in sorted(SHIPPED.glob("*.conf")):
        section = ""
        for line in path.read_text(encoding="utf-8").splitlines():
            header = re.match(r"^\[([^\]]+)\]", line)
            if header:
                section = header.group(1)
            elif "CHANGE-ME" in line and not line.lstrip().startswith(";"):
                marked.add((path.name, section, re.split(r"\s*=>?\s*", line, maxsplit=1)[0]))
    edited = {(e.file, e.section, e.key) for e in edits_for(_values(tmp_path))}
    assert marked <= edited, marked - edited
