"""Settings of the customer notices' gateway (how a notice leaves; the texts are the admin's, in the panel).

The gateway is deployment configuration with a secret in it, like SMTP: it lives in the environment,
not in the database the panel edits, so an admin account cannot redirect customers' messages.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import urlsplit

GATEWAYS = ("log", "webhook", "off")


@dataclass(frozen=True)
class NoticeSettings:
    gateway: str = field(
        default="log", metadata={"env": "PEREZVON_NOTICE_GATEWAY",
                                 "help": "How customer notices leave: log (written to the service log and "
                                         "marked sent), webhook (a signed POST to your SMS or messenger "
                                         "gateway) or off (none are made)."})
    webhook_url: str = field(
        default="", metadata={"env": "PEREZVON_NOTICE_WEBHOOK_URL",
                              "help": "The gateway's http(s) address that gets each notice as JSON "
                                      "{to, text, kind, id} (gateway webhook)."})
    webhook_secret: str = field(
        default="", metadata={"env": "PEREZVON_NOTICE_WEBHOOK_SECRET",
                              "help": "Key of the X-Perezvon-Signature header (HMAC-SHA256 of timestamp.body), "
                                      "16+ characters (gateway webhook)."})

    @property
    def enabled(self) -> bool:
        return self.gateway != "off"

    def problems(self) -> list[str]:
        if self.gateway not in GATEWAYS:
            return [f"PEREZVON_NOTICE_GATEWAY: one of {', '.join(GATEWAYS)}"]
        if self.gateway != "webhook":
            return []
        found = []
        parts = urlsplit(self.webhook_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            found.append("PEREZVON_NOTICE_WEBHOOK_URL: an http:// or https:// address (gateway webhook)")
        if len(self.webhook_secret) < 16:
            found.append("PEREZVON_NOTICE_WEBHOOK_SECRET: 16 or more characters (gateway webhook)")
        return found
