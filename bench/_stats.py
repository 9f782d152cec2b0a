"""Helpers for CPU-bound benchmarks that need no database: one-core pinning, the machine, the JSON line.

`bench/common.py` serves the PostgreSQL benchmarks (its machine description asks the server for
its version, and importing it starts the database stack); a pure-Python benchmark such as
`bench/ami_throughput.py` only needs what is here. Nothing here asserts on time.
"""

from __future__ import annotations

import json
import os
import platform
import re
import sys
from pathlib import Path
from typing import Any


def pin_to_one_cpu(cpu: int | None = None) -> int | None:
    """Restrict this process to one CPU so a figure means "one core"; the CPU used, or None if not possible.

    Without `cpu` the highest CPU we may run on is taken (CPU 0 tends to get the most interrupts).
    """
    if not hasattr(os, "sched_setaffinity"):
        return None
    allowed = sorted(os.sched_getaffinity(0))
    chosen = cpu if cpu is not None else allowed[-1]
    try:
        os.sched_setaffinity(0, {chosen})
    except OSError:
        return None
    return chosen


def cpu_model() -> str:
    try:
        text = Path("/proc/cpuinfo").read_text(encoding="utf-8")
    except OSError:
        return platform.processor() or "unknown"
    match = re.search(r"^model name\s*:\s*(.+)$", text, re.MULTILINE)
    return match.group(1).strip() if match else platform.processor() or "unknown"


def ram_gib() -> float:
    try:
        text = Path("/proc/meminfo").read_text(encoding="utf-8")
    except OSError:
        return 0.0
    match = re.search(r"^MemTotal:\s*(\d+) kB", text, re.MULTILINE)
    return round(int(match.group(1)) / 1024 / 1024, 1) if match else 0.0


def machine_info() -> dict[str, Any]:
    """Where the figures were taken: CPU count and model, RAM, Python."""
    return {"cpus": os.cpu_count(), "cpu_model": cpu_model(), "ram_gib": ram_gib(),
            "python": platform.python_version(), "implementation": platform.python_implementation()}


def emit_json(result: dict[str, Any]) -> None:
    """The last line of the benchmark's output: one JSON object other tools can parse."""
    sys.stdout.flush()
    print(json.dumps(result, ensure_ascii=False, sort_keys=True), flush=True)
