"""Training plumbing that both LightningModules share (the Vid2Seq model and the common-sense module).

- `schedule`: optimisers and learning-rate schedules from config partials (`optimizers_for`; linear
  warm-up, then cosine, linear or constant).
- `samplers`: training orders that depend only on (seed, epoch), so a resumed run sees what an
  unbroken one saw (`EpochSeededSampler`; `MixedTaskSampler` for task mixes).

Modules are imported explicitly; this package imports nothing heavy.
"""
