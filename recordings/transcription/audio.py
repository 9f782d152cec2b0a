"""Audio in, 16 kHz float samples per channel out: what both Whisper engines eat.

Decoding is PyAV's (FFmpeg bundled in the wheel, no system ffmpeg): WAV of any PCM width, A-law,
mu-law, GSM (Asterisk's ``WAV``), MP3, Ogg... FFmpeg's resampler turns a phone line's 8 kHz into
Whisper's 16 kHz. Bad input never reaches the decoder unchecked: a missing or empty file, a WAV whose
header promises more than the file holds (`wav_header`), a file with no audio stream (FFmpeg happily
opens a text file as ANSI art), or no samples at all each raise `AudioError` with its reason.

Needs the ``transcribe`` (or ``openai-whisper``) extra: numpy and PyAV. PyAV is imported when first used.
"""

from __future__ import annotations

import gc
import importlib
import io
import os
import wave
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from recordings.transcription.errors import AudioError, ModelUnavailable
from recordings.transcription.transcript import AudioSource, Pcm
from recordings.transcription.wav_header import check_wav, is_wav

#: Whisper's sample rate.
SAMPLE_RATE = 16000
#: Decoded frames are resampled in groups of this many samples (as faster-whisper does).
_GROUP = 500_000

FloatArray = npt.NDArray[np.float32]


@dataclass(frozen=True)
class DecodedAudio:
    """One array of 16 kHz float32 samples in [-1, 1] per channel kept (one, or two for split stereo)."""

    channels: tuple[FloatArray, ...]
    source_rate: int
    source_channels: int

    @property
    def duration_s(self) -> float:
        return len(self.channels[0]) / SAMPLE_RATE

    def mixed(self) -> FloatArray:
        """All channels as one (their mean)."""
        if len(self.channels) == 1:
            return self.channels[0]
        return np.asarray(np.mean(np.stack(self.channels), axis=0), dtype=np.float32)


def _av() -> Any:
    try:
        return importlib.import_module("av")
    except ImportError as exc:
        raise ModelUnavailable("PyAV is not installed: install perezvon[transcribe]") from exc


def pcm_to_wav(pcm: Pcm) -> bytes:
    """The PCM as a WAV file in memory (after checking its shape)."""
    if pcm.channels < 1 or pcm.sample_rate < 1:
        raise AudioError(f"PCM: {pcm.channels} channels at {pcm.sample_rate} Hz", reason="bad-pcm")
    if not pcm.data:
        raise AudioError("PCM: no samples", reason="empty")
    frame = 2 * pcm.channels
    if len(pcm.data) % frame:
        raise AudioError(f"PCM: {len(pcm.data)} bytes is not a whole number of {frame}-byte frames "
                         f"(16-bit, {pcm.channels} channel(s))", reason="bad-pcm")
    out = io.BytesIO()
    with wave.open(out, "wb") as writer:
        writer.setnchannels(pcm.channels)
        writer.setsampwidth(2)
        writer.setframerate(pcm.sample_rate)
        writer.writeframes(pcm.data)
    return out.getvalue()


def _open_checked(path: Path) -> None:
    """Refuse a missing, empty or truncated file before FFmpeg sees it."""
    try:
        size = path.stat().st_size
    except FileNotFoundError as exc:
        raise AudioError(f"{path.name}: no such file", reason="missing") from exc
    if not path.is_file():
        raise AudioError(f"{path.name}: not a regular file", reason="not-audio")
    if size == 0:
        raise AudioError(f"{path.name}: the file is empty (0 bytes)", reason="empty")
    with path.open("rb") as stream:
        if is_wav(stream.read(12)):
            check_wav(stream, name=path.name)


def decode(source: AudioSource, *, split_stereo: bool) -> DecodedAudio:
    """Decode `source` to 16 kHz float32. With `split_stereo`, two-channel audio keeps both channels;
    anything else (one channel, more than two, or `split_stereo` off) is mixed to one."""
    if isinstance(source, Pcm):
        wav = pcm_to_wav(source)
        return _decode(io.BytesIO(wav), "PCM", split_stereo=split_stereo)
    path = Path(os.fspath(source))
    _open_checked(path)
    return _decode(str(path), path.name, split_stereo=split_stereo)


def _decode(target: str | io.BytesIO, name: str, *, split_stereo: bool) -> DecodedAudio:
    av = _av()
    try:
        with av.open(target, mode="r", metadata_errors="ignore") as container:
            if not container.streams.audio:
                raise AudioError(f"{name}: not audio (FFmpeg reads it as {container.format.name!r}, "
                                 "with no audio stream)", reason="not-audio")
            stream = container.streams.audio[0]
            source_channels = int(stream.codec_context.layout.nb_channels)
            source_rate = int(stream.rate or 0)
            keep = 2 if split_stereo and source_channels == 2 else 1
            resampler = av.audio.resampler.AudioResampler(format="s16", layout="stereo" if keep == 2 else "mono",
                                                          rate=SAMPLE_RATE)
            raw = io.BytesIO()
            fifo = av.audio.fifo.AudioFifo()
            for frame in _frames(av, container):
                frame.pts = None
                fifo.write(frame)
                if fifo.samples >= _GROUP:
                    _resample(resampler, fifo.read(), raw)
            if fifo.samples:
                _resample(resampler, fifo.read(), raw)
            _resample(resampler, None, raw)
            del resampler, fifo
    except av.FFmpegError as exc:
        raise AudioError(f"{name}: cannot be decoded as audio: {exc}", reason="not-audio") from exc
    finally:
        gc.collect()  # PyAV's resampler keeps native buffers until collected (faster-whisper issue 390)
    samples = np.frombuffer(raw.getbuffer(), dtype=np.int16).astype(np.float32) / 32768.0
    if samples.size == 0:
        raise AudioError(f"{name}: no audio samples", reason="no-audio")
    channels = (samples[0::2].copy(), samples[1::2].copy()) if keep == 2 else (samples,)
    return DecodedAudio(channels=channels, source_rate=source_rate, source_channels=source_channels)


def _frames(av: Any, container: Any) -> Any:
    """The audio frames, skipping those FFmpeg cannot decode (one damaged packet loses 20 ms, not the call)."""
    frames = container.decode(audio=0)
    while True:
        try:
            yield next(frames)
        except StopIteration:
            return
        except av.error.InvalidDataError:
            continue


def _resample(resampler: Any, frame: Any, out: io.BytesIO) -> None:
    for resampled in resampler.resample(frame):
        out.write(resampled.to_ndarray().tobytes())
