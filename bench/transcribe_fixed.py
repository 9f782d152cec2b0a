"""The equal-work comparison of `bench/transcribe.py`: one encoder pass plus N greedy decoder steps per
30-second window, on faster-whisper (CTranslate2) and on openai-whisper (PyTorch), same audio, same N.

openai-whisper can only be given a randomly initialised checkpoint here (no released ``.pt`` installs
offline), and a random model writes garbage: its full transcription would loop through every
temperature of the fallback and stop at random lengths, so its time says nothing. What both engines do
per window regardless of the weights is the encoder over the window's 3,000 mel frames and one decoder
step per token; here the end-of-text token is suppressed on both, so each runs exactly N steps. The
architecture is the same (Whisper base: 6+6 layers, width 512, 8 heads, the multilingual vocabulary), so
the figures compare the two runtimes on the same work. faster-whisper runs the real bundled model.
"""

from __future__ import annotations

import importlib
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from recordings.transcription.audio import FloatArray
from recordings.transcription.openai_whisper_engine import load_checkpoint

#: Whisper base's shape (as in OpenAI's base.pt).
BASE_DIMS = {"n_mels": 80, "n_audio_ctx": 1500, "n_audio_state": 512, "n_audio_head": 8, "n_audio_layer": 6,
             "n_vocab": 51865, "n_text_ctx": 448, "n_text_state": 512, "n_text_head": 8, "n_text_layer": 6}
#: A tiny multilingual Whisper for tests: one layer each side, width 64, a short text context.
TINY_DIMS = {**BASE_DIMS, "n_audio_state": 64, "n_audio_head": 2, "n_audio_layer": 1, "n_text_ctx": 32,
             "n_text_state": 64, "n_text_head": 2, "n_text_layer": 1}
WINDOW_FRAMES = 3000  # 30 s of mel frames


def write_random_checkpoint(path: Path, dims: dict[str, int] = BASE_DIMS, *, seed: int = 0) -> Path:
    """Save a randomly initialised Whisper of shape `dims` as OpenAI saves theirs (``{"dims", "model_state_dict"}``).

    openai-whisper creates the decoder's positional embedding with ``torch.empty`` (a checkpoint always
    overwrites it), so it is filled here: uninitialised memory gives NaN logits and a model that never runs.
    """
    torch: Any = importlib.import_module("torch")
    model_module: Any = importlib.import_module("whisper.model")
    torch.manual_seed(seed)
    model_dims = model_module.ModelDimensions(**dims)
    model = model_module.Whisper(model_dims)
    torch.nn.init.normal_(model.decoder.positional_embedding, std=0.01)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"dims": model_dims.__dict__, "model_state_dict": model.state_dict()}, path)
    return path


@dataclass(frozen=True)
class FixedWork:
    """Per-window medians over the rounds: encoder and decoder time, and the real-time factor."""

    engine: str
    windows: int
    decoder_steps: int
    encoder_ms: float
    decoder_ms: float
    rtf: float

    @property
    def decoder_step_ms(self) -> float:
        return self.decoder_ms / self.decoder_steps

    def as_dict(self) -> dict[str, Any]:
        return {"engine": self.engine, "windows": self.windows, "decoder_steps": self.decoder_steps,
                "encoder_ms": round(self.encoder_ms, 1), "decoder_ms": round(self.decoder_ms, 1),
                "decoder_step_ms": round(self.decoder_step_ms, 2), "rtf": round(self.rtf, 4)}


def _summarise(engine: str, rounds: list[list[tuple[float, float]]], durations: Sequence[float],
               steps: int) -> FixedWork:
    """`rounds`: per round, per window, (encoder s, decoder s)."""
    totals = [sum(e + d for e, d in windows) for windows in rounds]
    encoder = statistics.median(e for windows in rounds for e, _ in windows)
    decoder = statistics.median(d for windows in rounds for _, d in windows)
    return FixedWork(engine=engine, windows=len(durations), decoder_steps=steps, encoder_ms=encoder * 1000,
                     decoder_ms=decoder * 1000, rtf=statistics.median(totals) / sum(durations))


