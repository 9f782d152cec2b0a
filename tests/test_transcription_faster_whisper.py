"""The default engine on real (synthesised) phone-line speech: faster-whisper, bundled Whisper base, int8 CPU.

One model for the whole session (`base_transcriber`); each sample is a few seconds and takes about a
second on two cores. Assertions are on text and structure, never on time.
"""

from __future__ import annotations

import wave
from collections.abc import Callable
from pathlib import Path

import pytest

from recordings.transcription import (
    AudioError,
    ModelUnavailable,
    Pcm,
    Transcriber,
    Transcript,
    TranscriptionSettings,
    UnsupportedLanguage,
    create_transcriber,
    find_order_numbers,
    word_error_rate,
)
from recordings.transcription.bundled_model import bundled_model_dir
from recordings.transcription.faster_whisper_engine import FasterWhisperTranscriber
from recordings.transcription.quality import edit_distance, normalise
from tests.transcription_helpers import SPEECH, reference, russian_samples

MAX_WER = 0.35

Transcribed = Callable[[str], Transcript]


@pytest.fixture(scope="module")
def transcribed(base_transcriber: FasterWhisperTranscriber) -> Transcribed:
    """A sample's transcript with the default settings, each sample transcribed once for the module."""
    done: dict[str, Transcript] = {}

    def get(file: str) -> Transcript:
        if file not in done:
            done[file] = base_transcriber.transcribe(SPEECH / file)
        return done[file]

    return get


def test_it_is_a_transcriber(base_transcriber: FasterWhisperTranscriber) -> None:
    assert isinstance(base_transcriber, Transcriber)
    assert (base_transcriber.engine, base_transcriber.model, base_transcriber.default_language) == (
        "faster-whisper", "base", "ru")


def test_russian_word_error_rate(transcribed: Transcribed) -> None:
    errors = words = 0
    report = []
    for ref in russian_samples():
        transcript = transcribed(ref.file)
        wer = word_error_rate(ref.text, transcript.text)
        report.append(f"{ref.file}: WER {wer:.2f}: {transcript.text!r}")
        errors += edit_distance(normalise(ref.text), normalise(transcript.text))
        words += len(normalise(ref.text))
        assert transcript.language == "ru" and transcript.segments
        assert wer <= MAX_WER, "\n".join(report)
    assert errors / words <= MAX_WER, "\n".join(report)


@pytest.mark.parametrize("file", ["ru_order_digits.wav", "ru_order_words.wav"])
def test_spoken_order_number_is_found(transcribed: Transcribed, file: str) -> None:
    transcript = transcribed(file)
    assert "10234" in find_order_numbers(transcript.text), transcript.text


@pytest.mark.parametrize(("file", "words"), [("ru_refund.wav", ["возврат"]),
                                             ("ru_promise.wav", ["перезвоню", "завтра"])])
def test_keywords_and_promises_are_in_the_text(transcribed: Transcribed, file: str, words: list[str]) -> None:
    said = normalise(transcribed(file).text)
    assert all(word in said for word in words), said


def test_english_sample(base_transcriber: FasterWhisperTranscriber) -> None:
    ref = reference("en_order.wav")
    transcript = base_transcriber.transcribe(ref.path, language="en")
    assert transcript.language == "en" and transcript.language_probability is None
    assert word_error_rate(ref.text, transcript.text) <= MAX_WER, transcript.text


def test_language_is_detected_when_asked(base_transcriber: FasterWhisperTranscriber) -> None:
    english = base_transcriber.transcribe(SPEECH / "en_order.wav", language="auto")
    russian = base_transcriber.transcribe(SPEECH / "ru_complaint.wav", language="auto")
    assert (english.language, russian.language) == ("en", "ru")
    assert english.language_probability is not None and english.language_probability > 0.5


def test_silence_yields_no_text(transcribed: Transcribed) -> None:
    transcript = transcribed("silence.wav")
    assert transcript.segments == () and transcript.text == ""
    assert transcript.duration_s == pytest.approx(5.0, abs=0.01)


