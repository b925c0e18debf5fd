"""The time-token codec (Vid2Seq): one home for quantising times into N bins.

Time t in a video of duration D maps to bin int((N-1) * t / D), and a bin back
to bin * D / (N-1). Tokens are spelled `<time_K>` and appended to a tokenizer's
vocabulary.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TimeTokenCodec:
    num_bins: int = 100

    def token(self, index: int) -> str:
        return f"<time_{index}>"

    @property
    def tokens(self) -> list[str]:
        return [self.token(i) for i in range(self.num_bins)]

    def to_bin(self, t: float, duration: float) -> int:
        if duration <= 0:
            return 0
        t = min(max(t, 0.0), duration)
        return min(self.num_bins - 1, int((self.num_bins - 1) * t / duration))

    def to_time(self, index: int, duration: float) -> float:
        return index * duration / (self.num_bins - 1)

    def encode(self, t: float, duration: float) -> str:
        return self.token(self.to_bin(t, duration))

    def parse(self, token: str) -> int | None:
        """Bin index of a `<time_K>` token, or None when it is not one."""
        if token.startswith("<time_") and token.endswith(">"):
            body = token[6:-1]
            if body.isdigit() and int(body) < self.num_bins:
                return int(body)
        return None
