"""Title language detection with lingua (built once per process, on first use).

Detection runs on a video's chapter titles joined together: one title is often
a single word ("Intro") that no detector can place, the whole list rarely is.
"""
from __future__ import annotations

from functools import lru_cache

from videolang.core.errors import ConfigError

UNDETERMINED = "und"
CONFIDENCE_DIGITS = 6


@lru_cache(maxsize=4)
def _detector(languages: tuple[str, ...] | None):
    from lingua import IsoCode639_1, LanguageDetectorBuilder

    if not languages:
        return LanguageDetectorBuilder.from_all_languages().build()
    codes = []
    for code in languages:
        try:
            codes.append(getattr(IsoCode639_1, code.upper()))
        except AttributeError:
            raise ConfigError(f"unknown ISO 639-1 language code '{code}' in language.restrict_to") from None
    if len(codes) < 2:
        raise ConfigError("language.restrict_to needs at least two languages (or null for all)")
    return LanguageDetectorBuilder.from_iso_codes_639_1(*codes).build()


def detect_language(titles: list[str], restrict_to: list[str] | None = None) -> tuple[str, float]:
    """(ISO 639-1 code, confidence in [0, 1]) of the joined titles; ("und", 0.0) when nothing fits."""
    text = ". ".join(t for t in titles if t)
    if not any(c.isalpha() for c in text):
        return UNDETERMINED, 0.0
    detector = _detector(tuple(sorted(restrict_to)) if restrict_to else None)
    values = detector.compute_language_confidence_values(text)
    if not values:
        return UNDETERMINED, 0.0
    best = values[0]
    # rounded: lingua's sums differ in the last digits from run to run, and a rebuild must be byte-identical
    return best.language.iso_code_639_1.name.lower(), round(float(best.value), CONFIDENCE_DIGITS)
