"""Audio in: files and PCM decoded to 16 kHz per channel, and every kind of bad input one clear `AudioError`."""

from __future__ import annotations

import io
import struct
import wave
from pathlib import Path

import numpy as np
import pytest

from recordings.transcription import AudioError, Pcm, TranscriptionError
from recordings.transcription.audio import SAMPLE_RATE, decode, pcm_to_wav
from recordings.transcription.wav_header import check_wav
from tests.transcription_helpers import SPEECH


def _wav_bytes(frames: bytes, *, channels: int = 1, rate: int = 8000) -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as writer:
        writer.setnchannels(channels)
        writer.setsampwidth(2)
        writer.setframerate(rate)
        writer.writeframes(frames)
    return out.getvalue()


def test_phone_line_wav_becomes_16_khz() -> None:
    decoded = decode(SPEECH / "ru_refund.wav", split_stereo=True)
    with wave.open(str(SPEECH / "ru_refund.wav")) as source:
        frames = source.getnframes()
    assert (decoded.source_rate, decoded.source_channels, len(decoded.channels)) == (8000, 1, 1)
    assert abs(len(decoded.channels[0]) - frames * 2) <= 64  # 8 kHz -> 16 kHz: twice the samples
    assert decoded.duration_s == pytest.approx(frames / 8000, abs=0.01)
    assert decoded.channels[0].dtype == np.float32 and 0.05 < float(np.max(np.abs(decoded.channels[0]))) <= 1.0


def test_stereo_is_split_or_mixed() -> None:
    split = decode(SPEECH / "stereo_call.wav", split_stereo=True)
    mixed = decode(SPEECH / "stereo_call.wav", split_stereo=False)
    assert len(split.channels) == 2 and len(mixed.channels) == 1
    assert len(split.channels[0]) == len(split.channels[1]) == len(mixed.channels[0])
    # The operator (channel 0) greets first, while the customer's channel is silent.
    first_second = slice(int(0.5 * SAMPLE_RATE), int(1.5 * SAMPLE_RATE))
    assert np.abs(split.channels[0][first_second]).max() > 0.05
    assert np.abs(split.channels[1][first_second]).max() < 0.01
    assert np.allclose(split.mixed(), (split.channels[0] + split.channels[1]) / 2, atol=1e-6)


def test_pcm_in_memory_decodes_like_the_file() -> None:
    with wave.open(str(SPEECH / "ru_refund.wav")) as source:
        data = source.readframes(source.getnframes())
    from_pcm = decode(Pcm(data, sample_rate=8000), split_stereo=True)
    from_file = decode(SPEECH / "ru_refund.wav", split_stereo=True)
    assert np.array_equal(from_pcm.channels[0], from_file.channels[0])
    stereo = decode(Pcm(struct.pack("<4h", 1000, -1000, 2000, -2000) * 4000, channels=2), split_stereo=True)
    assert len(stereo.channels) == 2 and float(stereo.channels[0].mean()) > 0 > float(stereo.channels[1].mean())


def _cases(tmp_path: Path) -> dict[str, tuple[Path | Pcm, str]]:
    full = (SPEECH / "ru_refund.wav").read_bytes()
    files = {
        "truncated.wav": (full[: len(full) // 2], "truncated"),
        "cut-in-header.wav": (full[:30], "truncated"),
        "empty.wav": (b"", "empty"),
        "header-only.wav": (_wav_bytes(b""), "no-audio"),  # Asterisk's file of an unanswered call
        "notes.wav": ("Это не звук, а текстовый файл.\n".encode() * 50, "not-audio"),
        "random.bin": (bytes(range(256)) * 40, "not-audio"),
        "no-fmt.wav": (b"RIFF" + struct.pack("<I", 12) + b"WAVE" + b"data" + struct.pack("<I", 4) + b"\0" * 4,
                       "not-audio"),
    }
    cases: dict[str, tuple[Path | Pcm, str]] = {}
    for name, (content, reason) in files.items():
        path = tmp_path / name
        path.write_bytes(content)
        cases[name] = (path, reason)
    cases["missing.wav"] = (tmp_path / "missing.wav", "missing")
    cases["odd-pcm"] = (Pcm(b"\x01\x02\x03"), "bad-pcm")
    cases["empty-pcm"] = (Pcm(b""), "empty")
    cases["zero-rate-pcm"] = (Pcm(b"\0\0", sample_rate=0), "bad-pcm")
    return cases


CASES = ["truncated.wav", "cut-in-header.wav", "empty.wav", "header-only.wav", "notes.wav", "random.bin",
         "no-fmt.wav", "missing.wav", "odd-pcm", "empty-pcm", "zero-rate-pcm"]


@pytest.mark.parametrize("case", CASES)
def test_bad_input_is_one_clear_error(tmp_path: Path, case: str) -> None:
    source, reason = _cases(tmp_path)[case]
    before = source.read_bytes() if isinstance(source, Path) and source.exists() else None
    with pytest.raises(AudioError) as caught:
        decode(source, split_stereo=True)
    assert caught.value.reason == reason
    assert isinstance(caught.value, TranscriptionError) and caught.value.slug == "bad-audio"
    assert caught.value.message
    if before is not None:
        assert isinstance(source, Path) and source.read_bytes() == before  # nothing lost


def test_truncated_wav_says_how_much_is_missing(tmp_path: Path) -> None:
    full = (SPEECH / "ru_refund.wav").read_bytes()
    path = tmp_path / "cut.wav"
    path.write_bytes(full[:10_044])
    with pytest.raises(AudioError, match=r"promises 87,610 bytes of audio, the file has 10,000"):
        decode(path, split_stereo=False)


def test_wav_header_fields_and_streaming_size() -> None:
    info = check_wav(io.BytesIO((SPEECH / "stereo_call.wav").read_bytes()))
    assert (info.format_tag, info.channels, info.sample_rate, info.bits_per_sample) == (1, 2, 8000, 16)
    streaming = bytearray(_wav_bytes(b"\x01\x00" * 800))
    streaming[40:44] = struct.pack("<I", 0xFFFFFFFF)  # a streaming writer's "until the end"
    assert check_wav(io.BytesIO(bytes(streaming))).data_bytes == 1600


def test_pcm_to_wav_round_trip() -> None:
    data = struct.pack("<6h", 1, 2, 3, 4, 5, 6)
    with wave.open(io.BytesIO(pcm_to_wav(Pcm(data, sample_rate=8000, channels=2)))) as reader:
        assert (reader.getnchannels(), reader.getframerate(), reader.readframes(3)) == (2, 8000, data)
