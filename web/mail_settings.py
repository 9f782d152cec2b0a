"""Settings of e-mail: alerts to the head of sales (SMTP; empty host = no e-mail)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class MailSettings:
    smtp_host: str = field(
        default="", metadata={"env": "PEREZVON_SMTP_HOST",
                              "help": "SMTP server that sends alert e-mails; empty: alerts are shown in the panel "
                                      "only."})
    smtp_port: int = field(default=587, metadata={"env": "PEREZVON_SMTP_PORT", "help": "SMTP port."})
    smtp_user: str = field(default="", metadata={"env": "PEREZVON_SMTP_USER", "help": "SMTP login (empty: none)."})
    smtp_password: str = field(default="", metadata={"env": "PEREZVON_SMTP_PASSWORD", "help": "SMTP password."})
    smtp_starttls: bool = field(
        default=True, metadata={"env": "PEREZVON_SMTP_STARTTLS",
                                "help": "Upgrade the connection with STARTTLS (false only for a local relay)."})
    mail_from: str = field(
        default="perezvon@localhost", metadata={"env": "PEREZVON_MAIL_FROM", "help": "Sender of alert e-mails."})
    alert_emails: str = field(
        default="", metadata={"env": "PEREZVON_ALERT_EMAILS",
                              "help": "Comma-separated addresses of the head of sales and supervisors who get "
                                      "alerts by e-mail."})

    @property
    def enabled(self) -> bool:
        return bool(self.smtp_host and self.recipients)

    @property
    def recipients(self) -> tuple[str, ...]:
        return tuple(a.strip() for a in self.alert_emails.split(",") if a.strip())
