"""The second engine: OpenAI's own ``whisper`` package on PyTorch, for GPU machines and ``.pt`` checkpoints.

On a CPU it is several times slower than faster-whisper (see BENCHMARKS.md, ``transcribe``); it is
here for sites that already run Whisper checkpoints on a GPU, or fine-tuned ``.pt`` files that have
no CTranslate2 conversion. The model is always loaded from a file: a path, or a name whose
``<name>.pt`` is already in the local cache (``$XDG_CACHE_HOME/whisper``); ``whisper.load_model``
is never given a bare official name, because then it downloads. The package has no voice filter, so
the energy filter of `vad` picks the stretches to transcribe (``clip_timestamps``) and pure silence
never reaches the model.

Needs the ``openai-whisper`` extra (PyTorch, CPU build on our machines) and the ``openai-whisper``
package installed without its ``triton`` dependency (see README.md). Imported in ``__init__``.
"""

from __future__ import annotations

import importlib
import logging
import os
import warnings
from pathlib import Path
from typing import Any

from recordings.transcription.audio import FloatArray
from recordings.transcription.engine_base import ChannelResult, WhisperEngine, usable_cpus
from recordings.transcription.errors import ModelUnavailable
from recordings.transcription.segments import DEFAULT_NO_SPEECH_GUARD, RawSegment
from recordings.transcription.vad import speech_regions

log = logging.getLogger(__name__)

ENGINE = "openai-whisper"


def _modules() -> tuple[Any, Any]:
    try:
        return importlib.import_module("whisper"), importlib.import_module("torch")
    except ImportError as exc:
        raise ModelUnavailable("openai-whisper is not installed: install perezvon[openai-whisper] and "
                               "openai-whisper (see README.md)") from exc


def whisper_cache_dir() -> Path:
    """Where openai-whisper keeps checkpoints: ``$XDG_CACHE_HOME/whisper`` (``~/.cache/whisper``)."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "whisper"


def resolve_checkpoint(model: str) -> Path:
    """The checkpoint file for `model`: a path to a ``.pt`` file, or a name found as ``<name>.pt`` in the cache."""
    path = Path(model).expanduser()
    if path.is_file():
        return path
    cached = whisper_cache_dir() / f"{model}.pt"
    if "/" not in model and cached.is_file():
        return cached
    raise ModelUnavailable(f"{model}: no such openai-whisper checkpoint (a .pt path, or a name in "
                           f"{whisper_cache_dir()}; nothing is downloaded)")


def load_checkpoint(checkpoint: Path, *, device: str = "cpu") -> Any:
    """``whisper.load_model`` on a checkpoint file, its tokenizer loaded too. Raises `ModelUnavailable`."""
    whisper, _torch = _modules()
    try:
        model = whisper.load_model(str(checkpoint), device=device)
    except Exception as exc:  # torch.load's unpickling errors, a dict without dims, a bad state dict
        raise ModelUnavailable(f"openai-whisper cannot load {checkpoint}: {exc}") from exc
    with warnings.catch_warnings():
        # openai-whisper reads its tokenizer's vocabulary from a file it never closes (once: the result is
        # cached); load it now, where that ResourceWarning is known and harmless.
        warnings.simplefilter("ignore", ResourceWarning)
        whisper.tokenizer.get_tokenizer(model.is_multilingual, num_languages=model.num_languages)
    return model


class OpenAIWhisperTranscriber(WhisperEngine):
    """A `Transcriber` on openai-whisper. Loads the checkpoint now; reuse the instance.

    `cpu_threads` (0: every usable core) sets PyTorch's thread count for the whole process
    (``torch.set_num_threads``), so give this engine its own worker process. On ``cuda`` it decodes in fp16.
    `beam_size` 1 is greedy decoding (openai-whisper's beam search of width 1 is slower and, on numpy 2,
    goes through a ``np.argsort`` of a tensor that numpy deprecates).
    """

    def __init__(self, model: str, *, language: str = "ru", device: str = "cpu", cpu_threads: int = 0,
                 beam_size: int = 5, no_speech_guard: float = DEFAULT_NO_SPEECH_GUARD) -> None:
        whisper, torch = _modules()
        checkpoint = resolve_checkpoint(model)
        self.device = device
        self.beam_size = beam_size
        self.cpu_threads = cpu_threads or usable_cpus()
        if device == "cpu":
            torch.set_num_threads(self.cpu_threads)
        self._whisper: Any = load_checkpoint(checkpoint, device=device)
        self._torch = torch
        languages = whisper.tokenizer.LANGUAGES if self._whisper.is_multilingual else {"en": "english"}
        log.info("openai-whisper loaded %s on %s (%d threads)", checkpoint, device, self.cpu_threads)
        super().__init__(engine=ENGINE, model=model, language=language, languages=languages,
                         no_speech_guard=no_speech_guard)

    def _run(self, samples: FloatArray, language: str | None) -> ChannelResult:
        regions = speech_regions(samples)
        if not regions:
            return ChannelResult(raws=(), language=language or self.default_language, language_probability=None)
        clips = [t for region in regions for t in region]
        with self._torch.inference_mode():
            result = self._whisper.transcribe(
                samples, language=language, beam_size=self.beam_size if self.beam_size > 1 else None,
                fp16=self.device == "cuda",
                condition_on_previous_text=False, clip_timestamps=clips, verbose=None)
        raws = [RawSegment(start_s=float(s["start"]), end_s=float(s["end"]), text=str(s["text"]),
                           no_speech_prob=float(s["no_speech_prob"])) for s in result["segments"]]
        return ChannelResult(raws=raws, language=str(result["language"]), language_probability=None)

    def close(self) -> None:
        self._whisper = None
