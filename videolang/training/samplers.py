"""Training samplers whose order depends only on (seed, epoch): a resumed run sees what an unbroken one saw.

- `EpochSeededSampler`: a permutation of the whole dataset per epoch.
- `MixedTaskSampler`: multi-task training; per epoch it draws items of each task in the
  configured proportions (`ratio`), each task's items in a fresh permutation (repeated
  when a task needs more items than it has), then shuffles all draws together.

Lightning calls `set_epoch` at the start of every training epoch.
"""
from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence

import numpy as np
import torch
from torch.utils.data import Sampler


class EpochSeededSampler(Sampler[int]):
    """Shuffles with a generator seeded by (seed, epoch)."""

    def __init__(self, size: int, seed: int = 0, shuffle: bool = True):
        self.size, self.seed, self.shuffle, self.epoch = size, int(seed), shuffle, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __iter__(self) -> Iterator[int]:
        if not self.shuffle:
            return iter(range(self.size))
        gen = torch.Generator().manual_seed(self.seed * 100_003 + self.epoch)
        return iter(torch.randperm(self.size, generator=gen).tolist())

    def __len__(self) -> int:
        return self.size


def task_counts(sizes: Mapping[str, int], ratio: Mapping[str, float], total: int) -> dict[str, int]:
    """Items per task in an epoch of `total`: proportional to `ratio` over tasks that have items
    (largest remainders, ties to the earlier task), so the counts add up to `total`."""
    names = [n for n in sizes if sizes[n] > 0 and ratio.get(n, 1.0) > 0]
    if not names:
        return {n: 0 for n in sizes}
    w = np.array([float(ratio.get(n, 1.0)) for n in names])
    exact = total * w / w.sum()
    counts = np.floor(exact).astype(int)
    for i in np.argsort(-(exact - counts), kind="stable")[: total - int(counts.sum())]:
        counts[i] += 1
    return {n: int(counts[names.index(n)]) if n in names else 0 for n in sizes}


class MixedTaskSampler(Sampler[int]):
    """Dataset indices drawn per task in the proportions of `ratio`; `groups` maps task -> its indices."""

    def __init__(self, groups: Mapping[str, Sequence[int]], ratio: Mapping[str, float], seed: int = 0,
                 epoch_size: int | None = None):
        self.groups = {n: list(ix) for n, ix in groups.items()}
        self.ratio, self.seed, self.epoch = dict(ratio), int(seed), 0
        self.size = int(epoch_size) if epoch_size else sum(len(ix) for ix in self.groups.values())
        self.counts = task_counts({n: len(ix) for n, ix in self.groups.items()}, self.ratio, self.size)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __iter__(self) -> Iterator[int]:
        gen = torch.Generator().manual_seed(self.seed * 100_003 + self.epoch)
        drawn: list[int] = []
        for name, indices in self.groups.items():
            need = self.counts[name]
            while need > 0:
                perm = torch.randperm(len(indices), generator=gen).tolist()[:need]
                drawn += [indices[i] for i in perm]
                need -= len(perm)
        order = torch.randperm(len(drawn), generator=gen).tolist()
        return iter([drawn[i] for i in order])

    def __len__(self) -> int:
        return sum(self.counts.values())
