"""Keywords and promises in what was said (pure)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from crm.transcripts.insights import MORNING, find_keywords, find_promises
from crm.transcripts.view import marked_parts
from web.pages.transcription_admin import parse_keywords

MOSCOW = ZoneInfo("Europe/Moscow")
SAID = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)  # a Tuesday, 15:00 in Moscow


def test_keywords_match_word_starts_whatever_the_case_or_yo() -> None:
    keywords = ["возврат", "жалоба", "суд"]
    assert find_keywords("Хочу оформить ВОЗВРАТА товара, это не жалобА", keywords) == ["возврат", "жалоба"]
    assert find_keywords("Это невозвратный товар, посуда", keywords) == []  # inside other words: no
    assert find_keywords("Подам в суд!", keywords) == ["суд"]
    assert find_keywords("Пришёл", ["пришел"]) == ["пришел"]


def test_promises_become_follow_ups_due_when_promised() -> None:
    [tomorrow] = find_promises(["Хорошо, я уточню на складе и перезвоню завтра утром."], SAID, MOSCOW)
    assert (tomorrow.phrase, tomorrow.due_at) == ("перезвоню завтра", SAID + timedelta(days=1))
    [hours] = find_promises(["Наберу вам через 2 часа"], SAID, MOSCOW)
    assert hours.due_at == SAID + timedelta(hours=2)
    [words] = find_promises(["я перезвоню через пятнадцать минут"], SAID, MOSCOW)
    assert words.due_at == SAID + timedelta(minutes=15)
    [monday] = find_promises(["Позвоню в понедельник"], SAID, MOSCOW)
    assert monday.due_at == datetime(2026, 12, 7, MORNING.hour, tzinfo=MOSCOW)
    assert find_promises(["Спасибо, до свидания", "перезвоните мне"], SAID, MOSCOW) == []
    assert len(find_promises(["перезвоню завтра", "Перезвоню завтра!"], SAID, MOSCOW)) == 1


def test_highlights_are_split_for_escaping() -> None:
    assert marked_parts("хочу ⟦возврат⟧ <b>") == [("хочу ", False), ("возврат", True), (" <b>", False)]


def test_keywords_settings_are_checked() -> None:
    assert parse_keywords("Возврат\nжалоба, суд\n\nвозврат") == ["возврат", "жалоба", "суд"]
    try:
        parse_keywords("два слова")
    except Exception as exc:  # noqa: BLE001 (the message is what is checked)
        assert "one word each" in str(exc)
    else:
        raise AssertionError("a phrase was accepted as a keyword")
