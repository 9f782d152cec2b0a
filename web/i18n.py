"""Russian and English UI text: one JSON catalogue per language, Russian by default.

Keys are short English phrases; a key missing from a catalogue falls back to English,
then to the key itself, so a forgotten translation shows text rather than an error.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources

LOCALES = ("ru", "en")


@dataclass(frozen=True)
class Catalogues:
    texts: dict[str, dict[str, str]]

    @classmethod
    def load(cls) -> Catalogues:
        folder = resources.files("web") / "locales"
        return cls({loc: json.loads((folder / f"{loc}.json").read_text(encoding="utf-8")) for loc in LOCALES})

    def gettext(self, locale: str, key: str) -> str:
        catalogue = self.texts.get(locale, {})
        return catalogue.get(key) or self.texts["en"].get(key) or key
