"""Settings of speech-to-text. Only the composition root reads the environment to fill them."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

ENGINES = ("faster-whisper", "openai-whisper")
DEVICES = ("cpu", "cuda")
_LANGUAGE = re.compile(r"auto|[a-z]{2,3}")


@dataclass(frozen=True)
class TranscriptionSettings:
    enabled: bool = field(
        default=True,
        metadata={"env": "PEREZVON_TRANSCRIBE",
                  "help": "Transcribe every registered recording (1) or not (0). On, it needs the engine's extra "
                          "(pip install 'perezvon[transcribe]'); without it a warning is logged and nothing is "
                          "queued."})
    engine: str = field(
        default="faster-whisper",
        metadata={"env": "PEREZVON_TRANSCRIBE_ENGINE",
                  "help": "Speech-to-text engine: faster-whisper (CTranslate2, int8 on CPU; the default) or "
                          "openai-whisper (PyTorch, for GPU machines with .pt checkpoints)."})
    model: str = field(
        default="base",
        metadata={"env": "PEREZVON_TRANSCRIBE_MODEL",
                  "help": "The model: 'base' is the bundled multilingual Whisper base (faster-whisper); or a "
                          "path (a CTranslate2 model directory for faster-whisper, a .pt checkpoint for "
                          "openai-whisper); or a model name already in the engine's local cache. Nothing is "
                          "ever downloaded."})
    language: str = field(
        default="ru",
        metadata={"env": "PEREZVON_TRANSCRIBE_LANGUAGE",
                  "help": "Language of the calls: ru, en (any Whisper language code), or auto to detect it "
                          "per recording."})
    device: str = field(
        default="cpu",
        metadata={"env": "PEREZVON_TRANSCRIBE_DEVICE", "help": "Where the model runs: cpu or cuda."})
    compute_type: str = field(
        default="int8",
        metadata={"env": "PEREZVON_TRANSCRIBE_COMPUTE_TYPE",
                  "help": "faster-whisper's number format: int8 (the CPU default), float16 or int8_float16 "
                          "(GPU), float32."})
    threads: int = field(
        default=0,
        metadata={"env": "PEREZVON_TRANSCRIBE_THREADS",
                  "help": "CPU threads one transcription uses; 0: every core this process may run on."})
    beam_size: int = field(
        default=5,
        metadata={"env": "PEREZVON_TRANSCRIBE_BEAM_SIZE",
                  "help": "Beam search width (1: greedy, faster, a little less accurate)."})
    model_cache_dir: Path | None = field(
        default=None,
        metadata={"env": "PEREZVON_TRANSCRIBE_MODEL_CACHE",
                  "help": "Where the bundled model is assembled once (about 145 MB); empty: models/ in the "
                          "data directory."})

    def problems(self) -> list[str]:
        """What is wrong with these values, each naming its variable (empty when usable)."""
        out: list[str] = []
        if self.engine not in ENGINES:
            out.append(f"PEREZVON_TRANSCRIBE_ENGINE: expected one of {', '.join(ENGINES)}")
        if self.device not in DEVICES:
            out.append(f"PEREZVON_TRANSCRIBE_DEVICE: expected one of {', '.join(DEVICES)}")
        if not _LANGUAGE.fullmatch(self.language):
            out.append("PEREZVON_TRANSCRIBE_LANGUAGE: expected auto or a language code such as ru or en")
        if self.threads < 0:
            out.append("PEREZVON_TRANSCRIBE_THREADS: expected 0 or more")
        if self.beam_size < 1:
            out.append("PEREZVON_TRANSCRIBE_BEAM_SIZE: expected 1 or more")
        if not self.model.strip():
            out.append("PEREZVON_TRANSCRIBE_MODEL: must not be empty")
        return out
