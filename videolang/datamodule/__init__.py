"""Lightning data modules over the task files and the feature store.

- `sources`: where a video's frames and transcript come from (the feature store, or memory).
- `vid2seq`: items, collate/masking, the epoch-seeded sampler and `Vid2SeqDataModule`.
"""
from videolang.datamodule.sources import FeatureSource, MemoryFeatures, StoreFeatures, VideoFeatures
from videolang.datamodule.vid2seq import Vid2SeqCollator, Vid2SeqDataModule, Vid2SeqDataset

__all__ = ["FeatureSource", "MemoryFeatures", "StoreFeatures", "VideoFeatures", "Vid2SeqCollator",
           "Vid2SeqDataModule", "Vid2SeqDataset"]
