"""Test-only pieces that configs can name by `_target_`."""
from __future__ import annotations

import lightning as L


class StopAfterEpochs(L.Callback):
    """Simulates an interrupted run: stops cleanly after `epochs` epochs, whatever max_epochs says."""

    def __init__(self, epochs: int = 1):
        self.epochs = epochs

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.current_epoch + 1 >= self.epochs:
            trainer.should_stop = True
