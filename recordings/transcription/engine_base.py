"""What both Whisper engines share: decode, one pass per channel, speakers, guards, one time line.

An engine subclass loads its model in ``__init__`` and implements `WhisperEngine._run`, one pass of
the model over one channel of 16 kHz samples; everything else is here, so both engines treat
languages, stereo and bad input the same way.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Collection, Sequence
from dataclasses import dataclass

from recordings.transcription.audio import DecodedAudio, FloatArray, decode
from recordings.transcription.errors import UnsupportedLanguage
from recordings.transcription.segments import (
    DEFAULT_NO_SPEECH_GUARD,
    RawSegment,
    merge_by_time,
    speakers_of,
    to_segments,
)
from recordings.transcription.transcript import (
    AUTO_LANGUAGE,
    AudioSource,
    ChannelMode,
    Segment,
    Speaker,
    Transcript,
)


@dataclass(frozen=True)
class ChannelResult:
    """One model pass over one channel: its raw segments and the language used or detected."""

    raws: Sequence[RawSegment]
    language: str
    language_probability: float | None


def usable_cpus() -> int:
    """The cores this process may run on (its affinity mask, not the machine's count)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


class WhisperEngine:
    """The shared half of a Whisper engine; see `recordings.transcription.transcript.Transcriber`."""

    def __init__(self, *, engine: str, model: str, language: str, languages: Collection[str],
                 no_speech_guard: float = DEFAULT_NO_SPEECH_GUARD) -> None:
        self._engine = engine
        self._model_label = model
        self._languages = frozenset(languages)
        self._no_speech_guard = no_speech_guard
        self._lock = threading.Lock()
        self._default_language = self._check_language(language)

    @property
    def engine(self) -> str:
        return self._engine

    @property
    def model(self) -> str:
        return self._model_label

    @property
    def default_language(self) -> str:
        return self._default_language

    def _check_language(self, language: str) -> str:
        if language != AUTO_LANGUAGE and language not in self._languages:
            raise UnsupportedLanguage(f"{self._engine} does not know the language {language!r} "
                                      "(expected auto or a code such as ru or en)")
        return language

    def _run(self, samples: FloatArray, language: str | None) -> ChannelResult:
        """One pass of the model over one channel; `language` None means detect it."""
        raise NotImplementedError

    def transcribe(self, audio: AudioSource, *, language: str | None = None, channels: ChannelMode = "auto",
                   operator_channel: int = 0) -> Transcript:
        """Transcribe one recording; see `Transcriber`. Blocking: run it in a thread or a worker."""
        asked = self._check_language(language) if language is not None else self._default_language
        speakers = speakers_of(operator_channel)
        if channels not in ("auto", "mono"):
            raise ValueError(f"channels must be 'auto' or 'mono', not {channels!r}")
        started = time.perf_counter()
        decoded = decode(audio, split_stereo=channels == "auto")
        with self._lock:
            return self._transcribe_decoded(decoded, asked, speakers, started)

    def _transcribe_decoded(self, decoded: DecodedAudio, asked: str, speakers: tuple[Speaker, Speaker],
                            started: float) -> Transcript:
        code = None if asked == AUTO_LANGUAGE else asked
        duration = decoded.duration_s
        per_channel: list[list[Segment]] = []
        results: list[ChannelResult] = []
        two = len(decoded.channels) == 2
        for index, samples in enumerate(decoded.channels):
            result = self._run(samples, code)
            results.append(result)
            per_channel.append(to_segments(result.raws, duration_s=duration,
                                           speaker=speakers[index] if two else None,
                                           no_speech_guard=self._no_speech_guard))
        # The language of the channel that said the most (channel 0 on a tie or in silence).
        spoken = [sum(len(s.text) for s in segs) for segs in per_channel]
        chosen = results[spoken.index(max(spoken))]
        return Transcript(segments=merge_by_time(per_channel), language=chosen.language,
                          language_probability=chosen.language_probability if code is None else None,
                          duration_s=round(duration, 3), engine=self._engine, model=self._model_label,
                          elapsed_s=round(time.perf_counter() - started, 3))

    def close(self) -> None:
        """Free the model (subclasses drop their reference; the memory goes when nothing else holds it)."""
