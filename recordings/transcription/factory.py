"""The one place that turns `TranscriptionSettings` into a loaded `Transcriber`.

The composition root (or a worker process) calls `create_transcriber` once and keeps the result for
every recording: loading is the slow part. Engines are imported here only when chosen, so a process
without the transcription extras can still import this package's types and helpers.
"""

from __future__ import annotations

from pathlib import Path

from recordings.transcription.errors import ModelUnavailable
from recordings.transcription.settings import TranscriptionSettings
from recordings.transcription.transcript import Transcriber


def model_cache_dir(settings: TranscriptionSettings, data_dir: Path | None) -> Path | None:
    """Where the bundled model is assembled: the setting, else ``<data_dir>/models``, else None (the
    user cache, ``~/.cache/perezvon``)."""
    if settings.model_cache_dir is not None:
        return settings.model_cache_dir
    return data_dir / "models" if data_dir is not None else None


def create_transcriber(settings: TranscriptionSettings, *, data_dir: Path | None = None) -> Transcriber:
    """Load the engine and model the settings name. Raises `ModelUnavailable` (bad settings, a missing
    extra or model) or `UnsupportedLanguage`; it takes a second or more, so call it off the event loop."""
    if problems := settings.problems():
        raise ModelUnavailable("; ".join(problems))
    if settings.engine == "openai-whisper":
        from recordings.transcription.openai_whisper_engine import OpenAIWhisperTranscriber

        return OpenAIWhisperTranscriber(settings.model, language=settings.language, device=settings.device,
                                        cpu_threads=settings.threads, beam_size=settings.beam_size)
    from recordings.transcription.faster_whisper_engine import FasterWhisperTranscriber

    return FasterWhisperTranscriber(settings.model, language=settings.language, device=settings.device,
                                    compute_type=settings.compute_type, cpu_threads=settings.threads,
                                    beam_size=settings.beam_size,
                                    cache_dir=model_cache_dir(settings, data_dir))
