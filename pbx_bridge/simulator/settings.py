"""Settings of the PBX simulator (``perezvon simulate`` and ``perezvon demo``).

Declared once, like every package's settings: each field's metadata names its environment variable
and says what it does; only the composition root reads the environment to fill them. Lists are
comma-separated strings so the common loader (str/int/float/bool) can read them unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


def split_list(text: str) -> tuple[str, ...]:
    """``"101, 102,,103"`` -> ``("101", "102", "103")``."""
    return tuple(item.strip() for item in text.split(",") if item.strip())


@dataclass(frozen=True)
class SimulatorSettings:
    ami_host: str = field(
        default="127.0.0.1",
        metadata={"env": "PEREZVON_SIM_AMI_HOST",
                  "help": "Address the simulated Asterisk's AMI listens on (keep it on loopback)."},
    )
    ami_port: int = field(
        default=15038,
        metadata={"env": "PEREZVON_SIM_AMI_PORT",
                  "help": "TCP port of the simulated AMI (a real Asterisk uses 5038; 0 picks a free port)."},
    )
    ami_username: str = field(
        default="perezvon",
        metadata={"env": "PEREZVON_SIM_AMI_USER", "help": "AMI user name the simulator accepts."},
    )
    ami_secret: str = field(
        default="simulator",
        metadata={"env": "PEREZVON_SIM_AMI_SECRET", "help": "AMI secret the simulator accepts."},
    )
    calls_per_minute: float = field(
        default=2.0,
        metadata={"env": "PEREZVON_SIM_CALLS_PER_MINUTE",
                  "help": "Average rate of simulated calls (Poisson arrivals); 0: only calls asked by Originate."},
    )
    extensions: str = field(
        default="101,102,103",
        metadata={"env": "PEREZVON_SIM_EXTENSIONS",
                  "help": "Comma-separated operator extensions (PJSIP endpoints) that simulated calls ring."},
    )
    dids: str = field(
        default="74951234501,74951234502,74951234503",
        metadata={"env": "PEREZVON_SIM_DIDS", "help": "Comma-separated shop numbers (DIDs) customers call."},
    )
    known_phones: str = field(
        default="",
        metadata={"env": "PEREZVON_SIM_KNOWN_PHONES",
                  "help": "Comma-separated customer phones to call from now and then (e.g. the demo's customers)."},
    )
    queue: str = field(
        default="sales",
        metadata={"env": "PEREZVON_SIM_QUEUE", "help": "Name of the simulated Asterisk queue."},
    )
    speed: float = field(
        default=1.0,
        metadata={"env": "PEREZVON_SIM_SPEED",
                  "help": "Simulated seconds per real second: 1 plays calls at real pace, 10 ten times faster."},
    )
    max_concurrent_calls: int = field(
        default=10,
        metadata={"env": "PEREZVON_SIM_MAX_CALLS", "help": "Most simulated calls in progress at once."},
    )
    mean_talk_s: float = field(
        default=60.0,
        metadata={"env": "PEREZVON_SIM_MEAN_TALK_S", "help": "Average talk time of an answered simulated call."},
    )
    agi_host: str = field(
        default="",
        metadata={"env": "PEREZVON_SIM_AGI_HOST",
                  "help": "FastAGI router that simulated inbound calls ask, as the dialplan's "
                          "AGI(agi://HOST:PORT/route) does; empty: calls ring the simulator's own choice "
                          "(demo fills in the service's router)."},
    )
    agi_port: int = field(
        default=4573,
        metadata={"env": "PEREZVON_SIM_AGI_PORT", "help": "TCP port of that FastAGI router."},
    )
    agi_secret: str = field(
        default="",
        metadata={"env": "PEREZVON_SIM_AGI_SECRET",
                  "help": "That router's shared secret, passed as the route's third AGI argument as the dialplan "
                          "does; empty: none (demo fills in the service's PEREZVON_AGI_SECRET)."},
    )
    seed: int | None = field(
        default=None,
        metadata={"env": "PEREZVON_SIM_SEED",
                  "help": "Random seed for a reproducible call mix; empty: different every run."},
    )
    recordings_dir: Path | None = field(
        default=None,
        metadata={"env": "PEREZVON_SIM_RECORDINGS_DIR",
                  "help": "Directory the simulator writes <Linkedid>.wav recordings into, as the dialplan's "
                          "MixMonitor(...,b) does (talk time of noise and tones; a bare header for unanswered "
                          "calls); empty: none (demo fills in PEREZVON_RECORDINGS_DIR)."},
    )

    @property
    def extension_list(self) -> tuple[str, ...]:
        return split_list(self.extensions)

    @property
    def did_list(self) -> tuple[str, ...]:
        return split_list(self.dids)

    @property
    def known_phone_list(self) -> tuple[str, ...]:
        return split_list(self.known_phones)
