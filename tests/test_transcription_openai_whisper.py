"""The openai-whisper engine's whole path on a checkpoint built here: load a ``.pt``, transcribe, segments out.

No released checkpoint can be installed offline, so the test makes a tiny randomly initialised
multilingual Whisper (``bench.transcribe_fixed.TINY_DIMS``: one layer each side, width 64, the real
vocabulary so the multilingual tokenizer fits) and saves it the way OpenAI's checkpoints are saved
(``{"dims": ..., "model_state_dict": ...}``, `write_random_checkpoint`).
Its text is noise; what is checked is the path: loading through ``whisper.load_model``, our decoding
and voice filter, segments with sane times and speakers, and the errors. The extra is installed by
``make`` (PyTorch's CPU build); without it these tests are skipped.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from recordings.transcription import ModelUnavailable, Transcriber, TranscriptionSettings, create_transcriber
from tests.transcription_helpers import SPEECH

pytest.importorskip("torch", reason="the openai-whisper extra is not installed (make installs it)")
pytest.importorskip("whisper.model", reason="openai-whisper is not installed (make installs it)")

from bench.transcribe_fixed import TINY_DIMS, write_random_checkpoint  # noqa: E402
from recordings.transcription.openai_whisper_engine import OpenAIWhisperTranscriber  # noqa: E402


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_random_checkpoint(tmp_path_factory.mktemp("openai-whisper") / "tiny-random.pt", TINY_DIMS, seed=12)


@pytest.fixture(scope="module")
def transcriber(checkpoint: Path) -> Any:
    engine = OpenAIWhisperTranscriber(str(checkpoint), language="ru", cpu_threads=2, beam_size=1)
    yield engine
    engine.close()


def test_checkpoint_loads_and_transcribes(transcriber: OpenAIWhisperTranscriber) -> None:
    assert isinstance(transcriber, Transcriber) and transcriber.engine == "openai-whisper"
    transcript = transcriber.transcribe(SPEECH / "ru_refund.wav")
    assert transcript.segments, "the voice filter found speech, so the model must have been run"
    assert transcript.language == "ru" and transcript.engine == "openai-whisper"
    assert transcript.duration_s == pytest.approx(5.476, abs=0.01)
    for segment in transcript.segments:
        assert 0 <= segment.start_s <= segment.end_s <= transcript.duration_s
        assert segment.text == segment.text.strip() and segment.text and segment.speaker is None


def test_silence_never_reaches_the_model(transcriber: OpenAIWhisperTranscriber) -> None:
    transcript = transcriber.transcribe(SPEECH / "silence.wav")
    assert transcript.segments == () and transcript.text == ""


def test_two_channels_have_both_speakers(transcriber: OpenAIWhisperTranscriber) -> None:
    transcript = transcriber.transcribe(SPEECH / "stereo_call.wav", language="auto")
    speakers = {s.speaker for s in transcript.segments}
    assert speakers == {"operator", "customer"}, transcript.segments
    starts = [s.start_s for s in transcript.segments]
    assert starts == sorted(starts)
    first_customer = next(s for s in transcript.segments if s.speaker == "customer")
    assert first_customer.start_s > 4.0  # the customer's channel is silent during the greeting
    assert isinstance(transcript.language, str) and transcript.language


def test_settings_choose_this_engine(checkpoint: Path) -> None:
    engine = create_transcriber(TranscriptionSettings(engine="openai-whisper", model=str(checkpoint), language="en"))
    try:
        assert isinstance(engine, OpenAIWhisperTranscriber) and engine.default_language == "en"
    finally:
        engine.close()


def test_missing_or_broken_checkpoints_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(ModelUnavailable, match="nothing is downloaded"):
        OpenAIWhisperTranscriber("base")  # an official name is never fetched
    with pytest.raises(ModelUnavailable, match="nothing is downloaded"):
        OpenAIWhisperTranscriber(str(tmp_path / "missing.pt"))
    broken = tmp_path / "broken.pt"
    broken.write_bytes(b"not a torch checkpoint")
    with pytest.raises(ModelUnavailable, match="cannot load"):
        OpenAIWhisperTranscriber(str(broken))
