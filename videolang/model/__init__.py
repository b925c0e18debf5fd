"""The task-agnostic LightningModule over the shared Vid2Seq backbone (`videolang.backbone`), and baselines.

- `module`: `Vid2SeqModule` (training, validation with the evaluate metrics, checkpoints that
  carry their own options and tokenizer).
- `baselines`, `grounding_baselines`: the trivial baselines the learning benchmarks compare against.

The network, its text side, inputs and losses moved to `videolang.backbone`, the learning-rate
schedules to `videolang.training`; the old module paths here still import (with a
`DeprecationWarning`) until the next release.
"""
