"""Customer notices: templates, quiet hours across midnight, one notice per cause, missed calls, hidden numbers.

The gateway is a real HTTP server on loopback (tests/notice_helpers.py); the job path runs the real
procrastinate worker on the test database; time is a fixed clock, never a wait.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from crm import customers
from crm.customers import CustomerInput
from crm.database import Pool
from crm.errors import InvalidInput
from crm.notices import causes, data
from crm.notices.data import NoticeConfig
from crm.notices.policy import QuietHours, parse_local_time, recipient
from crm.notices.text import MAX_TEXT, MISSED_PLACEHOLDERS, STATUS_PLACEHOLDERS, clean_template, render
from pbx_bridge import call_facts as cf
from tests.calls_scenarios import T0, no_answer, record
from tests.conftest import MakeManager
from tests.notice_helpers import NOON, ZONE, SmsGateway, job_context, running_gateway, webhook_settings
from web.config import SettingsError, load_settings
from web.jobs import notice_delivery
from web.jobs.notice_delivery import NoticeFailed
from web.jobs.notice_gateway import LogGateway, WebhookGateway
from web.jobs.runtime import defer_call_ended, job_app
from web.notice_settings import NoticeSettings

MOSCOW = ZoneInfo(ZONE)
CALLER = "79161110003"


@pytest.fixture
async def gateway() -> AsyncIterator[SmsGateway]:
    async with running_gateway() as running:
        yield running


def moscow(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 3, day, hour, minute, tzinfo=MOSCOW)


def test_templates_render_their_placeholders_and_refuse_unknown_ones() -> None:
    shipped = clean_template("  Ваш заказ {order_number} отправлен  ", "shipped", STATUS_PLACEHOLDERS)
    assert render(shipped, {"order_number": "10234"}) == "Ваш заказ 10234 отправлен"
    assert render("{{literal}} {shop}: {minutes} мин.", {"shop": "Ромашка", "minutes": 5}) == (
        "{literal} Ромашка: 5 мин.")
    with pytest.raises(InvalidInput, match=r"unknown placeholder \{minutes\}; allowed: \{order_number\}, \{status\}"):
        clean_template("Заказ {order_number}, ждите {minutes}", "shipped", STATUS_PLACEHOLDERS)
    with pytest.raises(InvalidInput, match=r"\(missed call\): unknown placeholder \{order\.number\}"):
        clean_template("{order.number}", "missed call", MISSED_PLACEHOLDERS)
    for stray in ("Заказ {order_number", "скидка 10%}", "{0:>{width}}"):
        with pytest.raises(InvalidInput, match="brace|placeholder"):
            clean_template(stray, "shipped", STATUS_PLACEHOLDERS)
    with pytest.raises(InvalidInput, match=r"too long \(at most 500 characters\)"):
        clean_template("я" * 501, "shipped", STATUS_PLACEHOLDERS)
    assert clean_template("   ", "shipped", STATUS_PLACEHOLDERS) == ""  # blank: this status sends nothing


def test_rendering_never_fails_and_stays_bounded() -> None:
    # Whatever is stored renders: unknown placeholders and stray braces stay as written.
    assert render("{nope} {order_number} {", {"order_number": "1"}) == "{nope} 1 {"
    assert render("Имя: {customer}", {"customer": "Анна\x00\x1b[31m\nПетрова"}) == "Имя: Анна[31m Петрова"
    long = render("{customer} " * 20, {"customer": "я" * 500})
    assert len(long) == MAX_TEXT and long.endswith("…")


def test_quiet_hours_across_midnight() -> None:
    night = QuietHours(time(21), time(9))
    assert [night.contains(time(h, m)) for h, m in ((20, 59), (21, 0), (23, 30), (0, 0), (8, 59), (9, 0))] == [
        False, True, True, True, True, False]
    assert night.release_at(moscow(2, 23, 30), MOSCOW) == moscow(3, 9).astimezone(UTC)  # the next morning
    assert night.release_at(moscow(3, 2, 15), MOSCOW) == moscow(3, 9).astimezone(UTC)  # the same morning
    assert night.release_at(moscow(3, 9), MOSCOW) is None and night.release_at(moscow(3, 20, 59), MOSCOW) is None
    lunch = QuietHours(time(13), time(14))
    assert lunch.release_at(moscow(3, 13, 30), MOSCOW) == moscow(3, 14).astimezone(UTC)
    assert lunch.release_at(moscow(3, 12, 59), MOSCOW) is None
    assert QuietHours(time(21), time(9), enabled=False).release_at(moscow(3, 2), MOSCOW) is None
    assert parse_local_time(" 07:05:00 ", "quiet hours end") == time(7, 5)
    with pytest.raises(InvalidInput, match="quiet hours start: a time like 21:00"):
        parse_local_time("25:00", "quiet hours start")


def test_hidden_and_malformed_numbers_get_no_notice() -> None:
    assert recipient("+79161110003") == "+79161110003"
    assert recipient("+79161110003", "allowed") == "+79161110003"
    for phone, presentation in (("+79161110003", "restricted"), ("+79161110003", "anonymous"), (None, ""),
                                ("anonymous", ""), ("79161110003", ""), ("+7 916 111-00-03", "")):
        assert recipient(phone, presentation) is None


def test_the_gateway_settings_are_checked_at_start() -> None:
    base = {"PEREZVON_SECRET_KEY": "k" * 32}
    assert load_settings(environ=base, env_file=None).notices == NoticeSettings()
    with pytest.raises(SettingsError, match="PEREZVON_NOTICE_GATEWAY: one of log, webhook, off"):
        load_settings(environ={**base, "PEREZVON_NOTICE_GATEWAY": "sms"}, env_file=None)
    with pytest.raises(SettingsError, match="PEREZVON_NOTICE_WEBHOOK_URL.*PEREZVON_NOTICE_WEBHOOK_SECRET"):
        load_settings(environ={**base, "PEREZVON_NOTICE_GATEWAY": "webhook", "PEREZVON_NOTICE_WEBHOOK_SECRET": "x"},
                      env_file=None)


async def _queued_notice(pool: Pool) -> int:
    notice_id = await data.record(pool, "order-status:1:1", "order_status", "+79161110003", "Ваш заказ 10234 отправлен")
    assert notice_id is not None
    return notice_id


async def test_a_notice_due_in_quiet_hours_is_held_and_sent_when_they_end(pool: Pool, db_dsn: str,
                                                                          gateway: SmsGateway) -> None:
    await data.save_config(pool, NoticeConfig(quiet=QuietHours(time(21), time(9))))
    notice_id = await _queued_notice(pool)
    sender = WebhookGateway(gateway.url, webhook_settings(gateway.url).webhook_secret)
    late = moscow(2, 23, 40)
    held = await notice_delivery.send(pool, sender, MOSCOW, notice_id, late)
    assert (held.state, held.until) == ("held", moscow(3, 9).astimezone(UTC))
    assert gateway.got == []
    assert await data.due(pool, moscow(3, 8, 59)) == []  # the minutely sweep leaves it until the end
    assert await data.due(pool, moscow(3, 9)) == [notice_id]

    # The sweep's run at 09:00 (its timestamp and the worker's clock both 09:00) sends it.
    app = job_app(db_dsn)
    morning = moscow(3, 9)
    async with app.open_async():
        await app.configure_task("release_notices").defer_async(timestamp=int(morning.timestamp()))
        await app.run_worker_async(wait=False, install_signal_handlers=False, queues=["checks"],
                                   additional_context=job_context(pool, gateway.url, morning))
    assert [b["text"] for b in gateway.bodies()] == ["Ваш заказ 10234 отправлен"]
    sent = await data.get(pool, notice_id)
    assert sent is not None and (sent.state, sent.attempts, sent.sent_at) == ("sent", 1, morning)
    # Sent once: the job run again, or the sweep again, sends nothing more.
    assert (await notice_delivery.send(pool, sender, MOSCOW, notice_id, morning)).state == "nothing"
    assert await data.due(pool, morning + timedelta(minutes=1)) == []
    assert len(gateway.got) == 1


async def test_quiet_hours_changed_by_the_admin_weigh_again_on_held_notices(pool: Pool, gateway: SmsGateway) -> None:
    notice_id = await _queued_notice(pool)
    sender = WebhookGateway(gateway.url, webhook_settings(gateway.url).webhook_secret)
    assert (await notice_delivery.send(pool, sender, MOSCOW, notice_id, moscow(2, 22))).state == "held"
    await data.save_config(pool, NoticeConfig(quiet=QuietHours(time(21), time(9), enabled=False)))
    assert await data.due(pool, moscow(2, 22, 1)) == [notice_id]
    assert (await notice_delivery.send(pool, sender, MOSCOW, notice_id, moscow(2, 22, 1))).state == "sent"


async def _missed_call_job(pool: Pool, db_dsn: str, gateway: SmsGateway, lids: list[str]) -> None:
    app = job_app(db_dsn)
    async with app.open_async():
        for lid in lids:
            await defer_call_ended(app, lid)
        await app.run_worker_async(wait=False, install_signal_handlers=False, queues=["calls", "checks"],
                                   additional_context=job_context(pool, gateway.url))


async def test_a_missed_call_tells_the_caller_once(pool: Pool, db_dsn: str, make_manager: MakeManager,
                                                   gateway: SmsGateway) -> None:
    await make_manager("operator", extensions=("101",))
    await customers.create_customer(pool, CustomerInput(name="Петрова Анна", phones=("+" + CALLER,)))
    await data.save_config(pool, NoticeConfig(missed_enabled=True))
    await record(pool, no_answer(lid="1800000700.1", caller=CALLER))
    await _missed_call_job(pool, db_dsn, gateway, ["1800000700.1"])
    await record(pool, no_answer(lid="1800000701.1", caller=CALLER, t=T0 + 300))  # calls again: the same task
    await _missed_call_job(pool, db_dsn, gateway, ["1800000700.1", "1800000701.1"])
    assert gateway.bodies() == [{"to": "+" + CALLER, "kind": "missed_call",
                                 "text": "Мы пропустили ваш звонок и перезвоним в течение 5 мин.",
                                 "id": gateway.bodies()[0]["id"]}]
    assert gateway.bodies()[0]["id"].startswith("missed:") and gateway.signature_ok()
    task_id = int(gateway.bodies()[0]["id"].split(":")[1])
    assert await causes.missed_call_notice(pool, task_id) is None  # recorded again: nothing new


async def test_missed_call_notices_are_off_by_default_and_never_go_to_hidden_numbers(
        pool: Pool, db_dsn: str, make_manager: MakeManager, gateway: SmsGateway) -> None:
    await make_manager("operator", extensions=("101",))
    await record(pool, no_answer(lid="1800000710.1", caller=CALLER))
    await _missed_call_job(pool, db_dsn, gateway, ["1800000710.1"])
    assert await pool.fetchval("SELECT count(*) FROM tasks WHERE kind = 'callback'") == 1
    assert await pool.fetchval("SELECT count(*) FROM customer_notices") == 0  # switched off: none

    await data.save_config(pool, NoticeConfig(missed_enabled=True))
    hidden = "1800000711.1"
    await record(pool, [
        cf.CallStarted(call_id=hidden, at=T0, direction=cf.Direction.INBOUND, caller="anonymous",
                       dialled="74951234501"),
        cf.CallEnded(call_id=hidden, at=T0 + 9, direction=cf.Direction.INBOUND, outcome=cf.Outcome.MISSED,
                     reason=cf.MissedReason.NO_ANSWER, answered_by=None, operator=None, customer_number=None,
                     hung_up_by=cf.HungUpBy.CUSTOMER, hung_up_by_extension=None, ring_s=9, talk_s=None)])
    await _missed_call_job(pool, db_dsn, gateway, [hidden])
    # A callback task that carries a number the caller asked to hide (presentation restricted) gets none either.
    call_id = await pool.fetchval("UPDATE calls SET caller_presentation = 'restricted', customer_e164 = '+79035550199' "
                                  "WHERE linkedid = $1 RETURNING id", hidden)
    task_id = await pool.fetchval("INSERT INTO tasks (kind, title, call_id, phone, due_at) VALUES "
                                  "('callback', 'Перезвонить', $1, '+79035550199', now()) RETURNING id", call_id)
    assert await causes.missed_call_notice(pool, task_id) is None
    assert await pool.fetchval("SELECT count(*) FROM customer_notices") == 0 and gateway.got == []


async def test_a_missed_call_notice_is_skipped_when_the_callback_was_made_first(pool: Pool,
                                                                                gateway: SmsGateway) -> None:
    await data.save_config(pool, NoticeConfig(missed_enabled=True, quiet=QuietHours(time(21), time(9))))
    task_id = await pool.fetchval("INSERT INTO tasks (kind, title, phone, due_at) VALUES "
                                  "('callback', 'Перезвонить', '+79161110003', now()) RETURNING id")
    notice_id = await causes.missed_call_notice(pool, task_id)
    assert notice_id is not None
    sender = WebhookGateway(gateway.url, webhook_settings(gateway.url).webhook_secret)
    assert (await notice_delivery.send(pool, sender, MOSCOW, notice_id, moscow(2, 23))).state == "held"
    await pool.execute("UPDATE tasks SET status = 'done', closed_at = now() WHERE id = $1", task_id)
    assert (await notice_delivery.send(pool, sender, MOSCOW, notice_id, moscow(3, 9))).state == "skipped"
    assert gateway.got == []


async def test_a_refused_notice_is_retried_then_marked_failed(pool: Pool, gateway: SmsGateway) -> None:
    notice_id = await _queued_notice(pool)
    sender = WebhookGateway(gateway.url, webhook_settings(gateway.url).webhook_secret)
    gateway.status = 503
    for attempt in range(1, data.MAX_ATTEMPTS + 1):
        assert await data.due(pool, NOON) == [notice_id]  # still worth a try: the sweep queues it again
        with pytest.raises(NoticeFailed):
            await notice_delivery.send(pool, sender, MOSCOW, notice_id, NOON)
        notice = await data.get(pool, notice_id)
        assert notice is not None and notice.attempts == attempt
    assert notice is not None and notice.state == "failed" and notice.error == "HTTP 503: number blocked <b>x</b>"
    assert await data.due(pool, NOON) == []
    assert (await notice_delivery.send(pool, sender, MOSCOW, notice_id, NOON)).state == "nothing"


async def test_an_unreachable_gateway_is_recorded(pool: Pool) -> None:
    async with running_gateway() as gone:
        url = gone.url
    notice_id = await _queued_notice(pool)
    with pytest.raises(NoticeFailed):
        await notice_delivery.send(pool, WebhookGateway(url, "s" * 16), MOSCOW, notice_id, NOON)
    notice = await data.get(pool, notice_id)
    assert notice is not None and notice.state == "queued" and notice.error.startswith("gateway unreachable")


async def test_the_gateway_off_records_nothing(pool: Pool) -> None:
    await data.save_config(pool, NoticeConfig(missed_enabled=True))
    task_id = await pool.fetchval("INSERT INTO tasks (kind, title, phone, due_at) VALUES "
                                  "('callback', 'Перезвонить', '+79161110003', now()) RETURNING id")
    await notice_delivery.missed_call(None, pool, NoticeSettings(gateway="off"), task_id)
    assert await pool.fetchval("SELECT count(*) FROM customer_notices") == 0
    await notice_delivery.missed_call(None, pool, NoticeSettings(), task_id)  # log gateway: recorded, queued
    [notice] = await data.recent(pool)
    assert (notice.cause, notice.state) == (f"missed:{task_id}", "queued")


async def test_the_log_gateway_writes_the_notice_and_counts_it_sent(pool: Pool,
                                                                   caplog: pytest.LogCaptureFixture) -> None:
    notice_id = await _queued_notice(pool)
    caplog.set_level("INFO", logger="web.jobs.notice_gateway")
    assert (await notice_delivery.send(pool, LogGateway(), MOSCOW, notice_id, NOON)).state == "sent"
    assert "to +79161110003: Ваш заказ 10234 отправлен" in caplog.text
    notice = await data.get(pool, notice_id)
    assert notice is not None and (notice.state, notice.gateway) == ("sent", "log")
