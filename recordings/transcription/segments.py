"""From an engine's raw segments to ours: the silence guards, the speakers, one time line.

Whisper was trained on subtitled video, so on silence, line noise or music it tends to write what
subtitles say there: «Продолжение следует», «Субтитры сделал DimaTorzok», "Thank you for watching".
The voice filter keeps most silence from the model; these guards catch what gets through: a segment
the model itself rates as probably no speech (`no_speech_prob` at or above the guard, default 0.8;
real speech scores under 0.2 on our samples), and a segment whose whole text is one of those known
subtitle phrases, which no customer says as a whole sentence. Pure functions, no engine.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from recordings.transcription.transcript import Segment, Speaker

#: Drop a segment whose no-speech probability is at least this.
DEFAULT_NO_SPEECH_GUARD = 0.8

#: Texts Whisper writes over silence, normalised by `_key` (lower case, letters and digits only).
HALLUCINATIONS = frozenset({
    "продолжение следует",
    "субтитры сделал dimatorzok",
    "субтитры создавал dimatorzok",
    "субтитры подготовлены dimatorzok",
    "редактор субтитров а синецкая корректор а егорова",
    "спасибо за просмотр",
    "спасибо за внимание",
    "thank you for watching",
    "thanks for watching",
    "subtitles by the amaraorg community",
    "you",
})

_NOT_WORD = re.compile(r"[^\w]+")


@dataclass(frozen=True)
class RawSegment:
    """A segment as an engine gives it, before the guards."""

    start_s: float
    end_s: float
    text: str
    no_speech_prob: float


def _key(text: str) -> str:
    return " ".join(_NOT_WORD.sub(" ", text.lower().replace("ё", "е")).split())


def is_hallucination(text: str) -> bool:
    """Whether the whole text is a phrase Whisper writes over silence."""
    return _key(text) in HALLUCINATIONS


def keep(raw: RawSegment, *, no_speech_guard: float = DEFAULT_NO_SPEECH_GUARD) -> bool:
    """Whether a raw segment is speech worth keeping."""
    text = raw.text.strip()
    return bool(text) and raw.no_speech_prob < no_speech_guard and not is_hallucination(text)


def to_segments(raws: Iterable[RawSegment], *, duration_s: float, speaker: Speaker | None = None,
                no_speech_guard: float = DEFAULT_NO_SPEECH_GUARD) -> list[Segment]:
    """Our segments from an engine's: guarded, trimmed text, times clamped into the audio (an engine
    may round the last end past it), never ending before they start."""
    out: list[Segment] = []
    for raw in raws:
        if not keep(raw, no_speech_guard=no_speech_guard):
            continue
        start = min(max(raw.start_s, 0.0), duration_s)
        end = min(max(raw.end_s, start), duration_s)
        out.append(Segment(start_s=round(start, 3), end_s=round(end, 3), text=raw.text.strip(), speaker=speaker))
    return out


def speakers_of(operator_channel: int) -> tuple[Speaker, Speaker]:
    """The speaker of channel 0 and of channel 1 when `operator_channel` is the operator's."""
    if operator_channel == 0:
        return ("operator", "customer")
    if operator_channel == 1:
        return ("customer", "operator")
    raise ValueError(f"operator_channel must be 0 or 1, not {operator_channel!r}")


def merge_by_time(channels: Sequence[Sequence[Segment]]) -> tuple[Segment, ...]:
    """Segments of several channels as one conversation: by start time, then end, then channel order."""
    indexed = [(seg.start_s, seg.end_s, i, n, seg) for i, segs in enumerate(channels) for n, seg in enumerate(segs)]
    return tuple(item[4] for item in sorted(indexed, key=lambda item: item[:4]))
