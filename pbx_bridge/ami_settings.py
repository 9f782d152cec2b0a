"""Settings of the live AMI connection. Only the composition root reads the environment to fill them.

Each field's metadata names its environment variable and says what it does, exactly as in
``crm/settings.py``; the composition root and the test that checks ``.env.example`` read it.
An empty host means "no Asterisk": ``demo`` runs the PBX simulator instead, ``serve`` reports
the AMI as ``disabled`` on ``/healthz``.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class AmiSettings:
    host: str = field(
        default="",
        metadata={"env": "PEREZVON_AMI_HOST",
                  "help": "Asterisk manager (AMI) host. Empty: no AMI (demo runs the PBX simulator, "
                          "serve reports it disabled)."},
    )
    port: int = field(default=5038, metadata={"env": "PEREZVON_AMI_PORT", "help": "Asterisk manager (AMI) port."})
    username: str = field(
        default="", metadata={"env": "PEREZVON_AMI_USER", "help": "AMI user ([name] in manager.conf)."}
    )
    secret: str = field(
        default="", repr=False,
        metadata={"env": "PEREZVON_AMI_SECRET", "help": "The AMI user's secret from manager.conf."},
    )
    connect_timeout_s: float = field(
        default=5.0,
        metadata={"env": "PEREZVON_AMI_CONNECT_TIMEOUT",
                  "help": "Seconds to open the TCP connection, log in and receive FullyBooted."},
    )
    action_timeout_s: float = field(
        default=10.0,
        metadata={"env": "PEREZVON_AMI_ACTION_TIMEOUT",
                  "help": "Seconds to wait for Asterisk's answer to an action (Originate, Hangup, "
                          "CoreShowChannels...)."},
    )
    ping_interval_s: float = field(
        default=10.0,
        metadata={"env": "PEREZVON_AMI_PING_INTERVAL",
                  "help": "Seconds between keepalive Pings."},
    )
    watchdog_timeout_s: float = field(
        default=30.0,
        metadata={"env": "PEREZVON_AMI_WATCHDOG_TIMEOUT",
                  "help": "Reconnect when nothing (no event, no Ping answer) arrived for this many seconds; "
                          "must exceed the ping interval."},
    )
    reconnect_min_s: float = field(
        default=0.5,
        metadata={"env": "PEREZVON_AMI_RECONNECT_MIN",
                  "help": "First reconnect delay in seconds; doubles per failed attempt, with jitter."},
    )
    reconnect_max_s: float = field(
        default=30.0,
        metadata={"env": "PEREZVON_AMI_RECONNECT_MAX", "help": "Longest reconnect delay in seconds."},
    )

    health_grace_s: float = field(
        default=30.0,
        metadata={"env": "PEREZVON_AMI_HEALTH_GRACE",
                  "help": "Seconds the AMI connection may be down (reconnecting) before /healthz says "
                          "degraded (HTTP 503)."},
    )

    @property
    def enabled(self) -> bool:
        return bool(self.host.strip())

    def problems(self) -> list[str]:
        """What is wrong with these values, each naming its variable (empty when usable).

        Not raised from ``__post_init__``: the composition root turns these into its own settings
        error, and :class:`~pbx_bridge.ami_client.AmiClient` refuses settings that have any.
        """
        out: list[str] = []
        if not 0 < self.port < 65536:
            out.append("PEREZVON_AMI_PORT: expected 1..65535")
        positive = (("PEREZVON_AMI_CONNECT_TIMEOUT", self.connect_timeout_s),
                    ("PEREZVON_AMI_ACTION_TIMEOUT", self.action_timeout_s),
                    ("PEREZVON_AMI_PING_INTERVAL", self.ping_interval_s),
                    ("PEREZVON_AMI_WATCHDOG_TIMEOUT", self.watchdog_timeout_s),
                    ("PEREZVON_AMI_RECONNECT_MIN", self.reconnect_min_s),
                    ("PEREZVON_AMI_RECONNECT_MAX", self.reconnect_max_s),
                    ("PEREZVON_AMI_HEALTH_GRACE", self.health_grace_s))
        out.extend(f"{name}: expected a positive number of seconds" for name, value in positive if not value > 0)
        if self.watchdog_timeout_s <= self.ping_interval_s:
            out.append("PEREZVON_AMI_WATCHDOG_TIMEOUT: must exceed PEREZVON_AMI_PING_INTERVAL")
        if self.reconnect_max_s < self.reconnect_min_s:
            out.append("PEREZVON_AMI_RECONNECT_MAX: must not be below PEREZVON_AMI_RECONNECT_MIN")
        if self.enabled and not self.username:
            out.append("PEREZVON_AMI_USER: required when PEREZVON_AMI_HOST is set")
        return out
