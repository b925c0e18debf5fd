"""The common-sense stream switch (`model.commonsense`), one home for what its options mean.

iPerceive (Chadha et al., 2020) adds a common-sense vector per frame, pooled over the
frame's object regions, to a dense video captioner. Here it is an optional encoder
input of the shared Vid2Seq backbone, chosen in config and read the same way by the
model, the data module and predict:

- `fusion: concat`: each visual frame gets the nearest common-sense row appended
  (iPerceive's captioning fusion); the visual encoder's input width becomes
  `visual_dim + commonsense_dim`.
- `fusion: stream`: the rows get their own encoder (linear projection, learned
  positions, LayerNorm, `layers` transformer layers) and are joined to the encoder
  states next to speech and frames; frames without regions (mask 0) are masked out.

The width is the sibling option `model.commonsense_dim` (like `visual_dim`, null =
read from the features), so `stage=train` fills both the same way.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

FUSIONS = ("concat", "stream")


@dataclass(frozen=True)
class CommonsenseOptions:
    enabled: bool = False
    fusion: str = "concat"          # concat | stream
    key: str = "commonsense"        # the feature-store key (the extractor's key)
    layers: int = 0                 # stream fusion: transformer layers over the rows (0 = projection only)

    def __post_init__(self) -> None:
        if self.fusion not in FUSIONS:
            raise ValueError(f"model.commonsense.fusion is {self.fusion!r}; one of {', '.join(FUSIONS)}")
        if int(self.layers) < 0:
            raise ValueError("model.commonsense.layers must be >= 0")

    @classmethod
    def parse(cls, value: Any) -> "CommonsenseOptions":
        """None (old checkpoints, configs without the block) -> disabled; a dict / DictConfig -> options."""
        if value is None:
            return cls()
        if isinstance(value, cls):
            return value
        if hasattr(value, "items"):
            value = {str(k): v for k, v in value.items()}
        else:
            raise ValueError(f"model.commonsense must be a mapping, got {type(value).__name__}")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(value) - known)
        if unknown:
            hint = " (the width is model.commonsense_dim)" if "dim" in unknown else ""
            raise ValueError(f"unknown model.commonsense option(s) {unknown}; known: {sorted(known)}{hint}")
        return cls(enabled=bool(value.get("enabled", False)), fusion=str(value.get("fusion", "concat")),
                   key=str(value.get("key", "commonsense")), layers=int(value.get("layers", 0)))

    @property
    def active_fusion(self) -> str | None:
        """The fusion when the stream is read, else None (the one value items and batches branch on)."""
        return self.fusion if self.enabled else None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)
