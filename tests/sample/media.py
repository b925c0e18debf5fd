"""Small media readers for the sample-corpus tests: decord for frames, PyAV for audio."""
from __future__ import annotations

from pathlib import Path

import av
import numpy as np


def hex_rgb(colour: str) -> np.ndarray:
    return np.array([int(colour[i: i + 2], 16) for i in (1, 3, 5)], dtype=np.float64)


def decode_audio(path: Path) -> tuple[np.ndarray, int]:
    """The first audio stream as mono float32 samples and its sample rate."""
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        chunks = [frame.to_ndarray().reshape(frame.layout.nb_channels if frame.format.is_planar else 1, -1)
                  for frame in container.decode(stream)]
        rate = stream.rate
    samples = np.concatenate(chunks, axis=1).astype(np.float32)
    return samples.mean(axis=0), rate


def rms(samples: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(samples, dtype=np.float64)))) if samples.size else 0.0


def vidchapters_oracle(description: str) -> list[tuple[int, str]]:
    """An independent reading of the VidChapters rules (docs: shared field notes, section 2)."""
    import re

    patterns = [(r"\d{2}:\d{2}:\d{2}", 3), (r"\d:\d{2}:\d{2}", 3), (r"\d{2}:\d{2}", 2), (r"\d:\d{2}", 2)]
    chapters = []
    for line in description.splitlines():
        line = re.sub(r"http\S+", "", line)
        if not re.search(r"\d:\d\d", line):
            continue
        if re.search(r"\d{3}:|:\d{3}", line) or re.search(r"\d\d:\d\d:\d\d:\d\d", line):
            continue
        for pattern, _ in patterns:
            match = re.search(pattern, line)
            if match:
                break
        parts = [int(x) for x in match.group().split(":")]
        seconds = sum(v * 60 ** i for i, v in enumerate(reversed(parts)))
        title = re.sub(r"^[\W_]+|[\W_]+$", "", line[: match.start()] + line[match.end():])
        if title:
            chapters.append((seconds, title))
    return chapters
