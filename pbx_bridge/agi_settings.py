"""Settings of the FastAGI router server. Only the composition root reads the environment to fill them.

Each field's metadata names its environment variable and says what it does, exactly as in
``crm/settings.py``. The fallback is what every call gets when the CRM is slow, failing or
unreachable, so it must be a route the dialplan can always take (a queue by default).
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field

_HOST_PORT = re.compile(r"(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]{1,253}):([1-9][0-9]{0,4})")
_FALLBACK = re.compile(r"(queue|voicemail|dial|playback):[^\s\"\\]{1,120}|hangup")


@dataclass(frozen=True)
class AgiSettings:
    host: str = field(
        default="127.0.0.1",
        metadata={"env": "PEREZVON_AGI_HOST",
                  "help": "Address the FastAGI router listens on (the dialplan's AGI(agi://HOST:PORT/route)); "
                          "empty: no FastAGI server."},
    )
    port: int = field(
        default=4573,
        metadata={"env": "PEREZVON_AGI_PORT", "help": "TCP port of the FastAGI router (0 picks a free port)."},
    )
    deadline_ms: int = field(
        default=300,
        metadata={"env": "PEREZVON_AGI_DEADLINE_MS",
                  "help": "Longest time the CRM may take to decide a route; after it the call gets the fallback."},
    )
    fallback: str = field(
        default="queue:sales",
        metadata={"env": "PEREZVON_AGI_FALLBACK",
                  "help": "Route when the CRM is slow or failing: queue:NAME, voicemail:BOX, dial:TARGET, "
                          "playback:SOUND or hangup."},
    )
    fallback_ring_timeout_s: int = field(
        default=20,
        metadata={"env": "PEREZVON_AGI_FALLBACK_RING_TIMEOUT_S",
                  "help": "RING_TIMEOUT (seconds) answered with the fallback route."},
    )
    client_timeout_s: float = field(
        default=5.0,
        metadata={"env": "PEREZVON_AGI_CLIENT_TIMEOUT_S",
                  "help": "Seconds a FastAGI peer may take to send its environment or answer a command "
                          "before the connection is closed."},
    )

    allowed_peers: str = field(
        default="127.0.0.0/8,::1",
        metadata={"env": "PEREZVON_AGI_ALLOWED_PEERS",
                  "help": "Comma-separated addresses or networks (CIDR) of the PBXes allowed to connect to the "
                          "FastAGI router; any other peer is disconnected at once. Default: loopback only."},
    )
    secret: str = field(
        default="",
        metadata={"env": "PEREZVON_AGI_SECRET",
                  "help": "Shared secret the dialplan passes as the route script's third argument "
                          "(AGI(agi://HOST/route,${CHANNEL(linkedid)},${DID},SECRET)); a request without it "
                          "gets no answer. Empty: not checked (then keep the allowlist tight)."},
    )

    softphone_audiosocket: str = field(
        default="",
        metadata={"env": "PEREZVON_SOFTPHONE_AUDIOSOCKET",
                  "help": "host:port of the AudioSocket server that answers for web softphones, as Asterisk "
                          "reaches it: a manager flagged 'softphone' is rung there too "
                          "(AudioSocket/HOST:PORT/<uuid>/c(slin) in ROUTE_TARGETS), as their first extension. "
                          "Empty: softphone managers ring only their desk phones."},
    )

    def allowed_networks(self) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
        return tuple(ipaddress.ip_network(part.strip(), strict=False)
                     for part in self.allowed_peers.split(",") if part.strip())

    @property
    def enabled(self) -> bool:
        return bool(self.host.strip())

    @property
    def deadline_s(self) -> float:
        return self.deadline_ms / 1000.0

    def problems(self) -> list[str]:
        """What is wrong with these values, each naming its variable (empty when usable)."""
        out: list[str] = []
        if not 0 <= self.port < 65536:
            out.append("PEREZVON_AGI_PORT: expected 0..65535")
        if not 1 <= self.deadline_ms <= 10_000:
            out.append("PEREZVON_AGI_DEADLINE_MS: expected 1..10000 milliseconds")
        if _FALLBACK.fullmatch(self.fallback) is None:
            out.append("PEREZVON_AGI_FALLBACK: expected queue:NAME, voicemail:BOX, dial:TARGET, playback:SOUND "
                       "or hangup")
        if not 1 <= self.fallback_ring_timeout_s <= 600:
            out.append("PEREZVON_AGI_FALLBACK_RING_TIMEOUT_S: expected 1..600 seconds")
        if not self.client_timeout_s > 0:
            out.append("PEREZVON_AGI_CLIENT_TIMEOUT_S: expected a positive number of seconds")
        try:
            self.allowed_networks()
        except ValueError:
            out.append("PEREZVON_AGI_ALLOWED_PEERS: expected comma-separated addresses or networks (10.0.0.5, "
                       "10.0.0.0/24, ::1)")
        if self.softphone_audiosocket and not _HOST_PORT.fullmatch(self.softphone_audiosocket):
            out.append("PEREZVON_SOFTPHONE_AUDIOSOCKET: expected HOST:PORT (127.0.0.1:9092, [::1]:9092)")
        if self.secret and (len(self.secret) < 16 or not re.fullmatch(r"[A-Za-z0-9_.~-]+", self.secret)):
            out.append("PEREZVON_AGI_SECRET: 16+ characters of letters, digits, '_', '.', '~' or '-' "
                       "(the dialplan passes it as an AGI argument)")
        return out
