"""Lightning data modules over the task files and the feature store.

- `sources`: where a video's frames and transcript come from (the feature store, or memory).
- `streams`: extra per-frame streams (the common-sense rows) and their nearest-timestamp alignment.
- `vid2seq`: items, collate/masking, the epoch-seeded sampler and `Vid2SeqDataModule`.
"""
from videolang.datamodule.sources import FeatureSource, MemoryFeatures, StoreFeatures, VideoFeatures
from videolang.datamodule.streams import RowStream, align_to_frames
from videolang.datamodule.vid2seq import Vid2SeqCollator, Vid2SeqDataModule, Vid2SeqDataset, collator_for

__all__ = ["FeatureSource", "MemoryFeatures", "RowStream", "StoreFeatures", "VideoFeatures", "Vid2SeqCollator",
           "Vid2SeqDataModule", "Vid2SeqDataset", "align_to_frames", "collator_for"]
