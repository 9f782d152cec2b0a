"""The screen-pop benchmark still runs end to end (the real `perezvon serve`, logins, websockets, pops) on a
tiny load, and ends with its JSON line. Figures are for BENCHMARKS.md, never assertions."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_the_screen_pop_bench_runs_and_reports() -> None:
    done = subprocess.run([sys.executable, "bench/screen_pop.py", "--calls", "4", "--clients", "2", "--runs", "1",
                           "--warmup", "1"], cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert (result["bench"], result["calls"], result["clients"]) == ("screen_pop", 4, 2)
    assert result["pop_p50_ms"] > 0 and result["pop_p99_ms"] >= result["pop_p50_ms"] and result["peer_p50_ms"] > 0
