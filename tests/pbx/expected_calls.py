"""Ground truth for a recorded scenario, checked against the live record and kept in the capture's sidecar.

A tier scenario states what happened (`expected`, by construction: the test drove the call there) in the
API's own field names; `assert_record_matches` checks perezvon's live record against it, and the same
dict goes into the capture's sidecar, where the fast suite's replay (tests/test_captures_perezvon.py)
checks the tracker's facts against it. One statement of the truth, two checks.
"""

from __future__ import annotations

from typing import Any

#: Call fields compared exactly (when the expectation names them).
EXACT = ("direction", "outcome", "reason", "answered_by", "operator_extension", "hung_up_by", "caller_name",
         "caller_presentation", "queue", "queue_position")
TRANSFER_FIELDS = ("kind", "from_extension", "target", "taken_by", "result")


def assert_record_matches(record: dict[str, Any], expected: dict[str, Any]) -> None:
    """Every expected field equals the record's; `transfers` compared in order on TRANSFER_FIELDS."""
    for key in EXACT:
        if key in expected:
            assert record[key] == expected[key], (key, record)
    if "transfers" in expected:
        got = [{k: t[k] for k in TRANSFER_FIELDS} for t in record["transfers"]]
        assert got == expected["transfers"], (got, record)
    if "legs" in expected:
        got_legs = sorted((leg["extension"] or leg["number"], leg["result"]) for leg in record["legs"])
        assert got_legs == sorted(tuple(pair) for pair in expected["legs"]), (got_legs, record)
