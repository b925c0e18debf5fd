"""Lightning data modules over the task files and the feature store.

- `vid2seq`: items, collate/masking and `Vid2SeqDataModule`.
- `synthetic`: learnable in-memory videos for tests and benchmarks.

Where a video's features come from (`FeatureSource`, `StoreFeatures`, `VideoFeatures`, ...) and
the common-sense rows (`RowStream`, `align_to_frames`) moved to `videolang.backbone.sources` and
`videolang.backbone.streams`; `from videolang.datamodule import StoreFeatures` still works (with a
`DeprecationWarning`) until the next release.
"""
from videolang.backbone import sources as _sources
from videolang.backbone import streams as _streams
from videolang.core.deprecation import moved_names
from videolang.datamodule.vid2seq import Vid2SeqCollator, Vid2SeqDataModule, Vid2SeqDataset, collator_for

__getattr__ = moved_names(__name__, {
    **{name: _sources for name in ("FeatureSource", "MemoryFeatures", "StoreFeatures", "VideoFeatures")},
    **{name: _streams for name in ("RowStream", "align_to_frames")},
})

__all__ = ["Vid2SeqCollator", "Vid2SeqDataModule", "Vid2SeqDataset", "collator_for"]
