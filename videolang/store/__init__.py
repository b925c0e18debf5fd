"""The feature store: per video and key the array (or transcript), its timestamps, fps,
model name and config fingerprint, plus a manifest of what is done and what failed.

    store = FeatureStore(cfg.paths.feature_dir)
    rec = store.read("abc123", "visual")      # rec.array (T, 768) float16, rec.timestamps, rec.fps
    speech = store.read("abc123", "speech")   # speech.segments: {"text", "start", "end", "words", "language"}
"""
from videolang.store.record import FeatureRecord, empty_transcript, fingerprint_of
from videolang.store.store import FeatureStore

__all__ = ["FeatureRecord", "FeatureStore", "empty_transcript", "fingerprint_of"]
