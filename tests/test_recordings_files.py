"""Recording files without the database: WAV verdicts, what to do with each, safe paths, moves that never
overwrite, the raw stereo conversion, the retention plan and the settings."""

from __future__ import annotations

import struct
import wave
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from crm.recordings import StoredRecording
from recordings.raw_convert import raw_to_wav
from recordings.register import Action, decide, file_names, kind_of, retry_delay, source_of
from recordings.retention import plan
from recordings.settings import RecordingSettings
from recordings.storage import UnsafePath, dated_path, inside, move, place, safe_linkedid, sha256_file
from recordings.wav_check import Inspection, Verdict, inspect_bytes, repair_header, wav_header
from tests.recording_helpers import tone, write_wav
from web.config import SettingsError, load_settings


def verdict_of(data: bytes) -> Inspection:
    return inspect_bytes(data[:65536], len(data))


def test_a_whole_wav_is_ok_with_its_duration() -> None:
    audio = tone(2.5)
    result = verdict_of(wav_header(channels=1, sample_rate=8000, bits=16, data_bytes=len(audio)) + audio)
    assert result.verdict is Verdict.OK and result.info is not None
    assert (result.info.sample_rate, result.info.channels, result.info.frames) == (8000, 1, 20000)
    assert result.info.duration_s == pytest.approx(2.5)


def test_the_header_an_unanswered_call_leaves() -> None:
    header = wav_header(channels=1, sample_rate=8000, bits=16, data_bytes=0)
    assert len(header) == 44
    assert verdict_of(header).verdict is Verdict.HEADER_ONLY


@pytest.mark.parametrize(("data", "verdict", "reason"), [
    (b"", Verdict.EMPTY, "zero-length"),
    (b"ID3\x04\x00" + b"\x00" * 200, Verdict.CORRUPT, "not a RIFF/WAVE"),
    (b"RIFF\x00\x00\x00\x00AVI LIST" + b"\x00" * 100, Verdict.CORRUPT, "not a RIFF/WAVE"),
    (b"RIFF\x24\x00\x00\x00WAVEdata\x00\x00\x00\x00", Verdict.CORRUPT, "before any fmt"),
    (b"RIFF\x24\x00\x00\x00WAVEfmt \x10\x00\x00\x00\x31\x00\x01\x00@\x1f\x00\x00\x00\x00\x00\x00A\x00\x00\x00"
     b"data\x10\x00\x00\x00" + b"\x00" * 16, Verdict.CORRUPT, "unsupported audio format 0x0031"),
    (b"RIFF\x24\x00\x00\x00WAVE", Verdict.CORRUPT, "no fmt chunk"),
])
def test_files_that_are_no_wav_we_read(data: bytes, verdict: Verdict, reason: str) -> None:
    result = verdict_of(data)
    assert result.verdict is verdict and reason in result.reason


def test_truncated_and_unfinished_headers() -> None:
    audio = tone(1.0)
    cut = wav_header(channels=1, sample_rate=8000, bits=16, data_bytes=len(audio) * 3) + audio + b"\x01"
    truncated = verdict_of(cut)
    assert truncated.verdict is Verdict.TRUNCATED and truncated.info is not None
    assert truncated.info.frames == 8000  # the odd byte is half a sample, not audio
    nothing = wav_header(channels=1, sample_rate=8000, bits=16, data_bytes=1000) + b"\x01"
    assert verdict_of(nothing).verdict is Verdict.CORRUPT
    open_header = wav_header(channels=1, sample_rate=8000, bits=16, data_bytes=0)
    unfinished = verdict_of(open_header[:4] + b"\x00\x00\x00\x00" + open_header[8:] + audio)
    assert unfinished.verdict is Verdict.UNFINISHED and unfinished.info is not None
    assert unfinished.info.duration_s == pytest.approx(1.0)


def test_a_repaired_header_says_what_the_file_holds(tmp_path: Path) -> None:
    path = tmp_path / "cut.wav"
    audio = write_wav(path, 1.0, declared=48000)[44:]
    path.write_bytes(path.read_bytes() + b"\x07")  # half a sample after the cut
    result = verdict_of(path.read_bytes())
    assert result.info is not None
    assert repair_header(path, result.info) == 44 + len(audio)
    with wave.open(str(path)) as reader:
        assert (reader.getnframes(), reader.getframerate()) == (8000, 8000)
        assert reader.readframes(8000) == audio
    assert verdict_of(path.read_bytes()).verdict is Verdict.OK


