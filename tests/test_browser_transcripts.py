"""A real browser (Debian's Chromium) on a transcript: the recording plays from the panel, a segment seeks the
player to its moment, a search hit opens the transcript there; hostile text stays text."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta

from aiohttp import web
from aiohttp.test_utils import TestClient
from playwright.async_api import Browser, expect

from crm.database import Pool
from crm.transcripts import data
from recordings.register import register_call
from recordings.transcription import Segment, Transcript
from tests.conftest import PASSWORD, MakeManager
from tests.recording_helpers import age, answered_call
from tests.test_browser import browser as browser  # noqa: F401  (the Chromium fixture)
from tests.test_recordings_pages import app_store
from tests.transcription_helpers import SPEECH
from web.config import Settings

Client = TestClient[web.Request, web.Application]
LID = "1800000900.1"


async def test_a_segment_seeks_the_player_and_a_hit_opens_the_moment(
        browser: Browser, client: Client, pool: Pool, settings: Settings, make_manager: MakeManager) -> None:
    anna = await make_manager("operator", extensions=("101",))
    await answered_call(pool, LID, talk_s=7.4, ended_at=datetime.now(UTC) - timedelta(seconds=30))
    store = app_store(settings)
    incoming = store.paths.incoming / f"{LID}.wav"
    shutil.copy(SPEECH / "ru_order_digits.wav", incoming)
    age(incoming, 60)
    [recording_id] = (await register_call(pool, store, LID)).registered
    transcript_id = await data.queue(pool, recording_id)
    assert transcript_id is not None
    await data.store(pool, transcript_id, Transcript(
        segments=(Segment(0.4, 2.0, "Здравствуйте,", "customer"),
                  Segment(2.5, 6.9, "я звоню по заказу номер 10234 <img src=x onerror=alert(1)>", "customer")),
        language="ru", duration_s=7.4, engine="faster-whisper", model="base", elapsed_s=1.2), orders=[], keywords=[])
    base = str(client.make_url("/")).rstrip("/")

    page = await (await browser.new_context()).new_page()
    await page.goto(f"{base}/login")
    await page.fill("input[name=login]", anna.login)
    await page.fill("input[name=password]", PASSWORD)
    await page.click("button[type=submit]")
    await page.goto(f"{base}/search/transcripts?q=заказ")
    hit = page.locator(".search-hits .hit").first
    await expect(hit.locator("mark")).to_have_text("заказу")
    await expect(hit).to_contain_text("<img src=x onerror=alert(1)>")  # shown as text, never markup
    await hit.locator("a").first.click()
    await expect(page).to_have_url(f"{base}/transcripts/{transcript_id}#t=2.5")
    player = page.locator("audio[data-transcript-player]")
    await expect(page.locator("li.segment.customer")).to_have_count(2)
    await page.wait_for_function("document.querySelector('audio[data-transcript-player]').currentTime >= 2.4")
    await page.click("li.segment >> nth=0 >> button[data-seek]")
    await page.wait_for_function(
        "(() => { const a = document.querySelector('audio[data-transcript-player]');"
        " return a.currentTime >= 0.3 && a.currentTime < 2.4; })()")
    assert await player.evaluate("a => a.duration") > 7
