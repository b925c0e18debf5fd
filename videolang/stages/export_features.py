"""`stage=export_features`: one key of the feature store written out in a published layout.

    python -m videolang.run stage=export_features format=vidchapters_npy path=out/clipvitl14_features
    python -m videolang.run stage=export_features format=vidchapters_pth path=out/clipvitl14.pth
    python -m videolang.run stage=export_features format=vidchapters_asr path=out/asr.json stage.key=speech

The layouts `stage=import_features` reads (`videolang.store.published`): VidChapters' per-video
`<vid>.mp4.npy` and gathered `.pth`, Moment-DETR's `<vid>.npz` (`features`), video_features'
`<stem>_<feature>.npy` with `_timestamps_ms.npy` and `_fps.npy`, plain `<vid>.npy`, and transcripts as
VidChapters' `{vid: {text, start, end}}` (JSON, never pickle). Every file is written atomically.
"""
from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

from omegaconf import DictConfig

from videolang.core.errors import ConfigError
from videolang.stages import StageResult
from videolang.store import FeatureRecord, FeatureStore
from videolang.store.published import DEFAULTS, safe_feature_name, write_published

log = logging.getLogger(__name__)


def run(cfg: DictConfig) -> StageResult:
    st = cfg.stage
    fmt, out = str(cfg.format), Path(str(cfg.path))
    if fmt not in DEFAULTS:
        raise ConfigError(f"format={fmt!r}: known formats are {', '.join(DEFAULTS)}")
    key = str(st.key or ("speech" if fmt == "vidchapters_asr" else "visual"))
    store = FeatureStore(st.store)
    fingerprint = store.resolve_fingerprint(key, st.get("fingerprint"))
    ids = store.video_ids(key, fingerprint)

    def records() -> Iterator[tuple[str, FeatureRecord]]:
        for vid in ids:
            yield vid, store.read(vid, key, fingerprint)

    written = write_published(fmt, out, records(), feature=safe_feature_name(str(st.feature)),
                              npz_key=str(st.npz_key))
    log.info("export_features: %d video(s) of %s/%s -> %s (%s)", written["videos"], key, fingerprint, out, fmt)
    return StageResult({"format": fmt, "path": str(out), "key": key, "fingerprint": fingerprint, **written})