@pytest.mark.parametrize(("verdict", "frames", "expected", "waiting", "settled", "action"), [
    (Verdict.OK, 1, True, True, True, Action.REGISTER),
    (Verdict.OK, 1, True, True, False, Action.WAIT),  # just written: may still grow
    (Verdict.OK, 1, True, False, False, Action.REGISTER),  # the wait is over: take it
    (Verdict.TRUNCATED, 1, True, True, True, Action.WAIT),
    (Verdict.TRUNCATED, 1, True, False, True, Action.REGISTER),
    (Verdict.UNFINISHED, 1, True, False, True, Action.REGISTER),
    (Verdict.UNFINISHED, 0, True, False, True, Action.QUARANTINE),
    (Verdict.EMPTY, 0, True, True, True, Action.WAIT),
    (Verdict.EMPTY, 0, True, False, True, Action.QUARANTINE),
    (Verdict.HEADER_ONLY, 0, False, True, True, Action.DROP),  # unanswered: dropped at once
    (Verdict.HEADER_ONLY, 0, True, True, True, Action.WAIT),
    (Verdict.HEADER_ONLY, 0, True, False, True, Action.DROP),
    (Verdict.CORRUPT, 0, True, True, True, Action.QUARANTINE),
])
def test_what_is_done_with_each_file(verdict: Verdict, frames: int, expected: bool, waiting: bool, settled: bool,
                                     action: Action) -> None:
    audio = tone(frames / 8000) if frames else b""
    info = inspect_bytes(wav_header(channels=1, sample_rate=8000, bits=16, data_bytes=len(audio)) + audio,
                         44 + len(audio)).info
    assert decide(Inspection(verdict, "", info), expected=expected, waiting=waiting, settled=settled) is action


def test_the_names_mixmonitor_writes_and_who_is_on_them() -> None:
    assert [n for n, _ in file_names("1800000000.7")] == ["1800000000.7.wav", "1800000000.7-in.wav",
                                                           "1800000000.7-out.wav", "1800000000.7.raw"]
    assert source_of("1800000000.7-in.wav") == ("1800000000.7", "receive")
    assert source_of("1800000000.7.wav") == ("1800000000.7", "mixed")
    assert source_of("notes.txt") is None and source_of(".wav") is None
    # MixMonitor runs on the customer's channel inbound, on the operator's outbound.
    assert kind_of("receive", "inbound") == ("customer", None)
    assert kind_of("transmit", "inbound") == ("operator", None)
    assert kind_of("receive", "outbound") == ("operator", None)
    assert kind_of("raw", "inbound") == ("stereo", "customer")
    assert kind_of("raw", "outbound") == ("stereo", "operator")


def test_retries_back_off_and_end_just_after_the_wait() -> None:
    assert [retry_delay(n, 600) for n in range(6)] == [5, 10, 20, 40, 60, 60]
    assert retry_delay(5, 3.0) == 4.0


@pytest.mark.parametrize("name", ["../../etc/passwd", "/etc/passwd", "..", ".hidden", "a/b", "a\\b", "", "x" * 65,
                                  "1800000000.7\x00", "имя"])
def test_unsafe_call_ids_are_no_file_names(name: str) -> None:
    assert not safe_linkedid(name)


def test_safe_call_ids() -> None:
    assert safe_linkedid("1800000000.7") and safe_linkedid("6a1f4c8e-8d2b-4a53-9f0e-2b9c1d7e5a10")


@pytest.mark.parametrize("relative", ["../outside.wav", "/etc/passwd", "2026/../../x.wav", "a\\..\\b.wav", "",
                                      "a\x00.wav"])
def test_stored_paths_cannot_leave_their_directory(tmp_path: Path, relative: str) -> None:
    with pytest.raises(UnsafePath):
        inside(tmp_path / "store", relative)


def test_a_symlink_in_a_stored_path_is_refused(tmp_path: Path) -> None:
    store = tmp_path / "store"
    (store / "2026/01").mkdir(parents=True)
    secret = tmp_path / "secret.wav"
    secret.write_bytes(b"x")
    (store / "2026/01/02").symlink_to(tmp_path)
    with pytest.raises(UnsafePath, match="symlink"):
        inside(store, "2026/01/02/secret.wav")
    (store / "2026/01/03").mkdir()
    (store / "2026/01/03/a.wav").symlink_to(secret)
    with pytest.raises(UnsafePath, match="symlink"):
        inside(store, "2026/01/03/a.wav")
    assert inside(store, "2026/01/04/b.wav") == store / "2026/01/04/b.wav"


