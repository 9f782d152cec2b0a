"""The failures of transcription, each with a stable slug a job or a page can show and match on.

A job that transcribes a recording stores the slug and the message when it gives up, so the
admin sees "bad-audio: truncated WAV: the header promises 160,000 bytes of audio, the file has
80,000" rather than a traceback. The slugs never change once published.
"""

from __future__ import annotations

from typing import Literal

#: Why an input is not usable audio (`AudioError.reason`).
AudioProblem = Literal["missing", "empty", "truncated", "not-audio", "no-audio", "bad-pcm"]


class TranscriptionError(Exception):
    """Base class: transcription could not be done; nothing was written anywhere."""

    slug = "transcription-failed"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class AudioError(TranscriptionError):
    """The input is not usable audio: a missing or zero-length file, a truncated WAV, a file that is
    not audio at all, audio with no samples, or malformed PCM. `reason` tells which.

    Retrying does not help: the same bytes give the same error, so a job should fail at once.
    """

    slug = "bad-audio"

    def __init__(self, message: str, *, reason: AudioProblem) -> None:
        super().__init__(message)
        self.reason: AudioProblem = reason


class ModelUnavailable(TranscriptionError):
    """The engine or its model cannot be loaded: the extra is not installed, the model path does not
    exist or is not a model, or a model name is not in the local cache (nothing is ever downloaded)."""

    slug = "model-unavailable"


class UnsupportedLanguage(TranscriptionError):
    """The language asked for is neither ``auto`` nor a language code the engine knows."""

    slug = "unsupported-language"