def test_two_channels_give_operator_and_customer(transcribed: Transcribed) -> None:
    transcript = transcribed("stereo_call.wav")
    assert [s.speaker for s in transcript.segments] == ["operator", "customer", "operator"], transcript.segments
    starts = [s.start_s for s in transcript.segments]
    assert starts == sorted(starts)
    operator, customer = transcript.segments[0], transcript.segments[1]
    assert operator.end_s <= customer.start_s + 0.5  # the greeting ends before the answer begins
    assert all(0 <= s.start_s <= s.end_s <= transcript.duration_s for s in transcript.segments)
    for side in ("operator", "customer"):
        ref = reference("stereo_call.wav", side)
        assert word_error_rate(ref.text, transcript.text_of(side)) <= MAX_WER, transcript.text_of(side)
    assert "10234" in find_order_numbers(transcript.text_of("customer"))
    assert "перезвоню" in normalise(transcript.text_of("operator"))


def test_stereo_mixed_to_mono_has_no_speakers(base_transcriber: FasterWhisperTranscriber) -> None:
    mixed = base_transcriber.transcribe(SPEECH / "stereo_call.wav", channels="mono")
    assert mixed.segments and all(s.speaker is None for s in mixed.segments)
    said = normalise(mixed.text)
    assert {"здравствуйте", "заказ", "перезвоню"} <= set(said), said


def test_pcm_in_memory(base_transcriber: FasterWhisperTranscriber) -> None:
    with wave.open(str(SPEECH / "ru_refund.wav")) as source:
        pcm = Pcm(source.readframes(source.getnframes()), sample_rate=source.getframerate())
    transcript = base_transcriber.transcribe(pcm)
    assert "возврат" in normalise(transcript.text)
    assert transcript.elapsed_s > 0 and transcript.model == "base"


def test_bad_input_raises_audio_error(base_transcriber: FasterWhisperTranscriber, tmp_path: Path) -> None:
    full = (SPEECH / "ru_refund.wav").read_bytes()
    (tmp_path / "cut.wav").write_bytes(full[: len(full) // 3])
    (tmp_path / "zero.wav").write_bytes(b"")
    (tmp_path / "note.txt").write_text("not audio at all\n" * 20)
    for name, reason in (("cut.wav", "truncated"), ("zero.wav", "empty"), ("note.txt", "not-audio")):
        with pytest.raises(AudioError) as caught:
            base_transcriber.transcribe(tmp_path / name)
        assert caught.value.reason == reason
    with pytest.raises(UnsupportedLanguage):
        base_transcriber.transcribe(SPEECH / "ru_refund.wav", language="klingon")


def test_settings_build_the_bundled_engine(model_cache: Path, base_transcriber: FasterWhisperTranscriber) -> None:
    transcriber = create_transcriber(TranscriptionSettings(model_cache_dir=model_cache, threads=1, beam_size=1))
    try:
        assert isinstance(transcriber, FasterWhisperTranscriber) and transcriber.cpu_threads == 1
        assert "возврат" in normalise(transcriber.transcribe(SPEECH / "ru_refund.wav").text)
    finally:
        transcriber.close()
    # The directory form of the same model, as a path.
    by_path = FasterWhisperTranscriber(str(bundled_model_dir(model_cache)), language="en", cpu_threads=1)
    assert by_path.default_language == "en"
    by_path.close()


def test_missing_models_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(ModelUnavailable, match="no model.bin"):
        FasterWhisperTranscriber(str(tmp_path))
    with pytest.raises(ModelUnavailable, match="no such model directory"):
        FasterWhisperTranscriber(str(tmp_path / "nowhere"))
    with pytest.raises(ModelUnavailable, match="nothing is downloaded"):
        FasterWhisperTranscriber("large-v3-not-cached-anywhere")
    with pytest.raises(ModelUnavailable, match="PEREZVON_TRANSCRIBE_ENGINE"):
        create_transcriber(TranscriptionSettings(engine="vosk"))
