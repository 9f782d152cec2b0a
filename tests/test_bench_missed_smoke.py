"""The missed-calls report benchmark still runs (data, the report, the JSON line) on a tiny history.
Figures are for BENCHMARKS.md, never assertions."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_the_missed_report_bench_runs_and_reports() -> None:
    done = subprocess.run([sys.executable, "bench/missed_report.py", "--calls", "3000", "--days", "40", "--runs", "2"],
                          cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert (result["bench"], result["calls"], result["runs"]) == ("missed_report", 3000, 2)
    assert result["report_p50_ms"] > 0 and result["report_p99_ms"] >= result["report_p50_ms"]
