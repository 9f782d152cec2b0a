"""What a transcriber takes and gives: audio in, a `Transcript` of timed segments out; the `Transcriber` port.

These types import no engine and no numpy, so the web process (which stores and shows transcripts)
can use them without the transcription extras installed.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Literal, Protocol, runtime_checkable

#: Who speaks in a segment of two-channel audio; None for one-channel (mixed) audio.
Speaker = Literal["operator", "customer"]

#: ``auto``: two-channel audio is transcribed channel by channel with speakers; other audio as one.
#: ``mono``: every channel is mixed into one and no speaker is given.
ChannelMode = Literal["auto", "mono"]

#: The language setting: ``auto`` (detect it) or a Whisper language code (``ru``, ``en``...).
AUTO_LANGUAGE = "auto"


@dataclass(frozen=True)
class Pcm:
    """Raw audio in memory: signed 16-bit little-endian samples, channels interleaved (Asterisk's slin,
    what AudioSocket carries). ``sample_rate`` is that of the samples (8,000 for a phone line)."""

    data: bytes
    sample_rate: int = 8000
    channels: int = 1


#: A file path (any format the audio decoder reads: WAV, GSM, MP3...) or PCM in memory.
AudioSource = str | os.PathLike[str] | Pcm


@dataclass(frozen=True)
class Segment:
    """One stretch of speech: seconds from the start of the recording, the text, and who said it."""

    start_s: float
    end_s: float
    text: str
    speaker: Speaker | None = None


@dataclass(frozen=True)
class Transcript:
    """The transcription of one recording.

    ``language`` is the one used: the one asked for, or the one detected when ``auto`` was asked
    (then ``language_probability`` is the detector's confidence; None when the language was given).
    ``duration_s`` is the audio's length; ``elapsed_s`` the wall time the engine took (the real-time
    factor is ``elapsed_s / duration_s``, which is what an estimate of a backlog's time left needs).
    """

    segments: tuple[Segment, ...]
    language: str
    duration_s: float
    engine: str
    model: str
    elapsed_s: float
    language_probability: float | None = None

    @property
    def text(self) -> str:
        """All segments' text in time order, one space between them ("" when nothing was said)."""
        return " ".join(s.text for s in self.segments if s.text)

    def text_of(self, speaker: Speaker) -> str:
        """What one side said (two-channel audio only; "" for mixed audio)."""
        return " ".join(s.text for s in self.segments if s.speaker == speaker and s.text)


@runtime_checkable
class Transcriber(Protocol):
    """Speech to text with timestamps. The engines: faster-whisper (the default) and openai-whisper.

    ``transcribe`` is synchronous, CPU- (or GPU-) bound work that takes seconds per minute of audio:
    callers on an event loop run it in a thread (``asyncio.to_thread``) or a worker process, never on
    the loop. Loading a model is slow (seconds, hundreds of MB), so an engine loads its model once when
    it is created and is reused for every recording; one instance per process. Calls from several
    threads are safe and run one at a time. ``close`` frees the model.

    ``language``: None for the transcriber's default (the setting), ``auto`` to detect it, or a code.
    ``channels``: see `ChannelMode`. ``operator_channel``: for two-channel audio, which channel (0 or 1)
    is the operator; the other is the customer. Asterisk's MixMonitor ``D`` option puts the audio heard
    *from* the channel MixMonitor runs on into channel 0: on the customer's inbound channel that is the
    customer, so the recordings layer passes ``operator_channel=1`` there.

    Raises `AudioError` for input that is not usable audio, `UnsupportedLanguage` for an unknown code.
    """

    @property
    def engine(self) -> str:
        """The engine's name: ``faster-whisper`` or ``openai-whisper``."""
        ...

    @property
    def model(self) -> str:
        """What model is loaded: its name or path, as shown to admins."""
        ...

    def transcribe(self, audio: AudioSource, *, language: str | None = None, channels: ChannelMode = "auto",
                   operator_channel: int = 0) -> Transcript:
        ...

    def close(self) -> None:
        ...
