"""The one way a customer notice leaves perezvon: a gateway, with two adapters.

- `log`: writes the notice to the service log and counts it sent (the default: nothing leaves the
  machine until an admin wires a real gateway);
- `webhook`: a POST of `{"to", "text", "kind", "id"}` as JSON to the shop's SMS or messenger gateway,
  signed like the outgoing webhooks (`X-Perezvon-Timestamp`, `X-Perezvon-Signature: sha256=HEX` of
  `TIMESTAMP.BODY`; web/jobs/webhooks.py). `id` is the notice's cause, the same on every retry, so the
  gateway can drop a repeat after a lost answer.

A gateway that does not take the notice raises `GatewayFailed`; the job records it and retries.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from typing import Protocol

import aiohttp

from web.jobs.webhooks import signature
from web.notice_settings import NoticeSettings

log = logging.getLogger(__name__)

TIMEOUT_S = 10.0
#: How much of a refusing gateway's answer is kept for the admin (its reason, e.g. "invalid number").
ANSWER_SHOWN = 200


@dataclass(frozen=True)
class OutgoingNotice:
    id: str
    to: str
    text: str
    kind: str


class GatewayFailed(Exception):
    """The gateway did not take the notice (unreachable, or not 2xx): the job tries again later."""


class NoticeGateway(Protocol):
    name: str

    async def send(self, notice: OutgoingNotice) -> None: ...


class LogGateway:
    name = "log"

    async def send(self, notice: OutgoingNotice) -> None:
        log.info("notice %s (%s) to %s: %s", notice.id, notice.kind, notice.to, notice.text)


class WebhookGateway:
    name = "webhook"

    def __init__(self, url: str, secret: str, *, timeout_s: float = TIMEOUT_S) -> None:
        self._url = url
        self._secret = secret
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)

    async def send(self, notice: OutgoingNotice) -> None:
        body = json.dumps({"to": notice.to, "text": notice.text, "kind": notice.kind, "id": notice.id},
                          ensure_ascii=False, separators=(",", ":")).encode()
        now = int(time.time())
        headers = {"Content-Type": "application/json", "User-Agent": "perezvon-notices",
                   "X-Perezvon-Event": "notice", "X-Perezvon-Event-Id": notice.id,
                   "X-Perezvon-Timestamp": str(now), "X-Perezvon-Signature": signature(self._secret, now, body)}
        try:
            async with aiohttp.ClientSession(timeout=self._timeout) as http, \
                    http.post(self._url, data=body, headers=headers, allow_redirects=False) as response:
                if 200 <= response.status < 300:
                    return
                answer = (await response.content.read(ANSWER_SHOWN)).decode(errors="replace").strip()
                status = response.status
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            raise GatewayFailed(f"gateway unreachable: {exc!r}"[:1000]) from exc
        raise GatewayFailed(f"HTTP {status}" + (f": {answer}" if answer else ""))


def gateway_for(settings: NoticeSettings) -> NoticeGateway | None:
    """The configured adapter; None when notices are off."""
    if settings.gateway == "webhook":
        return WebhookGateway(settings.webhook_url, settings.webhook_secret)
    if settings.gateway == "log":
        return LogGateway()
    return None
