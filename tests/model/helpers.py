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


class Killed(Exception):
    """What `KillAfterEpoch` raises: the test's stand-in for kill -9."""


class KillAfterEpoch(L.Callback):
    """Ends the process's fit abruptly once epoch `epoch` is over and its checkpoints are on disk.

    Raised from `on_train_epoch_end`, which Lightning calls after the epoch's validation and after every
    checkpoint callback's `on_validation_end` has written its files: the files left are those a kill -9
    at that moment leaves (Lightning writes nothing more on an exception unless an `OnExceptionCheckpoint`
    callback is configured, and none is), which is all a resume reads."""

    def __init__(self, epoch: int = 0):
        self.epoch = epoch

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.current_epoch >= self.epoch:
            raise Killed(f"killed after epoch {trainer.current_epoch}")


# ---- stand-in extractors: what `stage=predict` rebuilds from a checkpoint's feature descriptions
from videolang.extract.base import Extractor  # noqa: E402


class FakeFrames(Extractor):
    """A frames extractor that is never run (build_encoder tests only build the Encoder)."""

    input = "frames"


class FakeRegions(FakeFrames):
    pass


class FakeCommonsense(Extractor):
    """Reads the `regions` state, like the real common-sense extractor."""

    input = None
    requires = ("regions",)


def extract_sample_videos(sample_corpus, videos: list[dict], model_dir, root) -> list[str]:
    """Tiny-zoo frames and transcripts of these sample videos into `root/features` (stage=extract,
    extractor=tiny without the audio keys); returns the path overrides that point a stage at them."""
    from tests.conftest import compose_config
    from videolang.run import EXIT_OK, run_stage

    listing = root / "videos.txt"
    listing.write_text("".join(f"{sample_corpus / v['files']['video']}\n" for v in videos))
    common = [f"paths.model_dir={model_dir}", f"paths.feature_dir={root / 'features'}",
              f"paths.data_dir={root / 'data'}"]
    cfg = compose_config(["stage=extract", "extractor=tiny", f"videos={listing}", "~extractor.extractors.audio",
                          "~extractor.extractors.audio_mel", *common], root / "extract")
    assert run_stage(cfg) == EXIT_OK
    return common
