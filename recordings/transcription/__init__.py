"""Speech to text for call recordings: one `Transcriber` port, two Whisper engines behind it.

faster-whisper (CTranslate2, int8 on the CPU) is the default, with the bundled multilingual Whisper
base model; openai-whisper (PyTorch) is for GPU machines and ``.pt`` checkpoints. Both take a file
path or `Pcm`, filter out silence, split two-channel recordings into operator and customer, and
give a `Transcript` of timed segments (`Segment`). `create_transcriber` builds the one the settings name.

Everything importable from here works without the transcription extras (types, settings, errors,
`find_order_numbers`, `word_error_rate`); the engines import their libraries only when created.
"""

from recordings.transcription.errors import AudioError, ModelUnavailable, TranscriptionError, UnsupportedLanguage
from recordings.transcription.factory import create_transcriber, model_cache_dir
from recordings.transcription.order_numbers import find_order_numbers
from recordings.transcription.quality import word_error_rate
from recordings.transcription.settings import TranscriptionSettings
from recordings.transcription.transcript import (
    AUTO_LANGUAGE,
    AudioSource,
    ChannelMode,
    Pcm,
    Segment,
    Speaker,
    Transcriber,
    Transcript,
)

__all__ = [
    "AUTO_LANGUAGE", "AudioError", "AudioSource", "ChannelMode", "ModelUnavailable", "Pcm", "Segment", "Speaker",
    "Transcriber", "Transcript", "TranscriptionError", "TranscriptionSettings", "UnsupportedLanguage",
    "create_transcriber", "find_order_numbers", "model_cache_dir", "word_error_rate",
]
