"""Alert e-mails to the head of sales, through a real SMTP server on loopback (aiosmtpd)."""

from __future__ import annotations

import email
import email.policy
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from crm import callbacks, customers
from crm.customers import CustomerInput
from crm.database import Pool
from tests.calls_scenarios import no_answer, record
from tests.conftest import MakeManager
from tests.pbx.ports import free_port
from web.jobs.mail import send_alert
from web.jobs.queue import JobEnvironment
from web.jobs.runtime import job_app
from web.live.bus import LocalBus
from web.live.hub import LiveHub
from web.mail_settings import MailSettings


@dataclass
class Inbox:
    """What the SMTP server accepted (its handler runs on aiosmtpd's own thread)."""

    messages: list[email.message.EmailMessage] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 (aiosmtpd's name)
        parsed = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
        assert isinstance(parsed, email.message.EmailMessage)
        self.messages.append(parsed)
        return "250 OK"


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, MailSettings]]:
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, MailSettings(smtp_host="127.0.0.1", smtp_port=port, smtp_starttls=False,
                                  mail_from="perezvon@shop.example",
                                  alert_emails="head@shop.example, deputy@shop.example")
    finally:
        controller.stop()


async def _overdue_alert(pool: Pool, make_manager: MakeManager) -> tuple[int, datetime]:
    anna = await make_manager("operator", extensions=("101",))
    await customers.create_customer(pool, CustomerInput(name="Петрова Анна", phones=("+79161110003",),
                                                        responsible_manager_id=anna.id))
    await record(pool, no_answer(lid="1800000400.1", caller="79161110003"))
    opened = await callbacks.on_missed_call(pool, "1800000400.1")
    due = await pool.fetchval("SELECT due_at FROM tasks WHERE id = $1", opened.task_id)
    return opened.task_id or 0, due + timedelta(seconds=1)


async def test_an_alert_is_e_mailed_once(pool: Pool, make_manager: MakeManager, smtp: tuple[Inbox, MailSettings]
                                         ) -> None:
    inbox, settings = smtp
    _, late = await _overdue_alert(pool, make_manager)
    [alert] = await callbacks.raise_overdue_alerts(pool, late)
    assert await send_alert(pool, settings, "https://crm.shop.example/", alert.alert_id)
    assert not await send_alert(pool, settings, "https://crm.shop.example/", alert.alert_id)  # a retry: no twin
    [message] = inbox.messages
    assert "Просрочен перезвон" in message["Subject"]
    assert message["To"] == "head@shop.example, deputy@shop.example"
    assert "https://crm.shop.example/alerts" in message.get_content()


async def test_the_minutely_check_e_mails_what_it_raised(pool: Pool, db_dsn: str, make_manager: MakeManager,
                                                         smtp: tuple[Inbox, MailSettings]) -> None:
    inbox, settings = smtp
    _, late = await _overdue_alert(pool, make_manager)
    app = job_app(db_dsn)
    env = {"env": JobEnvironment(pool, LocalBus(LiveHub()), settings, "http://127.0.0.1:8080/")}
    async with app.open_async():
        await app.configure_task("check_deadlines").defer_async(timestamp=int(late.timestamp()))
        await app.run_worker_async(wait=False, install_signal_handlers=False, queues=["checks"],
                                   additional_context=env)
    # The worker's own minutely run (real time: long overdue) adds the escalation: each alert once by e-mail.
    raised = await pool.fetchval("SELECT count(*) FROM alerts")
    assert raised >= 1 and len(inbox.messages) == raised
    assert await pool.fetchval("SELECT count(*) FROM alerts WHERE emailed_at IS NULL") == 0
