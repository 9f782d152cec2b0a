"""Free loopback ports for one PBX-tier run.

Only one process may own a port, and a developer may have a real Asterisk (5060, 5038) or a
second test run on the same machine: every port the tier uses is asked of the kernel (bind to
port 0) instead of being fixed. The RTP range must be a block of consecutive free UDP ports,
so it is probed separately.
"""

from __future__ import annotations

import random
import socket
from contextlib import ExitStack


def free_port(kind: int = socket.SOCK_STREAM, host: str = "127.0.0.1") -> int:
    """A port the kernel says is free on `host` now (TCP by default; `socket.SOCK_DGRAM` for UDP)."""
    with socket.socket(socket.AF_INET, kind) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def free_tcp_and_udp_port(host: str = "127.0.0.1") -> int:
    """A port free for both TCP and UDP (SIP listens on UDP; keeping TCP free avoids surprises)."""
    for _ in range(100):
        port = free_port(socket.SOCK_DGRAM, host)
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
                sock.bind((host, port))
        except OSError:
            continue
        return port
    raise RuntimeError(f"no port free for both TCP and UDP on {host}")


def free_udp_range(size: int, host: str = "127.0.0.1", low: int = 20000, high: int = 59000) -> tuple[int, int]:
    """`(start, end)` of `size` consecutive UDP ports that are all free now (rtp.conf's rtpstart/rtpend)."""
    rng = random.Random()
    for _ in range(200):
        start = rng.randrange(low, high - size) & ~1  # RTP on even ports
        with ExitStack() as stack:
            try:
                for port in range(start, start + size):
                    sock = stack.enter_context(socket.socket(socket.AF_INET, socket.SOCK_DGRAM))
                    sock.bind((host, port))
            except OSError:
                continue
        return start, start + size - 1
    raise RuntimeError(f"no block of {size} free UDP ports on {host}")