def test_placing_never_overwrites_a_different_file(tmp_path: Path) -> None:
    base = tmp_path / "store"
    first, second = tmp_path / "first.wav", tmp_path / "second.wav"
    first.write_bytes(b"first")
    second.write_bytes(b"second")
    placed = place(first, base, "2026/01/02/1.wav", sha256_file(first))
    assert placed.relative == "2026/01/02/1.wav" and placed.new
    again = place(first, base, "2026/01/02/1.wav", sha256_file(first))  # a retry after a crash
    assert again.relative == "2026/01/02/1.wav" and not again.new
    other = place(second, base, "2026/01/02/1.wav", sha256_file(second))
    assert other.relative == "2026/01/02/1.1.wav"
    assert (base / "2026/01/02/1.wav").read_bytes() == b"first"
    assert (base / "2026/01/02/1.1.wav").read_bytes() == b"second"
    assert first.exists() and second.exists()  # the caller removes the originals once recorded
    moved = move(second, tmp_path / "archive", "2026/01/02/1.wav")
    assert moved == "2026/01/02/1.wav" and not second.exists()


def test_dated_paths_use_the_calls_utc_day() -> None:
    moscow_midnight = datetime(2026, 3, 1, 0, 30, tzinfo=UTC) + timedelta(hours=-3)
    assert dated_path(moscow_midnight, "1.wav") == "2026/02/28/1.wav"


def test_option_d_raw_becomes_a_stereo_wav(tmp_path: Path) -> None:
    left, right = tone(0.5), bytes(8000)
    interleaved = b"".join(left[i:i + 2] + right[i:i + 2] for i in range(0, len(left), 2))
    raw = tmp_path / "1.raw"
    raw.write_bytes(interleaved + b"\x01\x02\x03")  # a partial frame at the end
    converted = raw_to_wav(raw, tmp_path / "1.wav")
    assert (converted.frames, converted.leftover) == (4000, 3)
    with wave.open(str(tmp_path / "1.wav")) as reader:
        assert (reader.getnchannels(), reader.getsampwidth(), reader.getframerate()) == (2, 2, 8000)
        assert reader.readframes(4000) == interleaved
    with pytest.raises(FileExistsError):
        raw_to_wav(raw, tmp_path / "1.wav")  # never over an existing file


def _stored(n: int, days_old: float, size: int, *, keep: bool = False) -> StoredRecording:
    at = datetime(2026, 6, 1, tzinfo=UTC) - timedelta(days=days_old)
    return StoredRecording(n, f"2026/01/01/{n}.wav", size, at, keep, "0" * 64)


def test_the_retention_plan_by_age_then_disk_never_kept() -> None:
    now = datetime(2026, 6, 1, tzinfo=UTC)
    items = [_stored(1, 100, 10, keep=True), _stored(2, 90, 10), _stored(3, 20, 10), _stored(4, 10, 10),
             _stored(5, 1, 10)]
    assert plan(items, now, retention_days=30, limit_bytes=0).expire == {2: "age"}
    by_disk = plan(items, now, retention_days=0, limit_bytes=25)
    assert by_disk.expire == {2: "disk", 3: "disk", 4: "disk"} and by_disk.remaining_bytes == 20
    both = plan(items, now, retention_days=30, limit_bytes=35)
    assert both.expire == {2: "age", 3: "disk"} and not both.over_limit
    kept_only = plan([_stored(1, 5, 100, keep=True)], now, retention_days=1, limit_bytes=50)
    assert kept_only.expire == {} and kept_only.over_limit
    assert plan(items, now, retention_days=0, limit_bytes=0).expire == {}


def test_settings_defaults_under_the_data_dir_and_bad_values(tmp_path: Path) -> None:
    paths = RecordingSettings().paths(tmp_path)
    assert paths.incoming == tmp_path / "recordings/incoming" and paths.storage == tmp_path / "recordings/store"
    settings = load_settings(environ={"PEREZVON_RECORDINGS_RETENTION_DAYS": "30",
                                      "PEREZVON_RECORDINGS_DISK_LIMIT_MB": "2"}, env_file=None)
    assert settings.recordings.retention_days == 30 and settings.recordings.disk_limit_bytes == 2 * 1024 * 1024
    for name, value in (("PEREZVON_RECORDINGS_EXPIRE", "shred"), ("PEREZVON_RECORDINGS_WAIT_S", "-1"),
                        ("PEREZVON_RECORDINGS_STORAGE_DIR", str(tmp_path / "in"))):
        with pytest.raises(SettingsError, match=name):
            load_settings(environ={name: value, "PEREZVON_RECORDINGS_DIR": str(tmp_path / "in")}, env_file=None)


def test_header_sizes_are_little_endian_riff() -> None:
    header = wav_header(channels=2, sample_rate=8000, bits=16, data_bytes=32000)
    assert struct.unpack_from("<4sI4s", header) == (b"RIFF", 36 + 32000, b"WAVE")
