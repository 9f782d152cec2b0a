"""The default engine: faster-whisper (CTranslate2), int8 on the CPU, with Silero voice filtering.

CTranslate2 runs Whisper several times faster than PyTorch on a CPU and, with int8 weights, in a
quarter of the memory; faster-whisper adds Silero VAD (``vad_filter``, its ONNX model ships inside
the wheel), so only stretches with a voice reach the model and silence gives no invented text.
``condition_on_previous_text`` is off: on long calls, feeding the model its own previous text is what
lets one misheard phrase repeat for minutes. Word timestamps are on: with the voice filter, a segment's
end is otherwise mapped back through the cut-out silence and can land many seconds late (the end of
the operator's greeting in the middle of the customer's answer); the words' own times put it where
the speech ends, at no cost we could measure.

Needs the ``transcribe`` extra. faster-whisper is imported in ``__init__``, so importing this module
costs nothing.
"""

from __future__ import annotations

import importlib
import logging
from pathlib import Path
from typing import Any

from recordings.transcription.audio import FloatArray
from recordings.transcription.bundled_model import BUNDLED_MODEL, bundled_model_dir
from recordings.transcription.engine_base import ChannelResult, WhisperEngine, usable_cpus
from recordings.transcription.errors import ModelUnavailable
from recordings.transcription.segments import DEFAULT_NO_SPEECH_GUARD, RawSegment

log = logging.getLogger(__name__)

ENGINE = "faster-whisper"


def _faster_whisper() -> Any:
    try:
        return importlib.import_module("faster_whisper")
    except ImportError as exc:
        raise ModelUnavailable("faster-whisper is not installed: install perezvon[transcribe]") from exc


def resolve_model(model: str, *, cache_dir: Path | None) -> tuple[str, bool]:
    """What to hand faster-whisper for `model`, and whether it is a directory: ``base`` is the bundled model
    (assembled into `cache_dir` once), an existing path is used as it is, anything else is a model name
    faster-whisper may only look up in its local cache."""
    if model == BUNDLED_MODEL:
        return str(bundled_model_dir(cache_dir)), True
    path = Path(model).expanduser()
    if path.exists():
        if not (path / "model.bin").is_file():
            raise ModelUnavailable(f"{model}: not a CTranslate2 model directory (no model.bin)")
        return str(path), True
    if path.is_absolute() or model.startswith((".", "~")):
        raise ModelUnavailable(f"{model}: no such model directory")
    return model, False


class FasterWhisperTranscriber(WhisperEngine):
    """A `Transcriber` on faster-whisper. Loads the model now (about a second for base); reuse the instance.

    `model`: ``base`` (bundled), a CTranslate2 model directory, or a name in faster-whisper's local cache.
    `cpu_threads` 0 means every core this process may use. `beam_size` 1 is greedy decoding.
    """

    def __init__(self, model: str = BUNDLED_MODEL, *, language: str = "ru", device: str = "cpu",
                 compute_type: str = "int8", cpu_threads: int = 0, beam_size: int = 5,
                 cache_dir: Path | None = None, no_speech_guard: float = DEFAULT_NO_SPEECH_GUARD) -> None:
        fw = _faster_whisper()
        where, is_dir = resolve_model(model, cache_dir=cache_dir)
        self.cpu_threads = cpu_threads or usable_cpus()
        self.beam_size = beam_size
        self.device = device
        self.compute_type = compute_type
        try:
            self._whisper: Any = fw.WhisperModel(where, device=device, compute_type=compute_type,
                                                 cpu_threads=self.cpu_threads, local_files_only=True)
        except Exception as exc:  # CTranslate2 raises RuntimeError/ValueError; the hub lookup its own errors
            hint = "" if is_dir else " (nothing is downloaded: put the model in the local cache or give a path)"
            raise ModelUnavailable(f"faster-whisper cannot load {model!r}: {exc}{hint}") from exc
        log.info("faster-whisper loaded %s on %s (%s, %d threads)", where, device, compute_type, self.cpu_threads)
        super().__init__(engine=ENGINE, model=model, language=language,
                         languages=self._whisper.supported_languages, no_speech_guard=no_speech_guard)

    @property
    def backend(self) -> Any:
        """The loaded ``faster_whisper.WhisperModel`` (its CTranslate2 model is ``.model``), for benchmarks."""
        return self._whisper

    def _run(self, samples: FloatArray, language: str | None) -> ChannelResult:
        segments, info = self._whisper.transcribe(
            samples, language=language, beam_size=self.beam_size, vad_filter=True,
            condition_on_previous_text=False, word_timestamps=True)
        raws = [RawSegment(start_s=float(s.start), end_s=float(s.end), text=str(s.text),
                           no_speech_prob=float(s.no_speech_prob)) for s in segments]
        return ChannelResult(raws=raws, language=str(info.language),
                             language_probability=float(info.language_probability))

    def close(self) -> None:
        self._whisper = None
