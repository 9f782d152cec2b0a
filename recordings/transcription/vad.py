"""A plain energy voice filter for the openai-whisper engine, which has none of its own.

faster-whisper brings Silero VAD; openai-whisper only skips a 30-second window when its own
no-speech score says so, and still writes «Продолжение следует» over a quiet line now and then.
This finds the stretches that are louder than the line's noise floor (30 ms frames, a threshold
12 dB over the quietest tenth of the recording and never under -50 dBFS), joins those less than
half a second apart, pads them, and drops blips under a quarter of a second. A phone line's noise
sits far below speech, so this is enough to keep silence from the model; it is not a speech/music
classifier. Pure numpy.
"""

from __future__ import annotations

import numpy as np

from recordings.transcription.audio import SAMPLE_RATE, FloatArray

FRAME_S = 0.03
FLOOR_DBFS = -50.0
OVER_NOISE_DB = 12.0
JOIN_S = 0.5
PAD_S = 0.2
MIN_SPEECH_S = 0.25


def speech_regions(samples: FloatArray, *, sample_rate: int = SAMPLE_RATE) -> list[tuple[float, float]]:
    """(start, end) seconds of the stretches with a voice, in order, not overlapping."""
    frame = max(1, int(FRAME_S * sample_rate))
    count = len(samples) // frame
    if count == 0:
        return []
    frames = samples[:count * frame].astype(np.float64).reshape(count, frame)
    rms = np.sqrt(np.mean(frames * frames, axis=1))
    db = 20.0 * np.log10(np.maximum(rms, 1e-10))
    threshold = max(FLOOR_DBFS, float(np.percentile(db, 10)) + OVER_NOISE_DB)
    loud = np.flatnonzero(db > threshold)
    if loud.size == 0:
        return []
    regions: list[list[float]] = []
    for index in loud:
        start, end = float(index) * FRAME_S, float(index + 1) * FRAME_S
        if regions and start - regions[-1][1] <= JOIN_S:
            regions[-1][1] = end
        else:
            regions.append([start, end])
    total = len(samples) / sample_rate
    out: list[tuple[float, float]] = []
    for start, end in regions:
        if end - start < MIN_SPEECH_S:
            continue
        start, end = max(0.0, start - PAD_S), min(total, end + PAD_S)
        if out and start <= out[-1][1]:
            out[-1] = (out[-1][0], round(end, 3))
        else:
            out.append((round(start, 3), round(end, 3)))
    return out