def faster_whisper_fixed(backend: Any, audios: Sequence[FloatArray], *, steps: int, rounds: int,
                         language: str = "ru") -> FixedWork:
    """Encoder + `steps` greedy steps per window on faster-whisper's loaded model
    (``FasterWhisperTranscriber.backend``)."""
    ct2: Any = importlib.import_module("ctranslate2")
    fw_audio: Any = importlib.import_module("faster_whisper.audio")
    fw_tokenizer: Any = importlib.import_module("faster_whisper.tokenizer")
    tokenizer = fw_tokenizer.Tokenizer(backend.hf_tokenizer, True, task="transcribe", language=language)
    prompt = [*tokenizer.sot_sequence, tokenizer.no_timestamps]
    results: list[list[tuple[float, float]]] = []
    for _ in range(rounds):
        windows = []
        for audio in audios:
            started = time.perf_counter()
            mel = fw_audio.pad_or_trim(backend.feature_extractor(audio), WINDOW_FRAMES)
            encoded = backend.model.encode(ct2.StorageView.from_array(np.ascontiguousarray(mel[None])), to_cpu=False)
            encoded_at = time.perf_counter()
            # CTranslate2 counts max_length in its own units: ask for twice and check what came out.
            out = backend.model.generate(encoded, [prompt], beam_size=1, max_length=2 * steps,
                                         suppress_tokens=[-1, tokenizer.eot], suppress_blank=False)
            finished = time.perf_counter()
            made = len(out[0].sequences_ids[0])
            if made != steps:
                raise RuntimeError(f"CTranslate2 made {made} tokens, not {steps}")
            windows.append((encoded_at - started, finished - encoded_at))
        results.append(windows)
    return _summarise("faster-whisper", results, [len(a) / 16000 for a in audios], steps)


def openai_whisper_fixed(checkpoint: Path, audios: Sequence[FloatArray], *, steps: int, rounds: int,
                         device: str = "cpu", threads: int = 1, language: str = "ru") -> FixedWork:
    """Encoder + `steps` greedy steps per window on openai-whisper, the checkpoint loaded as the engine loads it."""
    torch: Any = importlib.import_module("torch")
    whisper: Any = importlib.import_module("whisper")
    if device == "cpu":
        torch.set_num_threads(threads)
    model = load_checkpoint(checkpoint, device=device)
    eot = whisper.tokenizer.get_tokenizer(model.is_multilingual, num_languages=model.num_languages).eot
    options = whisper.DecodingOptions(language=language, without_timestamps=True, sample_len=steps,
                                      suppress_tokens=[-1, eot], fp16=device == "cuda")

    def sync() -> None:
        if device == "cuda":
            torch.cuda.synchronize()

    results: list[list[tuple[float, float]]] = []
    with torch.inference_mode():
        for _ in range(rounds):
            windows = []
            for audio in audios:
                sync()
                started = time.perf_counter()
                window = whisper.pad_or_trim(torch.from_numpy(audio))
                mel = whisper.log_mel_spectrogram(window, n_mels=model.dims.n_mels)
                mel = mel.to(model.device)
                features = model.embed_audio(mel[None].half() if device == "cuda" else mel[None])
                sync()
                encoded_at = time.perf_counter()
                # whisper.decode takes the encoder output as is (its shape says it is one), so only the decoder runs.
                result = whisper.decode(model, features[0], options)
                sync()
                finished = time.perf_counter()
                if len(result.tokens) != steps:
                    raise RuntimeError(f"openai-whisper made {len(result.tokens)} tokens, not {steps}")
                windows.append((encoded_at - started, finished - encoded_at))
            results.append(windows)
    del model
    return _summarise("openai-whisper", results, [len(a) / 16000 for a in audios], steps)
