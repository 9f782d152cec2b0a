"""Alert e-mails to the head of sales: one message per alert, sent by a job (retried when the server is away).

The message says what is wrong in words and links to the alerts page; it carries no customer data
beyond the alert's own line. `alerts.emailed_at` makes a retry after a successful send a no-op.
"""

from __future__ import annotations

import logging
from email.message import EmailMessage

import aiosmtplib

from crm.database import Pool
from web.mail_settings import MailSettings

log = logging.getLogger(__name__)

TIMEOUT_S = 30.0


def alert_message(settings: MailSettings, alert_text: str, level: int, panel_url: str) -> EmailMessage:
    message = EmailMessage()
    prefix = "Эскалация" if level > 1 else "Тревога"
    message["Subject"] = f"perezvon · {prefix}: {alert_text}"[:200]
    message["From"] = settings.mail_from
    message["To"] = ", ".join(settings.recipients)
    message.set_content(f"{prefix}: {alert_text}\n\nОткрыть список тревог: {panel_url.rstrip('/')}/alerts\n")
    return message


async def send_alert(pool: Pool, settings: MailSettings, panel_url: str, alert_id: int) -> bool:
    """Send the alert's e-mail unless it went already; True when this call sent it."""
    row = await pool.fetchrow("SELECT message, level, emailed_at FROM alerts WHERE id = $1", alert_id)
    if row is None or row["emailed_at"] is not None or not settings.enabled:
        return False
    message = alert_message(settings, row["message"], row["level"], panel_url)
    await aiosmtplib.send(message, hostname=settings.smtp_host, port=settings.smtp_port,
                          username=settings.smtp_user or None, password=settings.smtp_password or None,
                          start_tls=settings.smtp_starttls, timeout=TIMEOUT_S)
    await pool.execute("UPDATE alerts SET emailed_at = now() WHERE id = $1", alert_id)
    log.info("alert %d e-mailed to %s", alert_id, ", ".join(settings.recipients))
    return True
