"""Feature extraction from raw video: extractors, and the single `encode_video` path (decoding: `videolang.media`).

    from videolang.extract import Encoder, encode_video
    records = encode_video("talk.mp4", cfg)           # cfg: a run config or its `extractor` group
    records["visual"].array      # (T, 768) float16 CLIP embeddings at records["visual"].timestamps
    records["speech"].segments   # {"text", "start", "end", "words", "language"}

`stage=extract` runs the same `Encoder` over many videos into a `videolang.store.FeatureStore`.
"""
from videolang.extract.encoder import Encoder, VideoResult, encode_video
from videolang.extract.sources import VideoItem, list_videos, shard
from videolang.store.record import FeatureRecord

__all__ = ["Encoder", "FeatureRecord", "VideoItem", "VideoResult", "encode_video", "list_videos", "shard"]
