"""`perezvon transcribe --all`: the real command works through a backlog of recordings with a progress bar."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from crm.database import Pool
from recordings.register import register_call
from tests.recording_helpers import Clock, age, answered_call, make_store
from tests.transcription_helpers import SPEECH


def _transcribe(args: list[str], dsn: str, data_dir: Path, models: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": dsn, "PEREZVON_DATA_DIR": str(data_dir), "PEREZVON_LOG_LEVEL": "WARNING",
           "PEREZVON_TRANSCRIBE_MODEL_CACHE": str(models), "PEREZVON_TRANSCRIBE_THREADS": "2"}
    return subprocess.run([sys.executable, "-m", "web.cli", "transcribe", *args], capture_output=True, text=True,
                          env=env, cwd=data_dir.parent, timeout=300, check=False)


async def test_a_backlog_is_transcribed_with_a_progress_bar(pool: Pool, db_dsn: str, tmp_path: Path,
                                                            model_cache: Path, base_transcriber: object) -> None:
    store = make_store(tmp_path, Clock())  # data dir: tmp_path / "data", as the command is told
    for n, sample in enumerate(("ru_refund.wav", "ru_complaint.wav")):
        linkedid = f"1800000800.{n}"
        await answered_call(pool, linkedid, caller=f"7916111008{n}", talk_s=5.0,
                            ended_at=datetime.now(UTC) - timedelta(seconds=30))
        incoming = store.paths.incoming / f"{linkedid}.wav"
        shutil.copy(SPEECH / sample, incoming)
        age(incoming, 60)
        assert (await register_call(pool, store, linkedid)).registered
    done = _transcribe(["--all"], db_dsn, tmp_path / "data", model_cache)
    assert done.returncode == 0, done.stderr
    assert "2 to transcribe" in done.stdout and "done: 2 transcribed, 0 failed" in done.stdout, done.stdout
    assert "transcribing: 100%" in done.stderr and "2/2" in done.stderr, done.stderr  # tqdm's bar
    assert await pool.fetchval("SELECT count(*) FROM transcripts WHERE state = 'done'") == 2
    again = _transcribe(["--since", "2026-01-01"], db_dsn, tmp_path / "data", model_cache)
    assert again.returncode == 0 and "0 to transcribe" in again.stdout, again.stdout
    bad = _transcribe(["--since", "yesterday"], db_dsn, tmp_path / "data", model_cache)
    assert bad.returncode == 2 and "a day like 2026-12-01" in bad.stderr
